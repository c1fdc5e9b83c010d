package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/report"
)

// timelineReport is drift's JSON form with its timeline.
type timelineReport struct {
	From     time.Time           `json:"from"`
	To       time.Time           `json:"to"`
	Findings []trackplan.Finding `json:"findings"`
	Timeline *report.Timeline    `json:"timeline"`
}

func timelineRun(t *testing.T, args ...string) timelineReport {
	t.Helper()
	code, out, stderr := trackplanRun(t, append(args, "--format", "json", "--fail-on", "never")...)
	if code != 0 {
		t.Fatalf("%v: exit %d\n%s", args, code, stderr)
	}
	var r timelineReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	if r.Timeline == nil {
		t.Fatalf("%v: no timeline in\n%s", args, out)
	}
	return r
}

// counts sums the timed findings' counts by severity, as the timeline
// counts them.
func (r timelineReport) counts() (errors, warnings int64) {
	for _, f := range r.Findings {
		if !report.Timed(f.Code) {
			continue
		}
		switch f.Severity {
		case trackplan.SeverityError:
			errors += f.Count
		case trackplan.SeverityWarning:
			warnings += f.Count
		}
	}
	return errors, warnings
}

// spreadTraffic stores ten days of traffic before the returned time in a
// new store, checked against a new plan file.
func spreadTraffic(t *testing.T) (plan, db string, at time.Time) {
	t.Helper()
	dir := t.TempDir()
	plan, db = filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "t.db")
	writeExportPlan(t, plan, []string{"csv", "pdf"}, "")
	at = time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	var msgs []map[string]any
	// Every 5 hours over ten days: a valid message, and in turn an enum
	// violation (error), an unplanned property (warning) and an unplanned
	// event (error), so that counts differ from bucket to bucket.
	for i, ts := 0, at.Add(-240*time.Hour); ts.Before(at); i, ts = i+1, ts.Add(5*time.Hour+7*time.Minute) {
		msgs = append(msgs, exportMsg(fmt.Sprintf("ok-%d", i), "Report Exported", map[string]any{"format": "csv"}, ts))
		switch i % 3 {
		case 0:
			msgs = append(msgs, exportMsg(fmt.Sprintf("enum-%d", i), "Report Exported", map[string]any{"format": "docx"}, ts))
		case 1:
			msgs = append(msgs, exportMsg(fmt.Sprintf("extra-%d", i), "Report Exported", map[string]any{"format": "pdf", "color": "red"}, ts))
		case 2:
			msgs = append(msgs, exportMsg(fmt.Sprintf("new-%d", i), "Report Shared", map[string]any{}, ts))
		}
	}
	if code, _, stderr := trackplanRun(t, "--db", db, "--plan", plan, "import", writeMessages(t, msgs)); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	return plan, db, at
}

// TestDriftTimelineMatchesDrift stores traffic spread over ten days and
// checks, for several windows, that the timeline tiles the window (hourly
// for its last 48 hours, daily before), that its counts add up to drift's
// over the same window, and that a longer window's timeline summed over a
// shorter window's span gives that window's drift.
func TestDriftTimelineMatchesDrift(t *testing.T) {
	plan, db, at := spreadTraffic(t)
	base := []string{"--db", db, "--plan", plan, "drift", "--at", at.Format(time.RFC3339)}
	// 84h30m back from 12:30 starts at midnight: a day bucket's edge.
	windows := []string{"24h", "36h", "84h30m", "7d", "10d"}
	reps := map[string]timelineReport{}
	for _, w := range windows {
		r := timelineRun(t, append(base, "--since", w)...)
		reps[w] = r
		tl := r.Timeline
		if len(tl.Buckets) == 0 {
			t.Fatalf("--since %s: no buckets", w)
		}
		end := at.Truncate(time.Hour).Add(time.Hour)
		if first := tl.Buckets[0].From; !first.Equal(r.From) {
			t.Errorf("--since %s: first bucket from %s, report from %s", w, first, r.From)
		}
		for i, b := range tl.Buckets {
			if i > 0 && !b.From.Equal(tl.Buckets[i-1].To) {
				t.Errorf("--since %s: bucket %d starts at %s, not where bucket %d ends", w, i, b.From, i-1)
			}
			hourly := !b.From.Before(end.Add(-48 * time.Hour))
			switch span := b.To.Sub(b.From); {
			case hourly && span != time.Hour:
				t.Errorf("--since %s: bucket %s–%s in the last 48 hours is not an hour", w, b.From, b.To)
			case !hourly && (span <= 0 || !b.From.Truncate(24*time.Hour).Equal(b.To.Add(-time.Nanosecond).Truncate(24*time.Hour))):
				t.Errorf("--since %s: bucket %s–%s before the last 48 hours is not within one day", w, b.From, b.To)
			case !hourly && i > 0 && !b.From.Equal(b.From.Truncate(24*time.Hour)):
				t.Errorf("--since %s: daily bucket %d starts at %s, not at midnight", w, i, b.From)
			}
		}
		if last := tl.Buckets[len(tl.Buckets)-1].To; !last.Equal(end) {
			t.Errorf("--since %s: last bucket ends at %s, want %s", w, last, end)
		}
		wantE, wantW := r.counts()
		gotE, gotW := tl.Totals(r.From, end)
		if gotE != wantE || gotW != wantW {
			t.Errorf("--since %s: timeline sums to %d errors, %d warnings; drift counts %d, %d", w, gotE, gotW, wantE, wantW)
		}
		if wantE == 0 || wantW == 0 {
			t.Errorf("--since %s: drift counts %d errors, %d warnings; the traffic has both", w, wantE, wantW)
		}
		var perEvent int64
		for _, ev := range tl.Events {
			for i := range tl.Buckets {
				perEvent += ev.Errors[i] + ev.Warnings[i]
			}
		}
		if perEvent != gotE+gotW {
			t.Errorf("--since %s: the events' counts sum to %d, the buckets' to %d", w, perEvent, gotE+gotW)
		}
	}
	// The ten days' timeline over a shorter window's span.
	long := reps["10d"].Timeline
	end := at.Truncate(time.Hour).Add(time.Hour)
	for _, w := range []string{"24h", "36h", "84h30m"} {
		r := reps[w]
		wantE, wantW := r.counts()
		gotE, gotW := long.Totals(r.From, end)
		if gotE != wantE || gotW != wantW {
			t.Errorf("the 10d timeline over the %s window (%s–%s) sums to %d errors, %d warnings; drift --since %s counts %d, %d",
				w, r.From, end, gotE, gotW, w, wantE, wantW)
		}
	}
	// Hourly buckets count the messages of their hour: the last 48 hours
	// hold a message every 5h07m, one per bucket at most.
	for _, b := range long.Buckets {
		if b.To.Sub(b.From) == time.Hour && b.Errors+b.Warnings > 1 {
			t.Errorf("hour %s counts %d findings; at most one message was sent in it", b.From, b.Errors+b.Warnings)
		}
	}
}

// TestDriftTimelinePlanEdits checks the plan versions the store followed
// are marked on the timeline.
func TestDriftTimelinePlanEdits(t *testing.T) {
	dir := t.TempDir()
	plan, db := filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "t.db")
	writeExportPlan(t, plan, []string{"csv", "pdf"}, "")
	now := time.Now().UTC()
	events := writeMessages(t, []map[string]any{
		exportMsg("1", "Report Exported", map[string]any{"format": "docx"}, now.Add(-30*time.Hour)),
		exportMsg("2", "Report Exported", map[string]any{"format": "pdf"}, now.Add(-2*time.Hour)),
	})
	if code, _, stderr := trackplanRun(t, "--db", db, "--plan", plan, "import", events); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	// Each run adopts the plan as it goes, after its report time when it
	// is now: the report is made as of a minute later.
	at := now.Add(time.Minute).Format(time.RFC3339)
	first := timelineRun(t, "--db", db, "--plan", plan, "drift", "--at", at)
	writeExportPlan(t, plan, []string{"csv", "pdf", "docx"}, "")
	second := timelineRun(t, "--db", db, "--plan", plan, "drift", "--at", at)

	if n := len(first.Timeline.PlanEdits); n != 1 {
		t.Fatalf("before the edit: %d plan edits, want 1: %+v", n, first.Timeline.PlanEdits)
	}
	edits := second.Timeline.PlanEdits
	if len(edits) != 2 {
		t.Fatalf("after the edit: %d plan edits, want 2: %+v", len(edits), edits)
	}
	if edits[0].ID != first.Timeline.PlanEdits[0].ID || edits[1].ID == edits[0].ID || edits[1].At.Before(edits[0].At) {
		t.Errorf("plan edits %+v: want the first plan, then the edited one", edits)
	}
	for _, e := range edits {
		if e.At.Before(second.From) || e.At.After(second.To) || e.Origin == "" {
			t.Errorf("plan edit %+v: outside the window %s–%s or without origin", e, second.From, second.To)
		}
	}
	// The edit accepts docx: the re-checked timeline has no error left.
	if e, _ := first.Timeline.Totals(first.From, first.To.Add(time.Hour)); e != 1 {
		t.Errorf("before the edit: %d errors, want 1 (the docx message)", e)
	}
	if e, _ := second.Timeline.Totals(second.From, second.To.Add(time.Hour)); e != 0 {
		t.Errorf("after the edit: %d errors, want 0", e)
	}
}
