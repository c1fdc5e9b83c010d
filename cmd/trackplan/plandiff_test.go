package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/trackplan/trackplan/notion/notiontest"
)

// writePlanDiffFiles writes an old plan and two edits of it: one with a
// breaking change (a property removed), one without (an optional property
// and an enum value added).
func writePlanDiffFiles(t *testing.T) (old, breaking, compatible string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	old = write("old.yaml", `version: 1
events:
  - name: Report Exported
    properties:
      - {name: format, type: string, enum: [csv, pdf]}
      - {name: rows, type: integer}
`)
	breaking = write("breaking.yaml", `version: 1
events:
  - name: Report Exported
    properties:
      - {name: format, type: string, enum: [csv, pdf]}
`)
	compatible = write("compatible.json", `{"version": 1, "events": [{"name": "Report Exported", "properties": [
  {"name": "format", "type": "string", "enum": ["csv", "pdf", "xlsx"]},
  {"name": "rows", "type": "integer"},
  {"name": "columns", "type": "integer"}]}]}`)
	return old, breaking, compatible
}

// TestPlanDiffCommand runs `plan diff` on plan files: the text output, the
// exit codes of --fail-on and the JSON form.
func TestPlanDiffCommand(t *testing.T) {
	old, breaking, compatible := writePlanDiffFiles(t)

	code, out, stderr := trackplanRun(t, "plan", "diff", old, breaking)
	if code != exitOK {
		t.Fatalf("plan diff: exit %d, %s", code, stderr)
	}
	for _, want := range []string{"1 change, 1 breaking", `track "Report Exported"`, "property_removed", "rows"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}

	if code, out, stderr = trackplanRun(t, "plan", "diff", "--fail-on", "breaking", old, breaking); code != exitFindings {
		t.Errorf("--fail-on breaking on a breaking diff: exit %d, want %d\n%s%s", code, exitFindings, out, stderr)
	}
	code, out, stderr = trackplanRun(t, "plan", "diff", "--fail-on", "breaking", "--format", "json", old, compatible)
	if code != exitOK {
		t.Fatalf("--fail-on breaking on a compatible diff: exit %d, want 0\n%s%s", code, out, stderr)
	}
	var got struct {
		Summary struct {
			Changes  int `json:"changes"`
			Breaking int `json:"breaking"`
		} `json:"summary"`
		Changes []struct {
			Kind   string   `json:"kind"`
			Values []string `json:"values"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, out)
	}
	if got.Summary.Changes != 2 || got.Summary.Breaking != 0 {
		t.Errorf("JSON summary %+v, want 2 changes, 0 breaking", got.Summary)
	}

	code, out, _ = trackplanRun(t, "plan", "diff", "--format", "markdown", compatible, old)
	if code != exitOK || !strings.Contains(out, "**2 changes, 2 breaking**") || !strings.Contains(out, "| **breaking** |") {
		t.Errorf("markdown, the other way round: exit %d\n%s", code, out)
	}
}

// TestPlanDiffUsage checks the usage errors of `plan diff`.
func TestPlanDiffUsage(t *testing.T) {
	old, breaking, _ := writePlanDiffFiles(t)
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"no arguments", nil, "not 0 arguments"},
		{"one argument", []string{old}, "not 1 arguments"},
		{"three arguments", []string{old, breaking, old}, "unexpected argument"},
		{"missing file", []string{old, missing}, "new plan: "},
		{"not a plan file", []string{old + ".txt", breaking}, "old plan: "},
		{"bad format", []string{"--format", "junit", old, breaking}, "--format"},
		{"bad fail-on", []string{"--fail-on", "error", old, breaking}, "--fail-on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := trackplanRun(t, append([]string{"plan", "diff"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q\n%s", code, stderr, exitUsage, tc.want, out)
			}
		})
	}
}

// TestPlanDiffNotion diffs a plan kept in the fake Notion against a file.
func TestPlanDiffNotion(t *testing.T) {
	srv := notiontest.New(t, notiontest.Options{})
	t.Setenv("NOTION_TOKEN", notiontest.DefaultToken)
	t.Setenv("TRACKPLAN_NOTION_RATE", "1000")
	url := "--notion-url=" + srv.URL

	code, out, stderr := trackplanRun(t, url, "plan", "init", "--template", "b2b-saas", "--notion-parent", notiontest.RootPage)
	if code != 0 {
		t.Fatalf("plan init: %d %s", code, stderr)
	}
	m := regexp.MustCompile(`--plan notion:(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("plan init did not print the database id:\n%s", out)
	}
	file := filepath.Join(t.TempDir(), "plan.yaml")
	if code, _, stderr := trackplanRun(t, "plan", "init", "--template", "b2b-saas", "--out", file); code != 0 {
		t.Fatal(stderr)
	}
	code, out, stderr = trackplanRun(t, url, "plan", "diff", "--fail-on", "breaking", "notion:"+m[1], file)
	if code != exitOK || !strings.HasPrefix(out, "0 changes, 0 breaking") {
		t.Errorf("the template in Notion against the template in a file: exit %d\n%s%s", code, out, stderr)
	}
}
