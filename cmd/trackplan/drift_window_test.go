package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
)

// exportPlan is a one-event plan whose format property is required and an
// enum, written to path.
func writeExportPlan(t *testing.T, path string, formats []string, extra string) {
	t.Helper()
	body := fmt.Sprintf(`version: 1
events:
  - name: Report Exported
    type: track
    status: live
    owner: data@acme.io
    description: A report was exported.
    properties:
      - name: format
        type: string
        required: true
        enum: [%s]
      - name: order_id
        type: string
%s`, strings.Join(formats, ", "), extra)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// exportMsg is one NDJSON line: a Report Exported track call at ts.
func exportMsg(id, event string, props map[string]any, ts time.Time) map[string]any {
	return map[string]any{"type": "track", "messageId": id, "userId": "u-" + id, "event": event,
		"properties": props, "timestamp": ts.Format(time.RFC3339Nano), "receivedAt": ts.Format(time.RFC3339Nano)}
}

func writeMessages(t *testing.T, msgs []map[string]any) string {
	t.Helper()
	var b strings.Builder
	for _, m := range msgs {
		line, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type driftJSON struct {
	Plan     string              `json:"plan"`
	Findings []trackplan.Finding `json:"findings"`
}

func driftReport(t *testing.T, wantCode int, args ...string) driftJSON {
	t.Helper()
	code, out, stderr := trackplanRun(t, append(args, "--format", "json")...)
	if code != wantCode {
		t.Fatalf("%v: exit %d; want %d\n%s", args, code, wantCode, stderr)
	}
	var r driftJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return r
}

func (r driftJSON) find(code trackplan.Code, event, path string) *trackplan.Finding {
	for i, f := range r.Findings {
		if f.Code == code && f.Event == event && f.Path == path {
			return &r.Findings[i]
		}
	}
	return nil
}

// TestDriftFollowsPlanEdits: traffic stored under one plan, then the plan
// file edited to accept docx and color and to add the unplanned event, and
// to drop pdf: the report follows the edit both ways.
func TestDriftFollowsPlanEdits(t *testing.T) {
	dir := t.TempDir()
	plan, db := filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "t.db")
	writeExportPlan(t, plan, []string{"csv", "pdf"}, "")
	now := time.Now().UTC()
	events := writeMessages(t, []map[string]any{
		exportMsg("1", "Report Exported", map[string]any{"format": "docx"}, now.Add(-3*time.Hour)),
		exportMsg("2", "Report Exported", map[string]any{"format": "pdf", "color": "red"}, now.Add(-2*time.Hour)),
		exportMsg("3", "Report Shared", map[string]any{}, now.Add(-time.Hour)),
	})
	if code, _, stderr := trackplanRun(t, "--db", db, "--plan", plan, "import", events); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	before := driftReport(t, exitFindings, "--db", db, "--plan", plan, "drift")
	for _, want := range []struct {
		code        trackplan.Code
		event, path string
	}{{trackplan.EnumViolation, "Report Exported", "format"}, {trackplan.UnplannedProperty, "Report Exported", "color"},
		{trackplan.UnplannedEvent, "Report Shared", ""}} {
		if before.find(want.code, want.event, want.path) == nil {
			t.Errorf("before the edit: no %s %s %s in %+v", want.code, want.event, want.path, before.Findings)
		}
	}

	writeExportPlan(t, plan, []string{"csv", "docx"}, `      - name: color
        type: string
  - name: Report Shared
    type: track
    status: live
    owner: data@acme.io
    description: A report was shared.
`)
	after := driftReport(t, exitFindings, "--db", db, "--plan", plan, "drift")
	if after.Plan == before.Plan {
		t.Errorf("the report names plan %s before and after the edit", after.Plan)
	}
	for _, gone := range []struct {
		code        trackplan.Code
		event, path string
	}{{trackplan.UnplannedProperty, "Report Exported", "color"}, {trackplan.UnplannedEvent, "Report Shared", ""}} {
		if f := after.find(gone.code, gone.event, gone.path); f != nil {
			t.Errorf("after the edit, still %+v", f)
		}
	}
	f := after.find(trackplan.EnumViolation, "Report Exported", "format")
	if f == nil || f.Observed != "pdf" || f.Count != 1 {
		t.Errorf("after the edit: ENUM_VIOLATION = %+v; want pdf, once (docx is allowed now, pdf is not)", f)
	}
	// A plan from elsewhere is a what-if: reported, and the store keeps
	// following the file.
	proposed := filepath.Join(dir, "proposed.yaml")
	writeExportPlan(t, proposed, []string{"csv", "pdf", "docx"}, "")
	whatIf := driftReport(t, exitFindings, "--db", db, "--plan", proposed, "drift")
	if f := whatIf.find(trackplan.EnumViolation, "Report Exported", "format"); f != nil {
		t.Errorf("what-if with every format allowed: %+v", f)
	}
	if again := driftReport(t, exitFindings, "--db", db, "--plan", plan, "drift"); again.Plan != after.Plan ||
		again.find(trackplan.EnumViolation, "Report Exported", "format") == nil {
		t.Errorf("after the what-if the store's report changed: %+v", again)
	}
}

// TestRequiredMissingCounts: a required property missing from some
// messages is an error with its count and rate, in the window only.
func TestRequiredMissingCounts(t *testing.T) {
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	writeExportPlan(t, plan, []string{"csv", "pdf"}, "")
	now := time.Now().UTC().Truncate(time.Minute)

	t.Run("2 of 19", func(t *testing.T) {
		var msgs []map[string]any
		for i := range 19 {
			props := map[string]any{"format": "csv"}
			if i < 2 {
				props = map[string]any{}
			}
			msgs = append(msgs, exportMsg(fmt.Sprint("a", i), "Report Exported", props, now.Add(-time.Duration(i)*time.Minute)))
		}
		r := driftReport(t, exitFindings, "--plan", plan, "drift", "--events", writeMessages(t, msgs))
		f := r.find(trackplan.RequiredMissing, "Report Exported", "format")
		if f == nil || f.Count != 2 || f.Rate != 0.1053 || f.Severity != trackplan.SeverityError {
			t.Errorf("REQUIRED_MISSING = %+v; want an error, count 2, rate 0.1053", f)
		}
	})

	t.Run("500 good a month ago, then 20 without", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "t.db")
		var msgs []map[string]any
		for i := range 500 {
			msgs = append(msgs, exportMsg(fmt.Sprint("old", i), "Report Exported", map[string]any{"format": "csv"}, now.AddDate(0, 0, -30).Add(time.Duration(i)*time.Second)))
		}
		for i := range 20 {
			msgs = append(msgs, exportMsg(fmt.Sprint("new", i), "Report Exported", map[string]any{}, now.Add(-time.Duration(i+1)*time.Hour)))
		}
		if code, _, stderr := trackplanRun(t, "--db", db, "--plan", plan, "import", writeMessages(t, msgs)); code != 0 {
			t.Fatalf("import: %d %s", code, stderr)
		}
		r := driftReport(t, exitFindings, "--db", db, "--plan", plan, "drift")
		f := r.find(trackplan.RequiredMissing, "Report Exported", "format")
		if f == nil || f.Count != 20 || f.Rate != 1 {
			t.Errorf("REQUIRED_MISSING = %+v; want count 20, rate 1 over the week", f)
		}
	})

	t.Run("--since 24h counts the window only", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "t.db")
		var msgs []map[string]any
		for i := range 300 {
			msgs = append(msgs, exportMsg(fmt.Sprint("old", i), "Report Exported", map[string]any{}, now.AddDate(0, 0, -30).Add(time.Duration(i)*time.Second)))
		}
		for i := range 10 {
			props := map[string]any{"format": "csv"}
			if i == 0 {
				props = map[string]any{}
			}
			msgs = append(msgs, exportMsg(fmt.Sprint("new", i), "Report Exported", props, now.Add(-time.Duration(i+2)*time.Hour)))
		}
		if code, _, stderr := trackplanRun(t, "--db", db, "--plan", plan, "import", writeMessages(t, msgs)); code != 0 {
			t.Fatalf("import: %d %s", code, stderr)
		}
		r := driftReport(t, exitFindings, "--db", db, "--plan", plan, "drift", "--since", "24h")
		f := r.find(trackplan.RequiredMissing, "Report Exported", "format")
		if f == nil || f.Count != 1 || f.Rate != 0.1 || !f.FirstSeenAllTime.Before(now.AddDate(0, 0, -29)) {
			t.Errorf("REQUIRED_MISSING = %+v; want count 1, rate 0.1, first seen a month ago", f)
		}
	})

	t.Run("a month-old fixture in CI", func(t *testing.T) {
		var msgs []map[string]any
		for i := range 10 {
			props := map[string]any{"format": "csv"}
			if i%2 == 0 {
				props = map[string]any{}
			}
			msgs = append(msgs, exportMsg(fmt.Sprint("f", i), "Report Exported", props, now.AddDate(0, 0, -35).Add(time.Duration(i)*time.Minute)))
		}
		r := driftReport(t, exitFindings, "--plan", plan, "drift", "--events", writeMessages(t, msgs))
		f := r.find(trackplan.RequiredMissing, "Report Exported", "format")
		if f == nil || f.Count != 5 || f.Rate != 0.5 {
			t.Errorf("REQUIRED_MISSING = %+v; want count 5, rate 0.5 over the file's own span", f)
		}
		if f := r.find(trackplan.PlannedNotSeen, "Report Exported", ""); f != nil {
			t.Errorf("a capture reported PLANNED_NOT_SEEN: %+v", f)
		}
	})
}

// TestBaselineFromFileSuppressesStore: a finding keeps its fingerprint
// whether its messages came from a file or from a store's named source, so
// a baseline written from a QA capture accepts the same drift in
// production.
func TestBaselineFromFileSuppressesStore(t *testing.T) {
	dir := t.TempDir()
	plan, db, baseline := filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "t.db"), filepath.Join(dir, "baseline.yaml")
	writeExportPlan(t, plan, []string{"csv", "pdf"}, "")
	now := time.Now().UTC()
	events := writeMessages(t, []map[string]any{
		exportMsg("1", "Report Exported", map[string]any{"format": "docx"}, now.Add(-2*time.Hour)),
		exportMsg("2", "Report Shared", map[string]any{}, now.Add(-time.Hour)),
	})
	if code, _, stderr := trackplanRun(t, "--plan", plan, "drift", "--events", events, "--baseline", baseline, "--write-baseline"); code != 0 {
		t.Fatalf("write the baseline from the file: exit %d %s", code, stderr)
	}
	if code, _, stderr := trackplanRun(t, "--db", db, "--plan", plan, "import", "--source", "web", events); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	code, out, stderr := trackplanRun(t, "--db", db, "--plan", plan, "drift", "--baseline", baseline)
	if code != 0 || !strings.Contains(out, "accepted by the baseline") {
		t.Errorf("the store's drift with the file's baseline: exit %d\n%s%s", code, out, stderr)
	}
}
