package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/codegen"
	"github.com/trackplan/trackplan/codegen/codegentest"
	"github.com/trackplan/trackplan/notion/notiontest"
	"github.com/trackplan/trackplan/planfile"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/templates"
)

// featuresPlanFile is the plan that uses every property feature.
var featuresPlanFile = filepath.Join("..", "..", "codegen", "testdata", "features.yaml")

// TestCodegenEndToEnd generates the code with `trackplan codegen`, sends
// every planned call through it (TypeScript through analytics-node, Go
// through analytics-go) to the collector, and finds every call stored and
// a drift report without a single per-message finding, for the B2B SaaS
// template and the every-feature plan.
func TestCodegenEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs programs; skipped with -short")
	}
	b2b, err := templates.Plan(defaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	features, err := planfile.Load(featuresPlanFile)
	if err != nil {
		t.Fatal(err)
	}
	plans := []struct {
		name string
		file string // --plan; "" for the template
		plan *trackplan.Plan
	}{
		{"b2b-saas", "", b2b},
		{"features", featuresPlanFile, features},
	}
	for _, lang := range []codegen.Lang{codegen.TypeScript, codegen.Go} {
		for _, p := range plans {
			t.Run(string(lang)+"/"+p.name, func(t *testing.T) {
				if lang == codegen.TypeScript {
					codegentest.RequireNode(t)
				}
				codegenEndToEnd(t, lang, p.file, p.plan)
			})
		}
	}
}

func codegenEndToEnd(t *testing.T, lang codegen.Lang, planFile string, plan *trackplan.Plan) {
	db := filepath.Join(t.TempDir(), "codegen.db")
	st, err := sqlite.Open(context.Background(), db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := startServer(serverConfig{
		Listen:  "127.0.0.1:0",
		Sources: []segment.Source{{Name: "app", WriteKey: testKey}},
		Store:   st,
		Plan:    plan,
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		if err := srv.Shutdown(5 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		st.Close()
	}
	t.Cleanup(stop)

	var global []string
	if planFile != "" {
		global = []string{"--plan", planFile}
	}
	out := t.TempDir()
	args := append(append([]string{}, global...), "codegen", "--lang", string(lang), "--out", out, "--runtime-validation")
	if code, stdout, stderr := trackplanRun(t, args...); code != 0 {
		t.Fatalf("codegen: exit %d\n%s%s", code, stdout, stderr)
	}
	opts := codegen.Options{Lang: lang, RuntimeValidation: true}
	env := []string{"SEGMENT_ENDPOINT=http://" + srv.Addr, "SEGMENT_WRITE_KEY=" + testKey}
	var output string
	switch lang {
	case codegen.TypeScript:
		gen := readGenerated(t, out, codegen.TypeScriptFile)
		ex, err := codegen.Exercise(plan, opts, "")
		if err != nil {
			t.Fatal(err)
		}
		dir := codegentest.TSProject(t, gen, ex)
		if out, err := codegentest.TSC(t, dir); err != nil {
			t.Fatalf("tsc: %v\n%s", err, out)
		}
		node, _ := codegentest.RequireNode(t)
		output, err = codegentest.Run(t, dir, env, node, filepath.Join("dist", "exercise.js"))
		if err != nil {
			t.Fatalf("node exercise.js: %v\n%s", err, output)
		}
	case codegen.Go:
		gen := readGenerated(t, out, codegen.GoFile)
		gen.Name = "tracking/" + gen.Name
		ex, err := codegen.Exercise(plan, opts, codegentest.GoModulePath+"/tracking")
		if err != nil {
			t.Fatal(err)
		}
		ex.Name = "cmd/exercise/" + ex.Name
		dir := codegentest.GoModule(t, gen, ex)
		if out, err := codegentest.Go(t, dir, "build", "-o", "exercise", "./cmd/exercise"); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		output, err = codegentest.Run(t, dir, env, filepath.Join(dir, "exercise"))
		if err != nil {
			t.Fatalf("exercise: %v\n%s", err, output)
		}
	}

	// Every call the code offers arrived once.
	want := map[string]int64{}
	for _, e := range plan.Events {
		if e.Status == trackplan.StatusProposed {
			continue
		}
		want[string(e.CallType())+" "+observedName(e)]++
	}
	if !strings.Contains(output, fmt.Sprintf("sent %d calls", len(plan.Events)-proposed(plan))) {
		t.Errorf("the program did not send every call:\n%s", output)
	}
	if err := srv.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	o, err := st.Observed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, e := range o.Events {
		got[string(e.Type)+" "+e.Name] += e.Count
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: stored %d; want %d", k, got[k], n)
		}
	}
	if o.Totals.Messages != int64(len(plan.Events)-proposed(plan)) {
		t.Errorf("stored %d messages; sent %d", o.Totals.Messages, len(plan.Events)-proposed(plan))
	}
	stop()

	args = append(append([]string{"--db", db}, global...), "drift", "--format", "json", "--fail-on", "error")
	code, stdout, stderr := trackplanRun(t, args...)
	if code != 0 {
		t.Errorf("drift: exit %d (an error finding)\n%s%s", code, stdout, stderr)
	}
	var rep struct {
		Findings []trackplan.Finding
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("drift json: %v\n%s", err, stdout)
	}
	for _, f := range rep.Findings {
		switch f.Code {
		case trackplan.UnplannedEvent, trackplan.UnplannedProperty, trackplan.RequiredMissing, trackplan.TypeMismatch,
			trackplan.NullNotAllowed, trackplan.EnumViolation, trackplan.PatternViolation, trackplan.RangeViolation,
			trackplan.InvalidMessage, trackplan.PlannedNotSeen, trackplan.TypeInconsistent:
			t.Errorf("drift: %s %s %s: expected %s, observed %s", f.Code, f.Event, f.Path, f.Expected, f.Observed)
		}
		if f.Severity == trackplan.SeverityError {
			t.Errorf("drift error: %+v", f)
		}
	}
}

// observedName is the name a planned call is observed under.
func observedName(e *trackplan.Event) string {
	switch e.CallType() {
	case trackplan.Identify, trackplan.Group:
		return string(e.CallType())
	case trackplan.Page:
		return trackplan.PageViewed
	case trackplan.Screen:
		return trackplan.ScreenViewed
	}
	return e.Name
}

func proposed(p *trackplan.Plan) int {
	n := 0
	for _, e := range p.Events {
		if e.Status == trackplan.StatusProposed {
			n++
		}
	}
	return n
}

func readGenerated(t *testing.T, dir, name string) codegen.File {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return codegen.File{Name: name, Data: data}
}

// TestCodegenCheck runs `codegen --check` the way CI would: 0 right after
// generating (from the same plan at another path too: the header is not
// compared), 1 with a diff naming the change after the plan is edited, 0
// again after regenerating; and usage errors exit 2.
func TestCodegenCheck(t *testing.T) {
	data, err := os.ReadFile(featuresPlanFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(plan, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"typescript", "go"} {
		t.Run(lang, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "gen")
			codegenRun := func(extra ...string) (int, string, string) {
				return trackplanRun(t, append([]string{"--plan", plan, "codegen", "--lang", lang, "--out", out}, extra...)...)
			}
			if code, stdout, stderr := codegenRun("--check"); code != exitFindings || !strings.Contains(stdout, "missing") {
				t.Errorf("--check before generating: exit %d\n%s%s", code, stdout, stderr)
			}
			if code, _, stderr := codegenRun(); code != 0 {
				t.Fatalf("codegen: exit %d %s", code, stderr)
			}
			if code, stdout, stderr := codegenRun("--check"); code != 0 {
				t.Errorf("--check right after generating: exit %d\n%s%s", code, stdout, stderr)
			}
			moved := filepath.Join(t.TempDir(), "moved.yaml")
			if err := os.WriteFile(moved, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if code, stdout, _ := trackplanRun(t, "--plan", moved, "codegen", "--lang", lang, "--out", out, "--check"); code != 0 {
				t.Errorf("--check with the same plan elsewhere (only the header differs): exit %d\n%s", code, stdout)
			}

			// An edit in the plan: a new required property.
			edited := strings.Replace(string(data), "      - {name: step, type: integer, required: true, min: 1, max: 5}",
				"      - {name: step, type: integer, required: true, min: 1, max: 5}\n      - {name: step_name, type: string, required: true}", 1)
			if edited == string(data) {
				t.Fatal("the edit did not apply")
			}
			if err := os.WriteFile(plan, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(plan, data, 0o644)
			code, stdout, stderr := codegenRun("--check")
			if code != exitFindings {
				t.Errorf("--check after a plan edit: exit %d; want 1\n%s%s", code, stdout, stderr)
			}
			if !strings.Contains(stdout, "+") || !strings.Contains(stdout, "step_name") || !strings.Contains(stdout, "@@") {
				t.Errorf("--check shows no readable diff:\n%s", stdout)
			}
			if !strings.Contains(stderr, "stale") {
				t.Errorf("--check says nothing on stderr: %q", stderr)
			}
			if code, _, stderr := codegenRun(); code != 0 {
				t.Fatalf("codegen: exit %d %s", code, stderr)
			}
			if code, stdout, _ := codegenRun("--check"); code != 0 {
				t.Errorf("--check after regenerating: exit %d\n%s", code, stdout)
			}
			if err := os.WriteFile(plan, data, 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, bad := range [][]string{
		{"codegen", "--lang", "swift", "--out", dir},
		{"codegen", "--lang", "go"},
		{"codegen", "--lang", "go", "--out", dir, "--package", "not-a-name"},
	} {
		if code, _, _ := trackplanRun(t, append([]string{"--plan", plan}, bad...)...); code != exitUsage {
			t.Errorf("%v: exit %d; want %d", bad, code, exitUsage)
		}
	}
}

// TestCodegenFromNotion generates from a plan kept in the fake Notion: the
// header names the database and its last edit, and --check passes against
// the same database.
func TestCodegenFromNotion(t *testing.T) {
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
	dir := t.TempDir()
	args := []string{url, "--plan=notion:" + m[1], "codegen", "--lang", "typescript", "--out", dir}
	if code, _, stderr := trackplanRun(t, args...); code != 0 {
		t.Fatalf("codegen: exit %d %s", code, stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, codegen.TypeScriptFile))
	if err != nil {
		t.Fatal(err)
	}
	header := regexp.MustCompile(`(?m)^// Plan: Notion database ` + regexp.QuoteMeta(m[1]) + `, last edited \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\.$`)
	if !header.Match(data) {
		t.Errorf("the header does not name the database and its last edit:\n%s", data[:min(len(data), 400)])
	}
	if code, stdout, stderr := trackplanRun(t, append(args, "--check")...); code != 0 {
		t.Errorf("--check against the same database: exit %d\n%s%s", code, stdout, stderr)
	}
}
