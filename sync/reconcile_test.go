package sync_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/ingest"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	tpsync "github.com/trackplan/trackplan/sync"
	"github.com/trackplan/trackplan/templates"
)

var at = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func testPlan() *trackplan.Plan {
	return &trackplan.Plan{Version: 1, Events: []*trackplan.Event{
		{Name: "Report Exported", Type: trackplan.Track, Status: trackplan.StatusLive, Owner: "data@acme.io", Description: "d", Weight: 5,
			Properties: []*trackplan.Property{{Name: "format", Type: trackplan.PropString, Required: true}}},
		{Name: "Signed In", Type: trackplan.Track, Status: trackplan.StatusLive, Owner: "data@acme.io", Description: "d"},
		{Name: "Old Thing Done", Type: trackplan.Track, Status: trackplan.StatusDeprecated, Owner: "o", Description: "d"},
		{Name: "Future Feature Used", Type: trackplan.Track, Status: trackplan.StatusPlanned, Owner: "o", Description: "d"},
	}}
}

func ev(name string, count int64, props ...store.ObservedProperty) store.ObservedEvent {
	return store.ObservedEvent{Source: "web", Type: trackplan.Track, Name: name, Count: count,
		FirstSeen: at.AddDate(0, 0, -3), LastSeen: at.Add(-time.Hour), Properties: props}
}

func TestReconcile(t *testing.T) {
	in := tpsync.DriftInput{
		Plan: testPlan(),
		At:   at,
		Observed: &store.Observed{Events: []store.ObservedEvent{
			ev("Report Exported", 100, store.ObservedProperty{Path: "format", Types: map[string]int64{"string": 60, "integer": 40}}),
			ev("Old Thing Done", 3),
			ev("report_shared", 7, store.ObservedProperty{Path: "Channel", Types: map[string]int64{"string": 7}}),
		}},
		Verdicts: tallyOf(
			map[string]int64{"Report Exported": 100, "Old Thing Done": 3, "report_shared": 7},
			verdict{"Report Exported", trackplan.TypeMismatch, "format", "integer", 40},
			verdict{"Report Exported", trackplan.RequiredMissing, "format", "missing", 3},
			verdict{"report_shared", trackplan.UnplannedEvent, "", "", 7},
		),
		Hygiene: store.Hygiene{Users: 10, UsersNoEmail: 2, Accounts: 4},
	}
	rep := tpsync.Reconcile(in, tpsync.DriftOptions{})
	type row struct {
		Code     trackplan.Code
		Severity trackplan.Severity
		Event    string
		Path     string
		Count    int64
	}
	var got []row
	for _, f := range rep.Findings {
		if f.Fingerprint == "" {
			t.Errorf("finding without fingerprint: %+v", f)
		}
		got = append(got, row{f.Code, f.Severity, f.Event, f.Path, f.Count})
	}
	want := []row{
		{trackplan.RequiredMissing, trackplan.SeverityError, "Report Exported", "format", 3},
		{trackplan.TypeMismatch, trackplan.SeverityError, "Report Exported", "format", 40},
		{trackplan.UnplannedEvent, trackplan.SeverityError, "report_shared", "", 7},
		{trackplan.BestPractice, trackplan.SeverityWarning, "", "users.email", 2},
		{trackplan.DeprecatedStillSeen, trackplan.SeverityWarning, "Old Thing Done", "", 3},
		{trackplan.PlannedNotSeen, trackplan.SeverityWarning, "Signed In", "", 0},
		{trackplan.TypeInconsistent, trackplan.SeverityWarning, "Report Exported", "format", 40},
	}
	var gotHead []row
	for _, r := range got {
		if r.Code != trackplan.Naming && !(r.Code == trackplan.BestPractice && r.Path == "") {
			gotHead = append(gotHead, r)
		}
	}
	if diff := cmp.Diff(want, gotHead); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	// The unplanned event's names break the naming rules.
	var naming []string
	for _, f := range rep.Findings {
		if f.Code == trackplan.Naming {
			naming = append(naming, f.Event+"/"+f.Path)
		}
	}
	if !slices.Contains(naming, "report_shared/") || !slices.Contains(naming, "report_shared/Channel") {
		t.Errorf("naming findings = %v", naming)
	}
	if rep.Summary.Errors != 3 || rep.Summary.EventsPlanned != 3 || rep.Summary.EventsSeen != 3 {
		t.Errorf("summary = %+v", rep.Summary)
	}
	// Stable: the same input gives the same report.
	if diff := cmp.Diff(rep, tpsync.Reconcile(in, tpsync.DriftOptions{})); diff != "" {
		t.Errorf("not deterministic:\n%s", diff)
	}
}

// verdict is a test row: count messages of event with code at path.
type verdict struct {
	event    string
	code     trackplan.Code
	path     string
	observed string
	count    int64
}

// tallyOf builds a window's tally: the volumes per event and the verdicts,
// all in the hour before at.
func tallyOf(volumes map[string]int64, vs ...verdict) *store.Tally {
	t := store.NewTally()
	hour := store.Hour(at.Add(-time.Hour))
	for name, n := range volumes {
		t.Volumes[store.HourKey{Event: store.EventKey{Source: "web", Type: trackplan.Track, Name: name}, Hour: hour}] =
			&store.Seen{Count: n, First: at.Add(-time.Hour), Last: at.Add(-time.Minute)}
	}
	for _, v := range vs {
		k := store.ViolationKey{Event: store.EventKey{Source: "web", Type: trackplan.Track, Name: v.event}, Code: v.code,
			Path: v.path, Observed: v.observed, Hour: hour}
		t.Violations[k] = &store.ViolationDelta{Seen: store.Seen{Count: v.count, First: at.Add(-time.Hour), Last: at.Add(-time.Minute)}}
	}
	return t
}

// TestRequiredMissingPerMessage: a required property missing from any
// message is an error, with the share of messages that lack it.
func TestRequiredMissingPerMessage(t *testing.T) {
	for _, missing := range []int64{1, 4, 30, 100} {
		in := tpsync.DriftInput{Plan: testPlan(), At: at,
			Observed: &store.Observed{Events: []store.ObservedEvent{ev("Report Exported", 100)}},
			Verdicts: tallyOf(map[string]int64{"Report Exported": 100},
				verdict{"Report Exported", trackplan.RequiredMissing, "format", "missing", missing})}
		var got *trackplan.Finding
		for _, f := range tpsync.Reconcile(in, tpsync.DriftOptions{}).Findings {
			if f.Path == "format" {
				got = &f
			}
		}
		if got == nil || got.Code != trackplan.RequiredMissing || got.Severity != trackplan.SeverityError ||
			got.Count != missing || got.Rate != float64(missing)/100 {
			t.Errorf("%d of 100 missing: %+v; want REQUIRED_MISSING, error, count %d, rate %g", missing, got, missing, float64(missing)/100)
		}
	}
}

func TestSimulatedDriftIsFound(t *testing.T) {
	ctx := context.Background()
	plan, err := templates.Plan("b2b-saas")
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "d.db"), store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g, err := simulate.New(plan, simulate.Options{Accounts: 30, UsersPerAccount: 4, Days: 14, Seed: 9, Drift: true, Now: at})
	if err != nil {
		t.Fatal(err)
	}
	p := ingest.Open(st, ingest.Options{})
	var buf []*trackplan.Message
	err = g.Generate(func(m *trackplan.Message) error {
		m.Source, m.ReceivedAt = "web", m.Timestamp
		buf = append(buf, m)
		return nil
	})
	if err == nil {
		err = p.Submit(ctx, buf, nil)
	}
	p.Close()
	if err != nil {
		t.Fatal(err)
	}
	dv := derive.New(st, st, derive.Options{})
	dv.SetChecker(trackplan.NewChecker(plan))
	if _, err := dv.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}

	rep, err := tpsync.Drift(ctx, st, plan, at, tpsync.DriftOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := g.Drift()
	if d.Empty() || len(d.NeverSent) == 0 {
		t.Fatalf("the simulator injected no drift: %+v", d)
	}
	want := map[string]trackplan.Code{}
	for _, e := range d.UnplannedEvents {
		want[e+"/"] = trackplan.UnplannedEvent
	}
	for _, p := range d.TypeMismatches {
		want[p.Event+"/"+p.Path] = trackplan.TypeMismatch
	}
	for _, p := range d.RequiredMissing {
		want[p.Event+"/"+p.Path] = trackplan.RequiredMissing
	}
	errs := map[string]trackplan.Code{}
	notSeen := map[string]bool{}
	for _, f := range rep.Findings {
		if f.Severity == trackplan.SeverityError {
			errs[f.Event+"/"+f.Path] = f.Code
		}
		if f.Code == trackplan.PlannedNotSeen {
			notSeen[f.Event] = true
		}
	}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("errors (-injected +reported):\n%s", diff)
	}
	for _, e := range d.NeverSent {
		if !notSeen[e] {
			t.Errorf("%q was never sent but is not PLANNED_NOT_SEEN", e)
		}
	}
	if len(notSeen) != len(d.NeverSent) {
		t.Errorf("PLANNED_NOT_SEEN for %v; only %v were left out", notSeen, d.NeverSent)
	}
}

// TestEnumValuesOfPIIPropertiesAreMasked: the values an enum violation
// reports are the property's values, so a pii property's are masked.
func TestEnumValuesOfPIIPropertiesAreMasked(t *testing.T) {
	plan := testPlan()
	plan.Events[0].Properties[0].PII = true
	in := tpsync.DriftInput{Plan: plan, At: at,
		Observed: &store.Observed{Events: []store.ObservedEvent{ev("Report Exported", 10)}},
		Verdicts: tallyOf(map[string]int64{"Report Exported": 10},
			verdict{"Report Exported", trackplan.EnumViolation, "format", "jane-secret", 2})}
	found := false
	for _, f := range tpsync.Reconcile(in, tpsync.DriftOptions{}).Findings {
		if f.Code == trackplan.EnumViolation {
			found = true
			if f.Observed != tpsync.Masked {
				t.Errorf("ENUM_VIOLATION of a pii property observed %q; want %q", f.Observed, tpsync.Masked)
			}
		}
	}
	if !found {
		t.Error("no ENUM_VIOLATION finding")
	}
}
