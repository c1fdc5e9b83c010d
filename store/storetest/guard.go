package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/store"
)

// guardPlan plans one scored event with two properties, and page calls.
func guardPlan() *trackplan.Plan {
	return &trackplan.Plan{Events: []*trackplan.Event{
		{Name: "Report Exported", Weight: 6, Properties: []*trackplan.Property{
			{Name: "format", Type: trackplan.PropString}, {Name: "filters[].field", Type: trackplan.PropString}}},
		{Name: trackplan.PageViewed, Type: trackplan.Page},
	}}
}

// appendAndDerive appends msgs to the log and derives them, checked by c,
// in one run.
func appendAndDerive(t *testing.T, s store.Store, c derive.Checker, msgs ...*trackplan.Message) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Append(ctx, &store.LogBatch{Messages: msgs, At: msgs[0].ReceivedAt}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	d := derive.New(s, s, derive.Options{MaxRecords: 1 << 30})
	d.SetChecker(c)
	if _, err := d.CatchUp(ctx); err != nil {
		t.Fatalf("derive: %v", err)
	}
}

func guardMsg(source, id, user, event string, at time.Time, props map[string]any) *trackplan.Message {
	m := track(id, user, "", event, at, props).Message
	m.Source = source
	return m
}

func eventNames(o *store.Observed, source string) []string {
	var out []string
	for _, e := range o.Events {
		if e.Source == source {
			out = append(out, e.Name)
		}
	}
	slices.Sort(out)
	return out
}

func propPaths(e *store.ObservedEvent) []string {
	var out []string
	for _, p := range e.Properties {
		out = append(out, p.Path)
	}
	return out
}

// testGuardKeepsPlan: junk fills the cardinality guard of its source with
// unplanned event names and property keys, and still every planned event
// and planned property path is recorded (observation, property, activity
// rollup); another source's unplanned events are not blocked; a rebuild
// derives the same.
func testGuardKeepsPlan(t *testing.T, open Opener) {
	ctx := context.Background()
	// The default limits (2,000 and 500) are filled by the end-to-end test
	// of the junk in cmd/trackplan; smaller ones keep this one quick.
	l := store.DefaultLimits()
	l.MaxEventsPerSource, l.MaxPathsPerEvent = 200, 50
	s := open(t, l)
	checker := trackplan.NewChecker(guardPlan())

	// One client sends more unplanned event names than the guard takes,
	// then a planned event and a page call.
	var junk []*trackplan.Message
	for i := range l.MaxEventsPerSource + 1 {
		junk = append(junk, guardMsg("web", fmt.Sprint("junk-", i), "bot", fmt.Sprintf("Junk %04d", i), t0, nil))
	}
	appendAndDerive(t, s, checker, junk...)
	page := guardMsg("web", "page-1", "alice", "", t0, nil)
	page.Type = trackplan.Page
	appendAndDerive(t, s, checker,
		guardMsg("web", "late-junk", "bot", "Junk late", t0, nil),
		guardMsg("web", "export-1", "alice", "Report Exported", t0.Add(time.Minute), nil),
		page)

	o := observed(t, s)
	names := eventNames(o, "web")
	if n := len(names); n != l.MaxEventsPerSource+2 {
		t.Errorf("%d events stored for web; want the %d unplanned the guard takes and the 2 planned", n, l.MaxEventsPerSource)
	}
	for _, name := range []string{"Report Exported", trackplan.PageViewed} {
		if !slices.Contains(names, name) {
			t.Errorf("planned %q is not recorded after junk filled the guard", name)
		}
	}
	for _, name := range []string{fmt.Sprintf("Junk %04d", l.MaxEventsPerSource), "Junk late"} {
		if slices.Contains(names, name) {
			t.Errorf("unplanned %q is stored past the guard", name)
		}
	}
	var users []string
	err := s.EventTotals(ctx, []string{"Report Exported"}, func(u, _ string, _, _ time.Time) error {
		users = append(users, u)
		return nil
	})
	if err != nil || !slices.Equal(users, []string{"alice"}) {
		t.Errorf("activity rollups of Report Exported: %v (%v); want alice's", users, err)
	}

	// Junk property keys fill the event's unplanned paths; planned paths,
	// nested ones included, are still recorded, and even in the same
	// message as the junk (whose keys come first).
	wide := map[string]any{}
	for i := range l.MaxPathsPerEvent + 10 {
		wide[fmt.Sprintf("a%04d", i)] = 1.0
	}
	appendAndDerive(t, s, checker, guardMsg("web", "wide-1", "bot", "Report Exported", t0, wide))
	wide["format"] = "csv"
	appendAndDerive(t, s, checker, guardMsg("web", "wide-2", "bot", "Report Exported", t0, wide))
	appendAndDerive(t, s, checker, guardMsg("web", "export-2", "alice", "Report Exported", t0,
		map[string]any{"filters": []any{map[string]any{"field": "plan"}}, "zzz": 1.0}))
	o = observed(t, s)
	ev := findEvent(o, "Report Exported")
	if ev == nil {
		t.Fatal("Report Exported is not observed")
	}
	paths := propPaths(ev)
	for _, p := range []string{"format", "filters", "filters[]", "filters[].field"} {
		if !slices.Contains(paths, p) {
			t.Errorf("planned path %q of Report Exported is not recorded after junk keys filled the guard", p)
		}
	}
	if n := len(paths) - 4; n != l.MaxPathsPerEvent {
		t.Errorf("Report Exported stores %d unplanned paths; the guard takes %d", n, l.MaxPathsPerEvent)
	}
	if slices.Contains(paths, "zzz") {
		t.Error("an unplanned path is stored past the guard")
	}

	// The guard is per source: another source's unplanned events pass.
	appendAndDerive(t, s, checker, guardMsg("server", "job-1", "alice", "Invoice Paid", t0, nil))
	if got := eventNames(observed(t, s), "server"); !slices.Equal(got, []string{"Invoice Paid"}) {
		t.Errorf("server events = %v; web's junk must not block them", got)
	}

	// A rebuild from the log in one run derives the same.
	live := observed(t, s)
	if err := s.ResetDerived(ctx); err != nil {
		t.Fatal(err)
	}
	d := derive.New(s, s, derive.Options{MaxRecords: 1 << 30})
	d.SetChecker(checker)
	if _, err := d.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	rebuilt := observed(t, s)
	if diff := cmp.Diff(live.Events, rebuilt.Events); diff != "" {
		t.Errorf("rebuild differs from live (-live +rebuild):\n%s", diff)
	}
}

// testGuardSlotsFreeAfterPrune: once prune drops the events last seen
// before the activity retention, their guard slots take new events; an
// event dropped and seen again starts afresh.
func testGuardSlotsFreeAfterPrune(t *testing.T, open Opener) {
	ctx := context.Background()
	l := store.DefaultLimits()
	l.MaxEventsPerSource = 3
	s := open(t, l)
	checker := trackplan.NewChecker(guardPlan())
	old := t0.AddDate(0, 0, -30)
	appendAndDerive(t, s, checker,
		guardMsg("web", "a-1", "bot", "A", old, map[string]any{"x": 1.0}),
		guardMsg("web", "b-1", "bot", "B", old, nil),
		guardMsg("web", "c-1", "u", "C", t0, nil),
		guardMsg("web", "d-1", "u", "D", t0, nil), // past the guard
	)
	if got := eventNames(observed(t, s), "web"); !slices.Equal(got, []string{"A", "B", "C"}) {
		t.Fatalf("events before the prune = %v; want A B C", got)
	}
	if err := s.Prune(ctx, t0.Add(-48*time.Hour), t0.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := eventNames(observed(t, s), "web"); !slices.Equal(got, []string{"C"}) {
		t.Fatalf("events after the prune = %v; want C (A and B left retention)", got)
	}
	appendAndDerive(t, s, checker,
		guardMsg("web", "a-2", "u", "A", t0, map[string]any{"y": 1.0}),
		guardMsg("web", "e-1", "u", "E", t0, nil),
		guardMsg("web", "g-1", "u", "G", t0, nil), // past the guard again
	)
	o := observed(t, s)
	if got := eventNames(o, "web"); !slices.Equal(got, []string{"A", "C", "E"}) {
		t.Errorf("events after the prune and new traffic = %v; want A C E", got)
	}
	if a := findEvent(o, "A"); a == nil || a.Count != 1 || !slices.Equal(propPaths(a), []string{"y"}) {
		t.Errorf("A seen again after its prune = %+v; want count 1 and path y only", a)
	}
	res, err := s.Reservoir(ctx, store.EventKey{Source: "web", Type: trackplan.Track, Name: "A"}, 10)
	if err != nil || len(res) != 1 {
		t.Errorf("A's reservoir after its prune holds %d messages (%v); want 1", len(res), err)
	}
}
