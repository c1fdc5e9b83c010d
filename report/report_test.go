package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func fixture() *Report {
	f := func(code trackplan.Code, sev trackplan.Severity, event, path, exp, obs, owner string, n int64, rate float64) trackplan.Finding {
		return trackplan.Finding{Code: code, Severity: sev, Source: "web", Event: event, Path: path, Expected: exp, Observed: obs,
			Count: n, Rate: rate, FirstSeen: t0.Add(-72 * time.Hour), LastSeen: t0.Add(-time.Hour), Owner: owner,
			Fingerprint: trackplan.Fingerprint(string(code), "web", event, path)}
	}
	r := &Report{
		Plan: "0123456789abcdef", From: time.Date(2026, 11, 13, 12, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 20, 12, 30, 0, 0, time.UTC),
		Summary: Summary{EventsPlanned: 24, EventsSeen: 22},
		Findings: []trackplan.Finding{
			f(trackplan.TypeMismatch, trackplan.SeverityError, "Report Exported", "row_count", "integer", "string", "data@acme.io", 151, 1),
			f(trackplan.UnplannedEvent, trackplan.SeverityError, "Report | Shared <b>", "", "", "", "", 383, 0),
			f(trackplan.PlannedNotSeen, trackplan.SeverityWarning, "Comment Added", "", "traffic for a live event", "none in the window", "", 0, 0),
			f(trackplan.Naming, trackplan.SeverityInfo, "signed_up", "", "Object Action in Title Case", "signed_up", "", 0, 0),
		},
	}
	r.Findings[0].Samples = []json.RawMessage{[]byte(`{"type":"track","event":"Report Exported","properties":{"row_count":"12"}}`)}
	r.Recount()
	return r
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
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestGoldens(t *testing.T) {
	r := fixture()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", buf.Bytes())
	buf.Reset()
	WriteMarkdown(&buf, r, BySeverity)
	golden(t, "report.md", buf.Bytes())
	buf.Reset()
	WriteMarkdown(&buf, r, ByOwner)
	golden(t, "report-by-owner.md", buf.Bytes())
	buf.Reset()
	WriteText(&buf, r, TextOptions{})
	golden(t, "report.txt", buf.Bytes())
	buf.Reset()
	if err := WriteJUnit(&buf, r, JUnitOptions{Events: []string{"Report Exported", "Comment Added", "Signed In"}}); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.junit.xml", buf.Bytes())
}

func TestFailOn(t *testing.T) {
	tests := []struct {
		errors, warnings int
		on               FailOn
		fails            bool
	}{
		{1, 0, FailOnError, true},
		{0, 3, FailOnError, false},
		{0, 3, FailOnWarning, true},
		{0, 0, FailOnWarning, false},
		{5, 5, FailOnNever, false},
	}
	for _, tt := range tests {
		r := &Report{Summary: Summary{Errors: tt.errors, Warnings: tt.warnings}}
		if got := r.Fails(tt.on); got != tt.fails {
			t.Errorf("%d errors, %d warnings, fail-on %s: %v", tt.errors, tt.warnings, tt.on, got)
		}
	}
}

func TestBaseline(t *testing.T) {
	r := fixture()
	path := filepath.Join(t.TempDir(), "baseline.yaml")
	if err := NewBaseline(r, "known", t0.Add(24*time.Hour)).Write(path); err != nil {
		t.Fatal(err)
	}
	b, err := LoadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Entries) != 3 {
		t.Fatalf("baseline holds %d entries; want the 3 errors and warnings", len(b.Entries))
	}
	// Before expiry: the three are accepted; the info stays.
	before := fixture()
	b.Apply(before, t0)
	if len(before.Findings) != 1 || before.Summary.Suppressed != 3 || before.Summary.Errors != 0 || before.Fails(FailOnWarning) {
		t.Errorf("before expiry: %+v", before.Summary)
	}
	// After expiry: nothing is accepted any more.
	after := fixture()
	b.Apply(after, t0.Add(25*time.Hour))
	if len(after.Findings) != 4 || after.Summary.Suppressed != 0 || !after.Fails(FailOnError) {
		t.Errorf("after expiry: %+v", after.Summary)
	}
	// An entry accepts exactly its fingerprint.
	one := &Baseline{Entries: []BaselineEntry{{Fingerprint: r.Findings[1].Fingerprint, Reason: "x", Expires: t0.Add(time.Hour)}}}
	r2 := fixture()
	one.Apply(r2, t0)
	if len(r2.Findings) != 3 || r2.Findings[0].Code != trackplan.TypeMismatch || r2.Summary.Errors != 1 {
		t.Errorf("one entry: %+v", r2.Findings)
	}
}

func TestBadBaselines(t *testing.T) {
	tests := []struct{ name, body string }{
		{"not yaml", "accepted: [\n"},
		{"unknown key", "accepted:\n  - fingerprint: a\n    reason: r\n    expires: 2027-01-01T00:00:00Z\n    until: x\n"},
		{"no reason", "accepted:\n  - fingerprint: a\n    expires: 2027-01-01T00:00:00Z\n"},
		{"no expiry", "accepted:\n  - fingerprint: a\n    reason: r\n"},
		{"duplicate", "accepted:\n  - {fingerprint: a, reason: r, expires: 2027-01-01T00:00:00Z}\n  - {fingerprint: a, reason: r, expires: 2027-01-01T00:00:00Z}\n"},
		{"bad date", "accepted:\n  - {fingerprint: a, reason: r, expires: soon}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.yaml")
			os.WriteFile(path, []byte(tt.body), 0o644)
			if _, err := LoadBaseline(path); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestBaselineMatchesLegacyFingerprints: entries written when fingerprints
// included the source still accept the finding.
func TestBaselineMatchesLegacyFingerprints(t *testing.T) {
	f := trackplan.Finding{Code: trackplan.EnumViolation, Severity: trackplan.SeverityError, Source: "web",
		Event: "Report Exported", Path: "format", Fingerprint: trackplan.Fingerprint("ENUM_VIOLATION", "", "Report Exported", "format")}
	r := &Report{Findings: []trackplan.Finding{f, {Code: f.Code, Severity: f.Severity, Source: "ios", Event: f.Event, Path: f.Path, Fingerprint: f.Fingerprint}}}
	if b := NewBaseline(r, "x", time.Now().Add(time.Hour)); len(b.Entries) != 1 {
		t.Errorf("one finding in two sources wrote %d entries; want 1", len(b.Entries))
	}
	legacy := &Baseline{Entries: []BaselineEntry{{Fingerprint: trackplan.Fingerprint("ENUM_VIOLATION", "web", "Report Exported", "format"),
		Expires: time.Now().Add(time.Hour)}}}
	legacy.Apply(r, time.Now())
	if r.Summary.Suppressed != 1 || len(r.Findings) != 1 || r.Findings[0].Source != "ios" {
		t.Errorf("a legacy entry for web: suppressed %d, left %+v", r.Summary.Suppressed, r.Findings)
	}
}
