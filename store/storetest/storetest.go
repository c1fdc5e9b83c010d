// Package storetest is the conformance suite every store.Store
// implementation runs: the same behaviour, checked the same way, on SQLite
// and on PostgreSQL.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// Opener returns a new, empty store with the given limits; the suite closes it.
type Opener func(t *testing.T, l store.Limits) store.Store

// Run runs the whole suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"CountsAndDedupe", testCountsAndDedupe},
		{"TraitsLastValueWins", testTraits},
		{"Rejections", testRejections},
		{"EventCardinality", testEventCardinality},
		{"PathCardinality", testPathCardinality},
		{"Reservoir", testReservoir},
		{"Violations", testViolations},
		{"Prune", testPrune},
		{"ExamplesIndependentOfBatching", testExamples},
		{"RunLog", testRunLog},
		{"ScoringSource", testScoringSource},
		{"Snapshots", testSnapshots},
		{"DriftSource", testDriftSource},
		{"DashboardSource", testDashboardSource},
		{"Search", testSearch},
		{"EnumValuesBounded", testEnumValues},
		{"Ledger", testLedger},
		{"LedgerRetire", testLedgerRetire},
		{"LogRoundTrip", testLogRoundTrip},
		{"ApplyCursor", testApplyCursor},
		{"ResetAndRebuild", testResetAndRebuild},
		{"PruneLog", testPruneLog},
		{"RewriteLog", testRewriteLog},
		{"ForgetDerived", testForgetDerived},
		{"VerdictHours", testVerdictHours},
		{"SwitchPlan", testSwitchPlan},
		{"Identity", testIdentity},
		{"ClampedTimestamps", testClampedTimestamps},
		{"LogDiskBytes", testLogDiskBytes},
		{"Alerts", testAlerts},
		{"ForgetAlerts", testForgetAlerts},
		{"Quarantine", testQuarantine},
		{"Forwarding", testForwarding},
		{"GuardKeepsPlan", testGuardKeepsPlan}, {"GuardSlotsFreeAfterPrune", testGuardSlotsFreeAfterPrune},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func track(id, user, group, event string, at time.Time, props map[string]any) store.Checked {
	raw, _ := json.Marshal(map[string]any{"type": "track", "messageId": id, "userId": user, "event": event, "properties": props})
	return store.Checked{Message: &trackplan.Message{Source: "web", Type: trackplan.Track, MessageID: id, UserID: user,
		GroupID: group, Event: event, Timestamp: at, ReceivedAt: at, Properties: props, Raw: raw}}
}

func call(typ trackplan.CallType, id, user, group string, at time.Time, traits map[string]any) store.Checked {
	raw, _ := json.Marshal(map[string]any{"type": typ, "messageId": id})
	return store.Checked{Message: &trackplan.Message{Source: "web", Type: typ, MessageID: id, UserID: user,
		GroupID: group, Timestamp: at, ReceivedAt: at, Traits: traits, Raw: raw}}
}

func ingest(t *testing.T, s store.Store, msgs ...store.Checked) store.IngestResult {
	t.Helper()
	r, err := Ingest(context.Background(), s, time.Time{}, msgs, nil)
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	return r
}

// verdictRow is a verdict summed over the hours it was counted in.
type verdictRow struct {
	Event                    store.EventKey
	Code                     trackplan.Code
	Path, Expected, Observed string
	Count                    int64
	FirstSeen, LastSeen      time.Time
}

// verdicts lists the verdicts counted in the hours from the one holding
// since on, summed over hours, sorted.
func verdicts(t *testing.T, s store.Store, since time.Time) ([]verdictRow, error) {
	t.Helper()
	tally, err := s.Verdicts(context.Background(), since, since.AddDate(10, 0, 0))
	if err != nil {
		return nil, err
	}
	rows := map[store.ViolationKey]*verdictRow{}
	for k, v := range tally.Violations {
		k.Hour = 0
		r := rows[k]
		if r == nil {
			r = &verdictRow{Event: k.Event, Code: k.Code, Path: k.Path, Expected: k.Expected, Observed: k.Observed,
				FirstSeen: v.First, LastSeen: v.Last}
			rows[k] = r
		}
		r.Count += v.Count
		if v.First.Before(r.FirstSeen) {
			r.FirstSeen = v.First
		}
		if v.Last.After(r.LastSeen) {
			r.LastSeen = v.Last
		}
	}
	out := make([]verdictRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return fmt.Sprint(a.Event, a.Code, a.Path, a.Expected, a.Observed) < fmt.Sprint(b.Event, b.Code, b.Path, b.Expected, b.Observed)
	})
	return out, nil
}

func observed(t *testing.T, s store.Store) *store.Observed {
	t.Helper()
	o, err := s.Observed(context.Background())
	if err != nil {
		t.Fatalf("Observed: %v", err)
	}
	return o
}

func findEvent(o *store.Observed, name string) *store.ObservedEvent {
	for i := range o.Events {
		if o.Events[i].Name == name {
			return &o.Events[i]
		}
	}
	return nil
}

func testCountsAndDedupe(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	props := map[string]any{"format": "csv", "rows": 12.0, "products": []any{map[string]any{"sku": "a"}, map[string]any{"sku": "b"}}}
	r := ingest(t, s,
		track("m1", "u1", "acme", "Report Exported", t0, props),
		track("m2", "u1", "acme", "Report Exported", t0.Add(time.Hour), map[string]any{"format": 3.5}),
		track("m2", "u1", "acme", "Report Exported", t0.Add(time.Hour), map[string]any{"format": 3.5}), // in-batch duplicate
		call(trackplan.Identify, "m3", "u2", "", t0, map[string]any{"email": "a@b.co"}),
	)
	if diff := cmp.Diff(store.IngestResult{Stored: 3, Duplicates: 1}, r); diff != "" {
		t.Errorf("first ingest (-want +got):\n%s", diff)
	}
	r = ingest(t, s, track("m1", "u1", "acme", "Report Exported", t0, props), track("m4", "u3", "", "Signed In", t0, nil))
	if diff := cmp.Diff(store.IngestResult{Stored: 1, Duplicates: 1}, r); diff != "" {
		t.Errorf("second ingest (-want +got):\n%s", diff)
	}
	n, err := s.Stored(context.Background(), "web", []string{"m1", "m2", "m3", "m4", "m5"})
	if err != nil || n != 4 {
		t.Errorf("Stored = %d, %v; want 4 of 5", n, err)
	}
	o := observed(t, s)
	want := store.Totals{Messages: 4, Duplicates: 2, Users: 3, Accounts: 1}
	if diff := cmp.Diff(want, o.Totals); diff != "" {
		t.Errorf("totals (-want +got):\n%s", diff)
	}
	ev := findEvent(o, "Report Exported")
	if ev == nil {
		t.Fatalf("Report Exported not observed: %+v", o.Events)
	}
	if ev.Count != 2 || !ev.FirstSeen.Equal(t0) || !ev.LastSeen.Equal(t0.Add(time.Hour)) {
		t.Errorf("event = count %d, first %v, last %v", ev.Count, ev.FirstSeen, ev.LastSeen)
	}
	got := map[string]map[string]int64{}
	present := map[string]int64{}
	for _, p := range ev.Properties {
		got[p.Path] = p.Types
		present[p.Path] = p.Present
	}
	wantTypes := map[string]map[string]int64{
		"format":         {"string": 1, "number": 1},
		"rows":           {"integer": 1},
		"products":       {"array": 1},
		"products[]":     {"object": 1},
		"products[].sku": {"string": 1},
	}
	if diff := cmp.Diff(wantTypes, got); diff != "" {
		t.Errorf("property types (-want +got):\n%s", diff)
	}
	if present["format"] != 2 || present["products[].sku"] != 1 {
		t.Errorf("presence = %v; want format 2 and products[].sku counted once per message", present)
	}
	if id := findEvent(o, "identify"); id == nil || id.Type != trackplan.Identify {
		t.Errorf("identify call not observed under its type: %+v", id)
	}
}

func testTraits(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ingest(t, s, call(trackplan.Identify, "a", "u1", "", t0.Add(2*time.Hour), map[string]any{"plan": "pro", "role": "admin"}))
	// Older message: must not overwrite plan; adds title, which is new.
	ingest(t, s, call(trackplan.Identify, "b", "u1", "", t0, map[string]any{"plan": "free", "title": "CTO"}))
	// Newer message clears role with null and omits plan (kept).
	ingest(t, s, call(trackplan.Identify, "c", "u1", "", t0.Add(3*time.Hour), map[string]any{"role": nil}))
	ts, ok := s.(TraitReader)
	if !ok {
		t.Skip("store does not expose trait reads")
	}
	got, err := ts.UserTraitsOf(context.Background(), "u1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"plan": "pro", "title": "CTO"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("traits (-want +got):\n%s", diff)
	}
}

// TraitReader is implemented by stores that can read back merged traits.
type TraitReader interface {
	UserTraitsOf(ctx context.Context, userID string) (map[string]any, error)
}

func testRejections(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	b := &store.Batch{
		Messages: []store.Checked{track("ok", "u1", "", "Signed In", t0, nil)},
		Rejections: []trackplan.Rejection{
			{Source: "web", Reason: "missing_event", Sample: []byte(`{"type":"track"}`), ReceivedAt: t0},
			{Source: "web", Reason: "missing_event", Sample: []byte(`{"type":"track","x":1}`), ReceivedAt: t0},
			{Source: "web", Reason: "no_user_anon_id", Sample: []byte(`{}`), ReceivedAt: t0},
		},
	}
	if _, err := Ingest(context.Background(), s, time.Time{}, b.Messages, b.Rejections); err != nil {
		t.Fatal(err)
	}
	o := observed(t, s)
	if o.Totals.Rejected != 3 || o.Totals.Messages != 1 {
		t.Errorf("totals = %+v", o.Totals)
	}
	want := []store.RejectionSum{
		{Source: "web", Reason: "missing_event", Count: 2, Sample: `{"type":"track"}`, FirstSeen: t0, LastSeen: t0},
		{Source: "web", Reason: "no_user_anon_id", Count: 1, Sample: `{}`, FirstSeen: t0, LastSeen: t0},
	}
	if diff := cmp.Diff(want, o.Rejections); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
}

func testEventCardinality(t *testing.T, open Opener) {
	l := store.DefaultLimits()
	l.MaxEventsPerSource = 3
	s := open(t, l)
	var msgs []store.Checked
	for i := range 5 {
		msgs = append(msgs, track(fmt.Sprint("m", i), "u1", "", fmt.Sprint("Event ", i), t0, nil))
	}
	ingest(t, s, msgs...)
	ingest(t, s, track("again", "u1", "", "Event 4", t0, nil))
	o := observed(t, s)
	if len(o.Events) != 3 {
		t.Errorf("%d events stored; want 3 (the guard)", len(o.Events))
	}
	vs, err := verdicts(t, s, t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var limited int64
	for _, v := range vs {
		if v.Code == trackplan.CardinalityLimit {
			limited += v.Count
		}
	}
	if limited != 3 {
		t.Errorf("CARDINALITY_LIMIT counted %d times; want 3", limited)
	}
	if o.Totals.Messages != 6 {
		t.Errorf("messages = %d; limited events still count as messages", o.Totals.Messages)
	}
	// An event past the guard leaves no violation rows nor rollups of its own.
	over := track("over", "u1", "", "Event 99", t0, nil)
	over.Violations = []trackplan.Violation{{Code: trackplan.UnplannedEvent}}
	ingest(t, s, over)
	vs, _ = verdicts(t, s, t0.Add(-time.Hour))
	for _, v := range vs {
		if v.Event.Name == "Event 99" {
			t.Errorf("a violation row for an event past the guard: %+v", v)
		}
	}
	s.EventTotals(context.Background(), []string{"Event 99"}, func(u, e string, _, _ time.Time) error {
		t.Errorf("an activity rollup for an event past the guard: %s %s", u, e)
		return nil
	})
}

func testPathCardinality(t *testing.T, open Opener) {
	l := store.DefaultLimits()
	l.MaxPathsPerEvent = 10
	s := open(t, l)
	props := map[string]any{}
	for i := range 50 {
		props[fmt.Sprintf("p%02d", i)] = 1.0
	}
	ingest(t, s, track("m", "u", "", "Wide", t0, props))
	o := observed(t, s)
	if ev := findEvent(o, "Wide"); ev == nil || len(ev.Properties) != 10 {
		t.Fatalf("Wide = %+v; want 10 stored paths", ev)
	}
}

func testReservoir(t *testing.T, open Opener) {
	l := store.DefaultLimits()
	l.ReservoirSize = 5
	s := open(t, l)
	for batch := range 3 {
		var msgs []store.Checked
		for i := range 4 {
			msgs = append(msgs, track(fmt.Sprint(batch, "-", i), "u", "", "Signed In", t0, nil))
		}
		ingest(t, s, msgs...)
	}
	got, err := s.Reservoir(context.Background(), store.EventKey{Source: "web", Type: trackplan.Track, Name: "Signed In"}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Fatalf("reservoir holds %d; want 5", len(got))
	}
	var newest struct{ MessageID string }
	if err := json.Unmarshal(got[0], &newest); err != nil || newest.MessageID != "2-3" {
		t.Errorf("newest = %s (%v); want 2-3", got[0], err)
	}
}

func testViolations(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	c := track("v1", "u", "", "Report Exported", t0, map[string]any{"format": 1.0})
	c.Violations = []trackplan.Violation{{Code: trackplan.TypeMismatch, Path: "format", Expected: "string", Observed: "integer"}}
	c2 := track("v2", "u", "", "Report Exported", t0.Add(time.Minute), map[string]any{"format": 2.0})
	c2.Violations = c.Violations
	ingest(t, s, c)
	ingest(t, s, c2, c) // c again: a duplicate's violations are not counted twice
	vs, err := verdicts(t, s, t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 {
		t.Fatalf("violations = %+v; want one", vs)
	}
	v := vs[0]
	if v.Count != 2 || v.Code != trackplan.TypeMismatch || v.Path != "format" || !v.LastSeen.Equal(t0.Add(time.Minute)) {
		t.Errorf("violation = %+v", v)
	}
	if vs, _ := verdicts(t, s, t0.Add(time.Hour)); len(vs) != 0 {
		t.Errorf("violations after their last sighting still listed: %+v", vs)
	}
}

func testPrune(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	// An archived message, received long ago, accepted at t0+2h: its
	// dedupe key lives from its acceptance, so the prune below keeps it.
	archived := track("archived", "u", "", "Signed In", t0.AddDate(-2, 0, 0), nil)
	if _, err := Ingest(context.Background(), s, t0.Add(2*time.Hour), []store.Checked{archived}, nil); err != nil {
		t.Fatal(err)
	}
	old := track("old", "u", "", "Signed In", t0, nil)
	if _, err := Ingest(context.Background(), s, t0, []store.Checked{old}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Prune(context.Background(), t0.Add(time.Hour), t0.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Past the dedupe window, a resend is stored again.
	if r, _ := Ingest(context.Background(), s, t0.Add(4*time.Hour), []store.Checked{old}, nil); r.Stored != 1 {
		t.Errorf("after prune, resend stored %d; want 1", r.Stored)
	}
	if r, _ := Ingest(context.Background(), s, t0.Add(3*time.Hour), []store.Checked{archived}, nil); r.Duplicates != 1 {
		t.Errorf("the archived message's resend: %+v; want a duplicate", r)
	}
}

func testExamples(t *testing.T, open Opener) {
	values := []string{"pdf", "csv", "xlsx", "csv", "json", "a@example.com"}
	msgs := make([]store.Checked, len(values))
	for i, v := range values {
		msgs[i] = track(fmt.Sprint("e", i), "u", "", "Report Exported", t0, map[string]any{"format": v})
	}
	examples := func(s store.Store) []string {
		ev := findEvent(observed(t, s), "Report Exported")
		if ev == nil || len(ev.Properties) != 1 {
			t.Fatalf("Report Exported = %+v", ev)
		}
		return ev.Properties[0].Examples
	}
	whole := open(t, store.DefaultLimits())
	ingest(t, whole, msgs...)
	split := open(t, store.DefaultLimits())
	for _, m := range msgs {
		ingest(t, split, m)
	}
	want := []string{"***@example.com", "csv", "json"} // the 3 smallest, emails masked
	if diff := cmp.Diff(want, examples(whole)); diff != "" {
		t.Errorf("one batch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, examples(split)); diff != "" {
		t.Errorf("one message per batch (-want +got):\n%s", diff)
	}
}

func testRunLog(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	runs := []*trackplan.JobRun{
		{Job: "score", Instance: "host-a:12", Started: t0, Finished: t0.Add(time.Second), Outcome: trackplan.OutcomeOK, Counts: map[string]int64{"accounts": 12}},
		{Job: "push", Started: t0.Add(2 * time.Second), Finished: t0.Add(3 * time.Second), Outcome: trackplan.OutcomeFailed, Error: "segment: 503"},
		{Job: "score", Started: t0.Add(time.Hour), Finished: t0.Add(time.Hour), Outcome: trackplan.OutcomeSkipped},
	}
	for _, r := range runs {
		if err := s.RecordRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if r.ID == 0 {
			t.Error("RecordRun did not set the ID")
		}
	}
	got, err := s.Runs(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []trackplan.JobRun{*runs[2], *runs[1], *runs[0]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	got, err = s.Runs(ctx, "score", 1)
	if err != nil || len(got) != 1 || got[0].ID != runs[2].ID {
		t.Errorf("Runs(score, 1) = %+v, %v", got, err)
	}
}

func testScoringSource(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	day := func(d int) time.Time { return t0.AddDate(0, 0, d) }
	ingest(t, s,
		track("a1", "u1", "acme", "Report Exported", day(0), nil),
		track("a2", "u1", "acme", "Report Exported", day(0).Add(time.Hour), nil),
		track("a3", "u1", "acme", "Signed In", day(1), nil),
		track("a4", "u2", "beta", "Report Exported", day(5), nil),
		call(trackplan.Identify, "i1", "u1", "", day(0), map[string]any{"email": "a@acme.io", "plan": "pro", "gone": nil}),
		call(trackplan.Group, "g1", "u2", "beta", day(0), map[string]any{"name": "Beta Inc"}),
	)
	type daily struct {
		User, Event, Day string
		N                int64
	}
	var got []daily
	midnight := t0.Truncate(24 * time.Hour)
	err := s.DailyActivity(ctx, []string{"Report Exported"}, midnight, midnight.AddDate(0, 0, 5), func(u, e string, d time.Time, n int64) error {
		got = append(got, daily{u, e, d.Format(time.DateOnly), n})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []daily{{"u1", "Report Exported", "2026-11-01", 2}} // 2026-11-06 is outside [from, to)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("daily (-want +got):\n%s", diff)
	}
	totals := map[string]string{}
	if err := s.EventTotals(ctx, []string{"Report Exported", "Signed In"}, func(u, e string, first, last time.Time) error {
		totals[u+"/"+e] = first.Format(time.RFC3339) + " " + last.Format(time.RFC3339)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(totals) != 3 || totals["u1/Report Exported"] != "2026-11-01T12:00:00Z 2026-11-01T13:00:00Z" {
		t.Errorf("totals = %v", totals)
	}
	traits := map[string]string{}
	if err := s.UserTraits(ctx, []string{"email", "gone", "plan"}, func(u, n string, v json.RawMessage, _ time.Time) error {
		traits[u+"/"+n] = string(v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"u1/email": `"a@acme.io"`, "u1/gone": "null", "u1/plan": `"pro"`}, traits); diff != "" {
		t.Errorf("user traits (-want +got):\n%s", diff)
	}
	var names []string
	s.AccountTraits(ctx, []string{"name"}, func(g, n string, v json.RawMessage) error {
		names = append(names, g+"="+string(v))
		return nil
	})
	if diff := cmp.Diff([]string{`beta="Beta Inc"`}, names); diff != "" {
		t.Errorf("account traits (-want +got):\n%s", diff)
	}
	members := map[string]bool{}
	s.Memberships(ctx, func(u, g string) error { members[u+"@"+g] = true; return nil })
	if diff := cmp.Diff(map[string]bool{"u1@acme": true, "u2@beta": true}, members); diff != "" {
		t.Errorf("memberships (-want +got):\n%s", diff)
	}
	users := 0
	s.Users(ctx, func(string, time.Time, time.Time) error { users++; return nil })
	if users != 2 {
		t.Errorf("%d users streamed; want 2", users)
	}
}

func testSnapshots(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	if _, err := s.LatestScores(ctx, "default", t0); !errors.Is(err, trackplan.ErrNotFound) {
		t.Errorf("no snapshot yet: %v; want ErrNotFound", err)
	}
	run := func(at time.Time, score int) *trackplan.ScoreRun {
		return &trackplan.ScoreRun{Profile: "default", At: at, WindowDays: 7, P90: 42,
			Users:    []trackplan.UserScore{{ID: "u1", Raw: 12, Score: score, Active: true}},
			Accounts: []trackplan.AccountScore{{ID: "acme", Name: "Acme", AverageScore: float64(score), TotalScore: int64(score), ActiveUsers: 1}}}
	}
	for i, sc := range []int{10, 20, 30} {
		if err := s.SaveScores(ctx, run(t0.Add(time.Duration(i)*time.Hour), sc)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.LatestScores(ctx, "default", t0.Add(90*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(run(t0.Add(time.Hour), 20), got); diff != "" {
		t.Errorf("latest before 1h30 (-want +got):\n%s", diff)
	}
	hist, err := s.AccountHistory(ctx, "default", "acme", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Score != 20 || hist[1].Score != 30 {
		t.Errorf("history = %+v; want the last two, oldest first", hist)
	}
	if err := s.PruneScores(ctx, t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LatestScores(ctx, "default", t0.Add(24*time.Hour)); err != nil || got.Users[0].Score != 30 {
		t.Errorf("after pruning, the latest run must remain: %+v, %v", got, err)
	}
	if _, err := s.LatestScores(ctx, "default", t0.Add(90*time.Minute)); !errors.Is(err, trackplan.ErrNotFound) {
		t.Errorf("older runs should be pruned: %v", err)
	}
}

func testDriftSource(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	ingest(t, s,
		track("d1", "u1", "acme", "Signed In", t0, nil),
		track("d2", "u1", "acme", "Signed In", t0.AddDate(0, 0, 1), nil),
		track("d3", "u2", "", "Signed In", t0.AddDate(0, 0, 8), nil),
		call(trackplan.Identify, "i1", "u1", "", t0, map[string]any{"email": "a@b.co", "name": "A", "created_at": "2026-01-01"}),
		call(trackplan.Identify, "i2", "u2", "", t0, map[string]any{"email": nil, "first_name": "B"}),
		call(trackplan.Group, "g1", "u1", "acme", t0, map[string]any{"name": "Acme"}),
		call(trackplan.Group, "g2", "u1", "beta", t0, map[string]any{"plan": "pro"}),
	)
	vol, err := s.EventVolumes(ctx, t0.Truncate(24*time.Hour), t0.Truncate(24*time.Hour).AddDate(0, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	if got := vol[store.EventKey{Source: "web", Type: trackplan.Track, Name: "Signed In"}]; got != 2 {
		t.Errorf("Signed In volume in the week = %d; want 2 (the third is a week later)", got)
	}
	h, err := s.Hygiene(ctx, "name")
	if err != nil {
		t.Fatal(err)
	}
	want := store.Hygiene{Users: 2, UsersNoEmail: 1, UsersNoName: 0, UsersNoCreatedAt: 1, UsersNoAccount: 1, Accounts: 2, AccountsNoName: 1}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("hygiene (-want +got):\n%s", diff)
	}
}

func testLedger(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	load := func(profile string) map[store.LedgerKey]store.LedgerEntry {
		t.Helper()
		out := map[store.LedgerKey]store.LedgerEntry{}
		if err := s.LedgerLoad(ctx, profile, func(e store.LedgerEntry) error {
			if _, dup := out[e.LedgerKey]; dup {
				t.Errorf("%s: key %v streamed twice", profile, e.LedgerKey)
			}
			out[e.LedgerKey] = e
			return nil
		}); err != nil {
			t.Fatalf("LedgerLoad %s: %v", profile, err)
		}
		return out
	}
	failures := func(profile string) map[store.LedgerKey]store.LedgerFailure {
		t.Helper()
		out := map[store.LedgerKey]store.LedgerFailure{}
		if err := s.LedgerFailures(ctx, profile, func(f store.LedgerFailure) error {
			out[f.LedgerKey] = f
			return nil
		}); err != nil {
			t.Fatalf("LedgerFailures %s: %v", profile, err)
		}
		return out
	}
	// Traits are compared as JSON values: a store may reformat them.
	traits := cmp.Comparer(func(a, b json.RawMessage) bool {
		var x, y any
		if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
			return string(a) == string(b)
		}
		return cmp.Equal(x, y)
	})
	acme := store.LedgerKey{Kind: store.EntityAccount, ID: "acme"}
	beta := store.LedgerKey{Kind: store.EntityAccount, ID: "beta"}
	u1 := store.LedgerKey{Kind: store.EntityUser, ID: "u1"}
	// The same id as a user and as an account are two keys.
	acmeUser := store.LedgerKey{Kind: store.EntityUser, ID: "acme"}

	if got := load("default"); len(got) != 0 {
		t.Errorf("empty ledger streamed %v", got)
	}
	entry := func(k store.LedgerKey, digest, msg string, at time.Time, tr string) store.LedgerEntry {
		return store.LedgerEntry{LedgerKey: k, Digest: digest, MessageID: msg, Traits: json.RawMessage(tr), AckedAt: at}
	}
	at := t0.Add(123456 * time.Microsecond)
	first := []store.LedgerEntry{
		entry(acme, "d-acme", "m-acme", at, `{"engagement_score": 61.5, "engagement_tier": "engaged", "engagement_activation": null}`),
		entry(beta, "d-beta", "m-beta", at, `{"engagement_score": 0}`),
		entry(u1, "d-u1", "m-u1", at, `{"engagement_score": 80, "engagement_last_active": "2026-10-31T09:00:00Z"}`),
		entry(acmeUser, "d-acme-user", "m-acme-user", at, `{}`),
	}
	if err := s.LedgerAck(ctx, "default", first); err != nil {
		t.Fatal(err)
	}
	if err := s.LedgerAck(ctx, "trial", first[:1]); err != nil {
		t.Fatal(err)
	}
	want := map[store.LedgerKey]store.LedgerEntry{}
	for _, e := range first {
		want[e.LedgerKey] = e
	}
	if diff := cmp.Diff(want, load("default"), traits); diff != "" {
		t.Errorf("acknowledged entries (-want +got):\n%s", diff)
	}
	if got := load("trial"); len(got) != 1 {
		t.Errorf("profiles are apart: trial has %d entries; want 1", len(got))
	}

	// Failures: one for an acknowledged key, one for a new key.
	failAt := t0.Add(time.Hour)
	fail := func(k store.LedgerKey, msg string, st store.FailureStatus, reason string, at time.Time) store.LedgerFailure {
		return store.LedgerFailure{LedgerKey: k, MessageID: msg, Status: st, Reason: reason, Error: "deliver message: " + reason,
			Attempts: 99, FirstFailed: t0.AddDate(-1, 0, 0), LastFailed: at} // Attempts and FirstFailed are ignored
	}
	gamma := store.LedgerKey{Kind: store.EntityAccount, ID: "gamma"}
	if err := s.LedgerFail(ctx, "default", []store.LedgerFailure{
		fail(acme, "m-acme-2", store.FailurePending, "http_503", failAt),
		fail(gamma, "m-gamma", store.FailureRejected, "message_too_big", failAt),
	}); err != nil {
		t.Fatal(err)
	}
	later := failAt.Add(time.Hour)
	if err := s.LedgerFail(ctx, "default", []store.LedgerFailure{fail(acme, "m-acme-3", store.FailureRejected, "http_400", later)}); err != nil {
		t.Fatal(err)
	}
	wantFail := map[store.LedgerKey]store.LedgerFailure{
		acme: {LedgerKey: acme, MessageID: "m-acme-3", Status: store.FailureRejected, Reason: "http_400",
			Error: "deliver message: http_400", Attempts: 2, FirstFailed: failAt, LastFailed: later},
		gamma: {LedgerKey: gamma, MessageID: "m-gamma", Status: store.FailureRejected, Reason: "message_too_big",
			Error: "deliver message: message_too_big", Attempts: 1, FirstFailed: failAt, LastFailed: failAt},
	}
	if diff := cmp.Diff(wantFail, failures("default")); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	if got := failures("trial"); len(got) != 0 {
		t.Errorf("trial failures = %v; want none", got)
	}
	if diff := cmp.Diff(want, load("default"), traits); diff != "" {
		t.Errorf("a failure must keep the acknowledged entry (-want +got):\n%s", diff)
	}

	// Acknowledging a failed key replaces its entry and clears its failure;
	// the other failure stays.
	ackAt := later.Add(time.Hour)
	newAcme := entry(acme, "d-acme-2", "m-acme-4", ackAt, `{"engagement_score": 70}`)
	if err := s.LedgerAck(ctx, "default", []store.LedgerEntry{newAcme}); err != nil {
		t.Fatal(err)
	}
	want[acme] = newAcme
	if diff := cmp.Diff(want, load("default"), traits); diff != "" {
		t.Errorf("after the retry (-want +got):\n%s", diff)
	}
	delete(wantFail, acme)
	if diff := cmp.Diff(wantFail, failures("default")); diff != "" {
		t.Errorf("failures after the retry (-want +got):\n%s", diff)
	}

	// A large acknowledgement in one call, and a new failure of that key
	// starting at one attempt again.
	var many []store.LedgerEntry
	for i := range 5000 {
		many = append(many, entry(store.LedgerKey{Kind: store.EntityUser, ID: fmt.Sprintf("bulk-%05d", i)}, "d", fmt.Sprintf("m-%d", i), ackAt, `{"engagement_score": 1}`))
	}
	if err := s.LedgerAck(ctx, "bulk", many); err != nil {
		t.Fatal(err)
	}
	if got := load("bulk"); len(got) != len(many) {
		t.Errorf("bulk ledger has %d entries; want %d", len(got), len(many))
	}
	if err := s.LedgerFail(ctx, "default", []store.LedgerFailure{fail(acme, "m-acme-5", store.FailurePending, "transport", ackAt)}); err != nil {
		t.Fatal(err)
	}
	if f := failures("default")[acme]; f.Attempts != 1 || !f.FirstFailed.Equal(ackAt) {
		t.Errorf("failure after an acknowledgement = %+v; want attempts 1 since %v", f, ackAt)
	}

	// The callback's error stops the stream and is returned.
	stop := errors.New("stop")
	n := 0
	err := s.LedgerLoad(ctx, "bulk", func(store.LedgerEntry) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("LedgerLoad with a failing callback: %d calls, %v; want 1 call and the callback's error", n, err)
	}
	// Empty calls are no-ops.
	if err := s.LedgerAck(ctx, "default", nil); err != nil {
		t.Errorf("empty LedgerAck: %v", err)
	}
	if err := s.LedgerFail(ctx, "default", nil); err != nil {
		t.Errorf("empty LedgerFail: %v", err)
	}
}

func testDashboardSource(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	ingest(t, s,
		track("x1", "u1", "acme", "Report Exported", t0, nil),
		track("x2", "u2", "acme", "Report Exported", t0.AddDate(0, 0, 1), nil),
		track("x3", "u2", "acme", "Signed In", t0.AddDate(0, 0, -20), nil),
		track("x4", "u3", "beta", "Report Exported", t0, nil),
		call(trackplan.Group, "g1", "u1", "acme", t0, map[string]any{"name": "Acme", "plan": nil}),
	)
	type day struct {
		Name string
		Day  string
		N    int64
	}
	var days []day
	err := s.EventDaily(ctx, t0.Truncate(24*time.Hour), t0.Truncate(24*time.Hour).AddDate(0, 0, 2),
		func(typ trackplan.CallType, name string, d time.Time, n int64) error {
			days = append(days, day{string(typ) + "/" + name, d.Format(time.DateOnly), n})
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	want := []day{{"group/group", "2026-11-01", 1}, {"track/Report Exported", "2026-11-01", 2}, {"track/Report Exported", "2026-11-02", 1}}
	if diff := cmp.Diff(want, days); diff != "" {
		t.Errorf("daily volumes (-want +got):\n%s", diff)
	}
	traits, err := s.AccountTraitsOf(ctx, "acme")
	if err != nil || len(traits) != 1 || string(traits["name"]) != `"Acme"` {
		t.Errorf("traits of acme = %v, %v; want only the name (plan was cleared)", traits, err)
	}
	if _, err := s.AccountTraitsOf(ctx, "nobody"); !errors.Is(err, trackplan.ErrNotFound) {
		t.Errorf("unknown account: %v", err)
	}
	use, err := s.AccountActivity(ctx, "acme", []string{"Report Exported", "Signed In", "Invite Sent"},
		t0.Truncate(24*time.Hour).AddDate(0, 0, -7), t0.Truncate(24*time.Hour).AddDate(0, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	wantUse := []store.EventUse{
		{Event: "Report Exported", Window: 2, Total: 2, LastSeen: t0.AddDate(0, 0, 1)},
		{Event: "Signed In", Window: 0, Total: 1, LastSeen: t0.AddDate(0, 0, -20)},
	}
	if diff := cmp.Diff(wantUse, use); diff != "" {
		t.Errorf("account activity (-want +got):\n%s", diff)
	}
}

func testEnumValues(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	var msgs []store.Checked
	for i := range store.MaxObservedValues + 10 {
		c := track(fmt.Sprint("e", i), "u", "", "Report Exported", t0, nil)
		c.Violations = []trackplan.Violation{{Code: trackplan.EnumViolation, Path: "format", Expected: "one of csv, pdf",
			Observed: fmt.Sprintf("person%d@example.com", i)}}
		msgs = append(msgs, c)
	}
	ingest(t, s, msgs...)
	vs, err := verdicts(t, s, t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, v := range vs {
		total += v.Count
		if strings.Contains(v.Observed, "person") {
			t.Errorf("an e-mail address kept as an observed value: %q", v.Observed)
		}
	}
	if len(vs) > store.MaxObservedValues+1 || total != int64(len(msgs)) {
		t.Errorf("%d violation rows counting %d; want at most %d rows counting every message", len(vs), total, store.MaxObservedValues+1)
	}
}
