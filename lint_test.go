package trackplan_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/templates"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with the golden file testdata/name, rewriting it
// under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestLintBadPlan(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "lint", "bad-plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p trackplan.Plan
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("the bad plan must still be valid: %v", err)
	}
	findings := trackplan.Lint(&p)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(findings); err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("lint", "bad-plan.golden.json"), buf.Bytes())

	seen := map[string]trackplan.Finding{}
	for _, f := range findings {
		if f.Fingerprint != trackplan.Fingerprint(string(f.Code), f.Source, f.Event, f.Path) {
			t.Errorf("finding %+v: fingerprint does not match its key", f)
		}
		if prev, dup := seen[f.Fingerprint]; dup {
			t.Errorf("findings share a fingerprint:\n%+v\n%+v", prev, f)
		}
		seen[f.Fingerprint] = f
	}
}

func TestLintTemplates(t *testing.T) {
	for _, name := range templates.Names() {
		p, err := templates.Plan(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, f := range trackplan.Lint(p) {
			if f.Severity != trackplan.SeverityInfo {
				t.Errorf("%s: %s finding %s %q %q: expected %q, observed %q", name, f.Severity, f.Code, f.Event, f.Path, f.Expected, f.Observed)
			}
		}
	}
}

func TestLintScoredEvents(t *testing.T) {
	plan := func(n int) *trackplan.Plan {
		p := &trackplan.Plan{Version: 1}
		for i := range n {
			p.Events = append(p.Events, &trackplan.Event{Name: "Thing " + string(rune('A'+i%26)) + string(rune('a'+i/26)) + " Done",
				Description: "d", Owner: "o", Weight: 1})
		}
		return p
	}
	for n, want := range map[int]bool{0: true, 9: true, 10: false, 30: false, 31: true} {
		got := false
		for _, f := range trackplan.Lint(plan(n)) {
			if f.Code == trackplan.BestPractice && f.Event == "" {
				got = true
			}
		}
		if got != want {
			t.Errorf("%d scored events: finding = %v, want %v", n, got, want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a := trackplan.Fingerprint("NAMING", "", "Signed Up", "")
	if len(a) != 16 {
		t.Errorf("len = %d, want 16", len(a))
	}
	if a != trackplan.Fingerprint("NAMING", "", "Signed Up", "") {
		t.Error("not stable")
	}
	for _, other := range []string{
		trackplan.Fingerprint("NAMING", "web", "Signed Up", ""),
		trackplan.Fingerprint("NAMING", "", "Signed Up", "x"),
		trackplan.Fingerprint("NAMING", "", "Signed", " Up"),
		trackplan.Fingerprint("BEST_PRACTICE", "", "Signed Up", ""),
	} {
		if other == a {
			t.Errorf("collision with %s", other)
		}
	}
}
