package plandiff_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/plandiff"
	"github.com/trackplan/trackplan/planfile"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func load(t *testing.T, name string) *trackplan.Plan {
	t.Helper()
	p, err := planfile.Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
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

// TestGolden diffs testdata/old.yaml against testdata/new.yaml, which
// between them show every kind of change, and renders the result in each
// format.
func TestGolden(t *testing.T) {
	d := plandiff.Diff(load(t, "old.yaml"), load(t, "new.yaml"))
	seen := map[plandiff.Kind]bool{}
	for _, c := range d.Changes {
		seen[c.Kind] = true
	}
	for _, k := range plandiff.Kinds() {
		if !seen[k] {
			t.Errorf("the golden plans show no %s change", k)
		}
	}
	for _, f := range []struct {
		file  string
		write func(io.Writer, *plandiff.Result) error
	}{
		{"diff.txt", plandiff.WriteText},
		{"diff.md", plandiff.WriteMarkdown},
		{"diff.json", plandiff.WriteJSON},
	} {
		var buf bytes.Buffer
		if err := f.write(&buf, d); err != nil {
			t.Fatal(err)
		}
		golden(t, f.file, buf.Bytes())
	}
}

// TestDeterministic checks that the order of events and properties in the
// plans does not change the result.
func TestDeterministic(t *testing.T) {
	oldPlan, newPlan := load(t, "old.yaml"), load(t, "new.yaml")
	want := plandiff.Diff(oldPlan, newPlan)
	for _, p := range []*trackplan.Plan{oldPlan, newPlan} {
		for i, j := 0, len(p.Events)-1; i < j; i, j = i+1, j-1 {
			p.Events[i], p.Events[j] = p.Events[j], p.Events[i]
		}
		for _, e := range p.Events {
			for i, j := 0, len(e.Properties)-1; i < j; i, j = i+1, j-1 {
				e.Properties[i], e.Properties[j] = e.Properties[j], e.Properties[i]
			}
		}
	}
	if diff := cmp.Diff(want, plandiff.Diff(oldPlan, newPlan)); diff != "" {
		t.Errorf("reordering the plans changed the diff (-want +got):\n%s", diff)
	}
}

// TestNoChanges checks a plan against itself and nil plans, and the JSON
// form of an empty diff.
func TestNoChanges(t *testing.T) {
	p := load(t, "old.yaml")
	if d := plandiff.Diff(p, p); len(d.Changes) != 0 {
		t.Errorf("a plan against itself: %v", d.Changes)
	}
	d := plandiff.Diff(nil, nil)
	var buf bytes.Buffer
	if err := plandiff.WriteJSON(&buf, d); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if changes, ok := got["changes"].([]any); !ok || len(changes) != 0 {
		t.Errorf("changes of an empty diff = %#v, want []", got["changes"])
	}
	if byKind, ok := got["summary"].(map[string]any)["by_kind"].(map[string]any); !ok || len(byKind) != 0 {
		t.Errorf("by_kind of an empty diff = %#v, want {}", got["summary"])
	}
	buf.Reset()
	if err := plandiff.WriteText(&buf, d); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "0 changes, 0 breaking\n") {
		t.Errorf("text of an empty diff:\n%s", buf.String())
	}
	buf.Reset()
	if err := plandiff.WriteMarkdown(&buf, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "**0 changes, 0 breaking**") || strings.Contains(buf.String(), "|") {
		t.Errorf("markdown of an empty diff:\n%s", buf.String())
	}
	if got := plandiff.Diff(nil, p).Summary(); got.EventsAdded != len(p.Events) {
		t.Errorf("nil → plan: %+v, want %d events added", got, len(p.Events))
	}
}

// TestSummary checks the counts against the golden diff.
func TestSummary(t *testing.T) {
	d := plandiff.Diff(load(t, "old.yaml"), load(t, "new.yaml"))
	s := d.Summary()
	breaking := 0
	for _, c := range d.Changes {
		if c.Breaking {
			breaking++
		}
	}
	if s.Changes != len(d.Changes) || s.Breaking != breaking || s.NonBreaking != s.Changes-breaking || !d.HasBreaking() {
		t.Errorf("summary %+v does not match %d changes, %d breaking", s, len(d.Changes), breaking)
	}
	// Brand New Event added; Legacy Event and Account removed; Report
	// Exported renamed; the other events with changes: Signed Up, Order
	// Completed, Home, Settings Opened, Onboarding Step, User Traits.
	want := [4]int{1, 2, 1, 6}
	if got := [4]int{s.EventsAdded, s.EventsRemoved, s.EventsRenamed, s.EventsChanged}; got != want {
		t.Errorf("events added, removed, renamed, changed = %v, want %v", got, want)
	}
}
