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
		Volumes: map[store.EventKey]int64{
			{Source: "web", Type: trackplan.Track, Name: "Report Exported"}: 100,
			{Source: "web", Type: trackplan.Track, Name: "Old Thing Done"}:  3,
			{Source: "web", Type: trackplan.Track, Name: "report_shared"}:   7,
		},
		Violations: []store.ViolationCount{
			{Event: store.EventKey{Source: "web", Type: trackplan.Track, Name: "Report Exported"}, Code: trackplan.TypeMismatch,
				Path: "format", Expected: "string", Observed: "integer", Count: 40, FirstSeen: at.Add(-48 * time.Hour), LastSeen: at.Add(-time.Hour)},
			{Event: store.EventKey{Source: "web", Type: trackplan.Track, Name: "Report Exported"}, Code: trackplan.RequiredMissing,
				Path: "format", Expected: "present", Count: 3, LastSeen: at}, // 3% < 5%: noise
			{Event: store.EventKey{Source: "web", Type: trackplan.Track, Name: "report_shared"}, Code: trackplan.UnplannedEvent,
				Count: 7, LastSeen: at},
		},
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
	if rep.Summary.Errors != 2 || rep.Summary.EventsPlanned != 3 || rep.Summary.EventsSeen != 3 {
		t.Errorf("summary = %+v", rep.Summary)
	}
	// Stable: the same input gives the same report.
	if diff := cmp.Diff(rep, tpsync.Reconcile(in, tpsync.DriftOptions{})); diff != "" {
		t.Errorf("not deterministic:\n%s", diff)
	}
}

func TestRequiredSometimesMissing(t *testing.T) {
	base := tpsync.DriftInput{Plan: testPlan(), At: at,
		Observed: &store.Observed{Events: []store.ObservedEvent{ev("Report Exported", 100)}},
		Volumes:  map[store.EventKey]int64{{Source: "web", Type: trackplan.Track, Name: "Report Exported"}: 100}}
	tests := []struct {
		missing int64
		want    trackplan.Code // "" = not reported
	}{
		{4, ""},                                  // 4%: below the 5% rate
		{5, ""},                                  // 5% but fewer than 20 messages
		{30, trackplan.RequiredSometimesMissing}, // 30%, 30 messages
		{100, trackplan.RequiredMissing},         // every message
	}
	for _, tt := range tests {
		in := base
		in.Violations = []store.ViolationCount{{Event: store.EventKey{Source: "web", Type: trackplan.Track, Name: "Report Exported"},
			Code: trackplan.RequiredMissing, Path: "format", Count: tt.missing, LastSeen: at}}
		var got trackplan.Code
		for _, f := range tpsync.Reconcile(in, tpsync.DriftOptions{}).Findings {
			if f.Path == "format" {
				got = f.Code
			}
		}
		if got != tt.want {
			t.Errorf("%d of 100 missing: %q; want %q", tt.missing, got, tt.want)
		}
	}
}

// TestSimulatedDriftIsFound sends the simulator's traffic with deliberate
// drift through the real check and store: each injected item is found by
// the right code, and the clean traffic raises no error.
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
