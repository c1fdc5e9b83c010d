package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan/notion/notiontest"
	"github.com/trackplan/trackplan/planfile"
	"github.com/trackplan/trackplan/templates"
)

// TestPlanImportCommand runs the CLI's round trip for every format: a
// template written by plan init, exported, imported back into a file that
// plan lint passes (weights are not exported, so it warns of no scored events), with the defaults stated on standard error.
func TestPlanImportCommand(t *testing.T) {
	dir := t.TempDir()
	plan := filepath.Join(dir, "shop.yaml")
	if code, _, stderr := trackplanRun(t, "plan", "init", "--template", "ecommerce", "--out", plan); code != 0 {
		t.Fatalf("plan init: %d %s", code, stderr)
	}
	for _, tc := range []struct {
		format, from string
		outs         []string
	}{
		{"jsonschema", "jsonschema", []string{"schema.json"}},
		{"segment", "segment", []string{"segment.json"}},
		{"rudderstack", "rudderstack", []string{"rudder"}},
		{"amplitude-csv", "amplitude", []string{"events.csv"}},
	} {
		t.Run(tc.from, func(t *testing.T) {
			out := filepath.Join(dir, tc.outs[0])
			if code, _, stderr := trackplanRun(t, "--plan", plan, "plan", "export", "--format", tc.format, "--out", out); code != 0 {
				t.Fatalf("plan export: %d %s", code, stderr)
			}
			imported := filepath.Join(dir, tc.from+".imported.yaml")
			code, stdout, stderr := trackplanRun(t, "plan", "import", "--from", tc.from, "--owner", "shop@example.com", "--out", imported, out)
			if code != 0 {
				t.Fatalf("plan import: %d %s", code, stderr)
			}
			if !strings.Contains(stdout, "wrote "+imported) || !strings.Contains(stderr, "default: status planned") || !strings.Contains(stderr, "default: owner shop@example.com") {
				t.Errorf("stdout %q, stderr %q", stdout, stderr)
			}
			if code, _, stderr := trackplanRun(t, "plan", "lint", imported); code != 0 {
				t.Errorf("plan lint of the imported plan: %d %s", code, stderr)
			}
			if code, _, stderr := trackplanRun(t, "plan", "import", "--from", tc.from, "--out", imported, out); code != exitUsage || !strings.Contains(stderr, "exists") {
				t.Errorf("import over an existing file: exit %d %s", code, stderr)
			}
		})
	}
}

// TestPlanImportBadInput: one line per problem, with file and line, exit 2.
func TestPlanImportBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(bad, []byte("{\"rules\": [\n  {\"key\": \"A\", \"type\": \"TRACK\", \"version\": 1, \"jsonSchema\": {\"properties\": {\"properties\": {\"properties\": {\"x\": {\"type\": \"text\"}}}}}},\n  {\"key\": \"A\", \"type\": \"TRACK\", \"version\": 1, \"jsonSchema\": {}}\n]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := trackplanRun(t, "plan", "import", "--from", "segment", bad)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d: %s", code, exitUsage, stderr)
	}
	for _, want := range []string{
		bad + `:3: $.rules[1]: duplicate TRACK rule "A" version 1 (also at line 2)`,
		bad + `:2: $.rules[0].jsonSchema.properties.properties.properties.x.type: unknown type "text"`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, args := range [][]string{
		{"plan", "import", bad},
		{"plan", "import", "--from", "avo", bad},
		{"plan", "import", "--from", "segment"},
		{"plan", "import", "--from", "segment", "--to", "https://notion.so/x", bad},
		{"plan", "import", "--from", "segment", filepath.Join(dir, "missing.json")},
	} {
		if code, _, stderr := trackplanRun(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, exitUsage, stderr)
		}
	}
}

// TestPlanInitUnknownTemplate: one line naming every template.
func TestPlanInitUnknownTemplate(t *testing.T) {
	code, _, stderr := trackplanRun(t, "plan", "init", "--template", "crm", "--out", filepath.Join(t.TempDir(), "p.yaml"))
	if code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	want := `unknown template "crm" (have: ` + strings.Join(templates.Names(), ", ") + ")"
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("stderr %q, want one line with %q", stderr, want)
	}
}

// TestPlanImportToNotion imports a RudderStack project straight into a new
// Notion plan (the fake Notion API) and pulls it back.
func TestPlanImportToNotion(t *testing.T) {
	srv := notiontest.New(t, notiontest.Options{})
	t.Setenv("NOTION_TOKEN", notiontest.DefaultToken)
	t.Setenv("TRACKPLAN_NOTION_RATE", "1000")
	url := "--notion-url=" + srv.URL
	src := filepath.Join("..", "..", "planimport", "testdata", "rudderstack")
	code, out, stderr := trackplanRun(t, url, "plan", "import", "--from", "rudderstack", "--to", "notion:"+notiontest.RootPage, src)
	if code != 0 {
		t.Fatalf("plan import --to: %d %s", code, stderr)
	}
	m := regexp.MustCompile(`--plan notion:(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no database id in:\n%s", out)
	}
	code, pulled, stderr := trackplanRun(t, "--plan=notion:"+m[1], url, "plan", "pull")
	if code != 0 {
		t.Fatalf("plan pull: %d %s", code, stderr)
	}
	got, err := planfile.Parse([]byte(pulled), planfile.YAML)
	if err != nil {
		t.Fatal(err)
	}
	want, err := planfile.Load(filepath.Join("..", "..", "planimport", "testdata", "want", "rudderstack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range want.Events {
		e.Owner = "" // the golden was imported with --owner
	}
	if diff := cmp.Diff(sortedPlan(want), sortedPlan(got)); diff != "" {
		t.Errorf("pulled plan (-imported +pulled):\n%s", diff)
	}
}

// TestPlanInitEveryTemplateNotion: plan init --notion-parent works from
// every template, and plan pull gives the template back.
func TestPlanInitEveryTemplateNotion(t *testing.T) {
	srv := notiontest.New(t, notiontest.Options{})
	t.Setenv("NOTION_TOKEN", notiontest.DefaultToken)
	t.Setenv("TRACKPLAN_NOTION_RATE", "1000")
	url := "--notion-url=" + srv.URL
	for _, name := range templates.Names() {
		t.Run(name, func(t *testing.T) {
			code, out, stderr := trackplanRun(t, url, "plan", "init", "--template", name, "--notion-parent", notiontest.RootPage)
			if code != 0 {
				t.Fatalf("plan init: %d %s", code, stderr)
			}
			m := regexp.MustCompile(`--plan notion:(\S+)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no database id in:\n%s", out)
			}
			code, pulled, stderr := trackplanRun(t, "--plan=notion:"+m[1], url, "plan", "pull")
			if code != 0 {
				t.Fatalf("plan pull: %d %s", code, stderr)
			}
			got, err := planfile.Parse([]byte(pulled), planfile.YAML)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := templates.Plan(name)
			if diff := cmp.Diff(sortedPlan(want), sortedPlan(got)); diff != "" {
				t.Errorf("pulled plan differs from the template (-want +got):\n%s", diff)
			}
		})
	}
}
