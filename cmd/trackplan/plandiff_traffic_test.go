package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/planfile"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/templates"
)

// planDiffJSON is the JSON form of `plan diff` with its traffic section.
type planDiffJSON struct {
	Summary struct {
		Changes  int `json:"changes"`
		Breaking int `json:"breaking"`
	} `json:"summary"`
	Changes []struct {
		Kind     string   `json:"kind"`
		Property string   `json:"property"`
		Values   []string `json:"values"`
	} `json:"changes"`
	Plans *struct {
		Old struct{ ID, Origin string } `json:"old"`
		New struct{ ID, Origin string } `json:"new"`
	} `json:"plans"`
	Traffic *struct {
		Input   string    `json:"input"`
		From    time.Time `json:"from"`
		To      time.Time `json:"to"`
		Summary struct {
			Fixed            int `json:"fixed"`
			Introduced       int `json:"introduced"`
			IntroducedErrors int `json:"introduced_errors"`
		} `json:"summary"`
		Fixed      []trafficFinding `json:"fixed"`
		Introduced []trafficFinding `json:"introduced"`
	} `json:"traffic"`
}

// planDiffRun runs `plan diff` with --format json and decodes its output.
func planDiffRun(t *testing.T, wantCode int, args ...string) (planDiffJSON, string) {
	t.Helper()
	var pre, post []string
	for i, a := range args {
		if a == "plan" {
			pre, post = args[:i+2], args[i+2:]
			break
		}
	}
	full := append(append(append([]string{}, pre...), "--format", "json"), post...)
	code, out, stderr := trackplanRun(t, full...)
	if code != wantCode {
		t.Fatalf("%v: exit %d; want %d\n%s%s", full, code, wantCode, out, stderr)
	}
	var r planDiffJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %v\n%s", full, err, out)
	}
	return r, out
}

// findTraffic returns the finding of code, event and path in fs.
func findTraffic(fs []trafficFinding, code trackplan.Code, event, path string) *trafficFinding {
	for i, f := range fs {
		if f.Code == code && f.Event == event && f.Path == path {
			return &fs[i]
		}
	}
	return nil
}

// writeExportTraffic writes the traffic of the export tests: formats docx
// twice, pdf three times, csv once, in the last hours.
func writeExportTraffic(t *testing.T) string {
	t.Helper()
	now := time.Now().UTC()
	var msgs []map[string]any
	for i, f := range []string{"docx", "docx", "pdf", "pdf", "pdf", "csv"} {
		msgs = append(msgs, exportMsg(f+string(rune('a'+i)), "Report Exported", map[string]any{"format": f},
			now.Add(-time.Duration(i+1)*time.Hour)))
	}
	return writeMessages(t, msgs)
}

// checkEnumSwap checks the traffic section of OLD (csv, pdf) → NEW (csv,
// docx): the docx violations fixed, the pdf ones introduced, nothing else.
func checkEnumSwap(t *testing.T, r planDiffJSON) {
	t.Helper()
	if r.Traffic == nil {
		t.Fatal("no traffic section")
	}
	tr := r.Traffic
	f := findTraffic(tr.Fixed, trackplan.EnumViolation, "Report Exported", "format")
	if f == nil || f.Observed != "docx" || f.Count != 2 || f.Severity != trackplan.SeverityError || f.Fingerprint == "" {
		t.Errorf("fixed ENUM_VIOLATION = %+v; want docx, 2 messages, an error", f)
	}
	g := findTraffic(tr.Introduced, trackplan.EnumViolation, "Report Exported", "format")
	if g == nil || g.Observed != "pdf" || g.Count != 3 || g.Severity != trackplan.SeverityError || g.Expected == "" {
		t.Errorf("introduced ENUM_VIOLATION = %+v; want pdf, 3 messages, an error", g)
	}
	if len(tr.Fixed) != 1 || len(tr.Introduced) != 1 {
		t.Errorf("fixed %+v, introduced %+v; want one each", tr.Fixed, tr.Introduced)
	}
	if tr.Summary.Fixed != 1 || tr.Summary.Introduced != 1 || tr.Summary.IntroducedErrors != 1 {
		t.Errorf("traffic summary %+v", tr.Summary)
	}
	if tr.From.IsZero() || !tr.To.After(tr.From) {
		t.Errorf("window %s – %s", tr.From, tr.To)
	}
}

// storeFollows returns the ID of the plan the store at db follows.
func storeFollows(t *testing.T, db string) (string, int) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, err := st.VerdictPlan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	vs, err := st.PlanVersions(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	return v.ID, len(vs)
}

// TestPlanDiffAgainstTrafficStore judges a store's imported traffic by a
// plan and by an edit of it that allows docx and forbids pdf.
func TestPlanDiffAgainstTrafficStore(t *testing.T) {
	dir := t.TempDir()
	plan, swap, wider, db := filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "swap.yaml"),
		filepath.Join(dir, "wider.yaml"), filepath.Join(dir, "t.db")
	writeExportPlan(t, plan, []string{"csv", "pdf"}, "")
	writeExportPlan(t, swap, []string{"csv", "docx"}, "")
	writeExportPlan(t, wider, []string{"csv", "pdf", "docx"}, "")
	if code, _, stderr := trackplanRun(t, "--db", db, "--plan", plan, "import", writeExportTraffic(t)); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}

	r, _ := planDiffRun(t, exitOK, "--db", db, "plan", "diff", "--against-traffic", plan, swap)
	checkEnumSwap(t, r)
	if r.Traffic.Input != "store" || r.Summary.Breaking != 1 {
		t.Errorf("input %q, summary %+v", r.Traffic.Input, r.Summary)
	}

	code, out, stderr := trackplanRun(t, "--db", db, "plan", "diff", "--against-traffic", plan, swap)
	for _, want := range []string{"2 changes, 1 breaking", "1 fixed, 1 introduced (1 error)", "(the store)",
		"Fixed (in OLD's report, not in NEW's):", "Introduced (in NEW's report, not in OLD's):", "ENUM_VIOLATION", "2 messages", "3 messages"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("text: exit %d, no %q:\n%s%s", code, want, out, stderr)
		}
	}
	code, out, _ = trackplanRun(t, "--db", db, "plan", "diff", "--against-traffic", "--format", "markdown", plan, swap)
	for _, want := range []string{"### Traffic", "**1 fixed, 1 introduced (1 error)**", "| fixed | error | `ENUM_VIOLATION` | `Report Exported` | `format` |",
		"| **introduced** | error | `ENUM_VIOLATION`"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("markdown: exit %d, no %q:\n%s", code, want, out)
		}
	}

	if code, out, stderr := trackplanRun(t, "--db", db, "plan", "diff", "--against-traffic", "--fail-on", "new-errors", plan, swap); code != exitFindings {
		t.Errorf("--fail-on new-errors with pdf forbidden: exit %d, want %d\n%s%s", code, exitFindings, out, stderr)
	}
	r, raw := planDiffRun(t, exitOK, "--db", db, "plan", "diff", "--against-traffic", "--fail-on", "new-errors", plan, wider)
	if f := findTraffic(r.Traffic.Fixed, trackplan.EnumViolation, "Report Exported", "format"); f == nil || f.Count != 2 || f.Observed != "docx" {
		t.Errorf("allowing docx too: fixed %+v", r.Traffic.Fixed)
	}
	if len(r.Traffic.Introduced) != 0 || !strings.Contains(raw, `"introduced": []`) {
		t.Errorf("allowing more introduced %+v\n%s", r.Traffic.Introduced, raw)
	}
	// Judged by a plan and by itself, nothing changes.
	r, _ = planDiffRun(t, exitOK, "--db", db, "plan", "diff", "--against-traffic", "--fail-on", "new-errors", plan, plan)
	if len(r.Traffic.Fixed)+len(r.Traffic.Introduced) != 0 {
		t.Errorf("a plan against itself: %+v", r.Traffic)
	}

	// The store was only read: it adopted neither plan.
	if id, n := storeFollows(t, db); id != "" || n != 0 {
		t.Errorf("the store follows plan %q with %d versions after plan diff; want none", id, n)
	}
}

// TestPlanDiffAgainstTrafficEvents judges an NDJSON file instead of a store.
func TestPlanDiffAgainstTrafficEvents(t *testing.T) {
	dir := t.TempDir()
	plan, swap, wider := filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "swap.yaml"), filepath.Join(dir, "wider.yaml")
	writeExportPlan(t, plan, []string{"csv", "pdf"}, "")
	writeExportPlan(t, swap, []string{"csv", "docx"}, "")
	writeExportPlan(t, wider, []string{"csv", "pdf", "docx"}, "")
	events := writeExportTraffic(t)

	r, _ := planDiffRun(t, exitOK, "plan", "diff", "--against-traffic", "--events", events, plan, swap)
	checkEnumSwap(t, r)
	if r.Traffic.Input != events {
		t.Errorf("input %q, want %q", r.Traffic.Input, events)
	}
	// The file's own span is the window.
	if r.Traffic.To.After(time.Now()) || time.Since(r.Traffic.From) > 7*time.Hour {
		t.Errorf("window %s – %s; want the file's span", r.Traffic.From, r.Traffic.To)
	}
	if code, out, stderr := trackplanRun(t, "plan", "diff", "--against-traffic", "--events", events, "--fail-on", "new-errors", plan, swap); code != exitFindings {
		t.Errorf("--fail-on new-errors: exit %d\n%s%s", code, out, stderr)
	}
	if code, out, stderr := trackplanRun(t, "plan", "diff", "--against-traffic", "--events", events, "--fail-on", "new-errors", plan, wider); code != exitOK {
		t.Errorf("--fail-on new-errors, only more allowed: exit %d\n%s%s", code, out, stderr)
	}

	// Standard input is read once and judged by both plans.
	body, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"trackplan", "plan", "diff", "--format", "json", "--against-traffic", "--events", "-", plan, swap},
		bytes.NewReader(body), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("--events -: exit %d %s", code, stderr.String())
	}
	var fromStdin planDiffJSON
	if err := json.Unmarshal(stdout.Bytes(), &fromStdin); err != nil {
		t.Fatal(err)
	}
	checkEnumSwap(t, fromStdin)
}

// TestPlanDiffPrevious compares the two versions of a plan file the store
// followed.
func TestPlanDiffPrevious(t *testing.T) {
	dir := t.TempDir()
	plan, db := filepath.Join(dir, "plan.yaml"), filepath.Join(dir, "t.db")
	writeExportPlan(t, plan, []string{"csv", "pdf"}, "")
	if code, _, stderr := trackplanRun(t, "--db", db, "--plan", plan, "import", writeExportTraffic(t)); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	if code, _, stderr := trackplanRun(t, "--db", db, "plan", "diff", "--previous"); code != exitUsage || !strings.Contains(stderr, "follows no plan") {
		t.Errorf("--previous before the store follows a plan: exit %d %s", code, stderr)
	}
	driftReport(t, exitFindings, "--db", db, "--plan", plan, "drift")
	if code, _, stderr := trackplanRun(t, "--db", db, "plan", "diff", "--previous"); code != exitUsage ||
		!strings.Contains(stderr, "the store has followed only one plan version") {
		t.Errorf("--previous with one version: exit %d %s", code, stderr)
	}

	writeExportPlan(t, plan, []string{"csv", "docx"}, "")
	driftReport(t, exitFindings, "--db", db, "--plan", plan, "drift")
	follows, versions := storeFollows(t, db)
	if versions != 2 {
		t.Fatalf("the store has %d plan versions; want 2", versions)
	}

	code, out, stderr := trackplanRun(t, "--db", db, "plan", "diff", "--previous")
	if code != exitOK || !strings.HasPrefix(out, "2 changes, 1 breaking") || !strings.Contains(out, "enum_values_removed") ||
		!strings.Contains(stderr, "NEW plan "+follows) {
		t.Errorf("--previous: exit %d\n%s%s", code, out, stderr)
	}
	r, _ := planDiffRun(t, exitOK, "--db", db, "plan", "diff", "--previous", "--against-traffic")
	checkEnumSwap(t, r)
	if r.Plans == nil || r.Plans.New.ID != follows || r.Plans.Old.ID == follows || !strings.HasPrefix(r.Plans.Old.Origin, "file:") {
		t.Errorf("plans %+v; want the new one %s", r.Plans, follows)
	}
	if code, out, stderr := trackplanRun(t, "--db", db, "plan", "diff", "--previous", "--against-traffic", "--fail-on", "new-errors"); code != exitFindings {
		t.Errorf("--previous --fail-on new-errors: exit %d\n%s%s", code, out, stderr)
	}
	if id, n := storeFollows(t, db); id != follows || n != 2 {
		t.Errorf("after plan diff the store follows %s with %d versions; want %s, 2", id, n, follows)
	}
}

// TestPlanDiffTrafficUsage checks the usage errors of the traffic flags.
func TestPlanDiffTrafficUsage(t *testing.T) {
	old, breaking, _ := writePlanDiffFiles(t)
	db := filepath.Join(t.TempDir(), "t.db")
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"new-errors without traffic", []string{"--fail-on", "new-errors", old, breaking}, "--fail-on new-errors needs --against-traffic"},
		{"previous with plans", []string{"--previous", old, breaking}, "give no OLD NEW, not 2 arguments"},
		{"previous with one plan", []string{"--previous", old}, "not 1 arguments"},
		{"events without traffic", []string{"--events", old, old, breaking}, "--events needs --against-traffic"},
		{"since without traffic", []string{"--since", "24h", old, breaking}, "--since needs --against-traffic"},
		{"bad since", []string{"--against-traffic", "--since", "a week", old, breaking}, "--since"},
		{"expect-all without events", []string{"--against-traffic", "--expect-all", old, breaking}, "--expect-all needs --events"},
		{"bad fail-on", []string{"--fail-on", "error", old, breaking}, "breaking, new-errors or never"},
		{"missing events file", []string{"--against-traffic", "--events", filepath.Join(t.TempDir(), "none.ndjson"), old, breaking}, "--events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := trackplanRun(t, append([]string{"--db", db, "plan", "diff"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q\n%s", code, stderr, exitUsage, tc.want, out)
			}
		})
	}
}

// TestPlanDiffAgainstSimulatedDrift judges the simulator's drifted traffic
// by the default template and by the template with the injected unplanned
// event added: its UNPLANNED_EVENT is fixed.
func TestPlanDiffAgainstSimulatedDrift(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	events := writeDriftEvents(t, now)
	tmpl, err := templates.Plan(defaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	// writeDriftEvents' generator: the same seed injects the same drift.
	g, err := simulate.New(tmpl, simulate.Options{Accounts: 15, UsersPerAccount: 3, Days: 10, Seed: 4, Drift: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	unplanned := g.Drift().UnplannedEvents
	if len(unplanned) == 0 {
		t.Fatal("the simulator injected no unplanned event")
	}
	name := unplanned[0]

	dir := t.TempDir()
	old, next := filepath.Join(dir, "old.yaml"), filepath.Join(dir, "new.yaml")
	if code, _, stderr := trackplanRun(t, "plan", "init", "--out", old); code != 0 {
		t.Fatalf("plan init: %d %s", code, stderr)
	}
	p, err := planfile.Load(old)
	if err != nil {
		t.Fatal(err)
	}
	p.Events = append(p.Events, &trackplan.Event{Name: name, Type: trackplan.Track, Status: trackplan.StatusLive,
		Owner: "data@acme.io", Description: "Was unplanned."})
	if err := planfile.WriteFile(next, p); err != nil {
		t.Fatal(err)
	}

	r, _ := planDiffRun(t, exitOK, "plan", "diff", "--against-traffic", "--events", events, "--at", now.Format(time.RFC3339), old, next)
	f := findTraffic(r.Traffic.Fixed, trackplan.UnplannedEvent, name, "")
	if f == nil || f.Count == 0 || f.Severity != trackplan.SeverityError {
		t.Errorf("UNPLANNED_EVENT %q not among the fixed findings: %+v", name, r.Traffic.Fixed)
	}
	if r.Summary.Changes != 1 || r.Summary.Breaking != 0 {
		t.Errorf("plan changes %+v; want the one event added", r.Summary)
	}
	for _, g := range r.Traffic.Introduced {
		if g.Severity == trackplan.SeverityError {
			t.Errorf("adding an event introduced an error: %+v", g)
		}
	}
	if code, out, stderr := trackplanRun(t, "plan", "diff", "--against-traffic", "--events", events, "--fail-on", "new-errors", old, next); code != exitOK {
		t.Errorf("--fail-on new-errors after adding the unplanned event: exit %d\n%s%s", code, out, stderr)
	}
}

// TestPlanDiffCompareTraffic checks the matching on its own: by
// fingerprint and source, split by observed value, infos and the codes a
// plan does not decide left out.
func TestPlanDiffCompareTraffic(t *testing.T) {
	finding := func(code trackplan.Code, sev trackplan.Severity, source, event, path, observed string, n int64) trackplan.Finding {
		return trackplan.Finding{Code: code, Severity: sev, Source: source, Event: event, Path: path, Observed: observed,
			Count: n, Fingerprint: trackplan.Fingerprint(string(code), "", event, path)}
	}
	tally := func(vs map[string]int64) *store.Tally { // "source/value" → count, ENUM_VIOLATION of Signed Up.plan
		t := store.NewTally()
		for k, n := range vs {
			source, value, _ := strings.Cut(k, "/")
			t.Violations[store.ViolationKey{Event: store.EventKey{Source: source, Type: trackplan.Track, Name: "Signed Up"},
				Code: trackplan.EnumViolation, Path: "plan", Observed: value}] = &store.ViolationDelta{Seen: store.Seen{Count: n}}
		}
		return t
	}
	err, warn, info := trackplan.SeverityError, trackplan.SeverityWarning, trackplan.SeverityInfo
	oldRep := &report.Report{Findings: []trackplan.Finding{
		finding(trackplan.EnumViolation, err, "web", "Signed Up", "plan", "gold, silver", 5),
		finding(trackplan.EnumViolation, err, "ios", "Signed Up", "plan", "gold", 1),
		finding(trackplan.UnplannedEvent, err, "web", "Report Shared", "", "", 7),
		finding(trackplan.Naming, info, "", "Bad name", "", "", 0),
		finding(trackplan.CardinalityLimit, warn, "web", "", "", "events per source", 1),
	}}
	newRep := &report.Report{Findings: []trackplan.Finding{
		finding(trackplan.EnumViolation, err, "web", "Signed Up", "plan", "bronze, silver", 6),
		finding(trackplan.EnumViolation, err, "ios", "Signed Up", "plan", "gold", 1),
		finding(trackplan.UnplannedProperty, warn, "web", "Report Shared", "channel", "string", 7),
		finding(trackplan.Naming, info, "", "Worse name", "", "", 0),
	}}
	fixed, introduced := compareTraffic(oldRep, newRep,
		tally(map[string]int64{"web/gold": 2, "web/silver": 3, "ios/gold": 1}),
		tally(map[string]int64{"web/bronze": 3, "web/silver": 3, "ios/gold": 1}))

	type row struct {
		Code     trackplan.Code
		Source   string
		Event    string
		Observed string
		Count    int64
	}
	rows := func(fs []trafficFinding) []row {
		var out []row
		for _, f := range fs {
			out = append(out, row{f.Code, f.Source, f.Event, f.Observed, f.Count})
		}
		return out
	}
	wantFixed := []row{{trackplan.EnumViolation, "web", "Signed Up", "gold", 2}, {trackplan.UnplannedEvent, "web", "Report Shared", "", 7}}
	wantIntroduced := []row{{trackplan.EnumViolation, "web", "Signed Up", "bronze", 3}, {trackplan.UnplannedProperty, "web", "Report Shared", "string", 7}}
	if got := rows(fixed); !slices.Equal(got, wantFixed) {
		t.Errorf("fixed %+v\nwant %+v", got, wantFixed)
	}
	if got := rows(introduced); !slices.Equal(got, wantIntroduced) {
		t.Errorf("introduced %+v\nwant %+v", got, wantIntroduced)
	}
	td := &trafficDiff{Fixed: fixed, Introduced: introduced}
	if n := td.introducedErrors(); n != 1 {
		t.Errorf("introduced errors %d, want 1", n)
	}
	if s := td.summaryLine(); s != "2 fixed, 2 introduced (1 error)" {
		t.Errorf("summary %q", s)
	}
}
