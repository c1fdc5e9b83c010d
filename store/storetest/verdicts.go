package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

func planWith(events ...string) *trackplan.Plan {
	p := &trackplan.Plan{Version: trackplan.PlanVersion}
	for _, e := range events {
		p.Events = append(p.Events, &trackplan.Event{Name: e, Type: trackplan.Track,
			Properties: []*trackplan.Property{{Name: "format", Type: trackplan.PropString, Required: true}}})
	}
	return p
}

func badFormat(c store.Checked) store.Checked {
	c.Violations = []trackplan.Violation{{Code: trackplan.RequiredMissing, Path: "format", Expected: "present", Observed: "missing"}}
	return c
}

// testVerdictHours checks that verdicts and volumes are counted per hour of
// event time and read back by window, with the earliest sighting kept.
func testVerdictHours(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	ingest(t, s,
		badFormat(track("a", "u", "", "Report Exported", t0.Add(-48*time.Hour), nil)),
		badFormat(track("b", "u", "", "Report Exported", t0.Add(10*time.Minute), nil)),
		track("c", "u", "", "Report Exported", t0.Add(20*time.Minute), map[string]any{"format": "csv"}),
		badFormat(track("d", "u", "", "Report Exported", t0.Add(2*time.Hour+5*time.Minute), nil)),
	)
	if _, err := Ingest(ctx, s, time.Time{}, nil, []trackplan.Rejection{{Source: "web", Reason: "bad_timestamp",
		Sample: []byte("not json"), ReceivedAt: t0.Add(30 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	tally, err := s.Verdicts(ctx, t0.Add(30*time.Minute), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ev := store.EventKey{Source: "web", Type: trackplan.Track, Name: "Report Exported"}
	var missing, invalid int64
	for k, v := range tally.Violations {
		if k.Hour != store.Hour(t0) {
			t.Errorf("a verdict of hour %v outside the window", time.Unix(k.Hour, 0).UTC())
		}
		switch k.Code {
		case trackplan.RequiredMissing:
			missing += v.Count
			if !v.Last.Equal(t0.Add(10*time.Minute)) || len(v.Sample) == 0 {
				t.Errorf("verdict = %+v; want last seen at t0+10m with a sample", v)
			}
		case trackplan.InvalidMessage:
			invalid += v.Count
			if k.Path != "bad_timestamp" || string(v.Sample) != `"not json"` {
				t.Errorf("rejection verdict %+v = %s", k, v.Sample)
			}
		}
	}
	if missing != 1 || invalid != 1 {
		t.Errorf("window holds %d REQUIRED_MISSING and %d INVALID_MESSAGE; want 1 and 1", missing, invalid)
	}
	if vol := tally.Volumes[store.HourKey{Event: ev, Hour: store.Hour(t0)}]; vol == nil || vol.Count != 2 {
		t.Errorf("volume of the hour = %+v; want 2 messages", vol)
	}
	if len(tally.Volumes) != 1 {
		t.Errorf("volumes = %d hours; want the window's one", len(tally.Volumes))
	}
	fk := store.FindingKey{Event: ev, Code: trackplan.RequiredMissing, Path: "format"}
	if got := tally.Earliest[fk]; !got.Equal(t0.Add(-48 * time.Hour)) {
		t.Errorf("earliest = %v; want the sighting two days before the window", got)
	}

	// Prune drops the hours before the activity horizon.
	if err := s.Prune(ctx, t0.AddDate(-1, 0, 0), t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	tally, err = s.Verdicts(ctx, t0.AddDate(0, 0, -7), t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got := tally.Earliest[fk]; !got.Equal(t0.Add(10 * time.Minute)) {
		t.Errorf("after the prune, earliest = %v; want t0+10m", got)
	}
}

// testSwitchPlan checks the plan switch: the cursor and epoch guard, the
// replacement of the verdicts, plan versions, and Apply refusing a run
// checked against another plan.
func testSwitchPlan(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	if v, err := s.VerdictPlan(ctx); err != nil || v.ID != "" {
		t.Fatalf("a new store's verdict plan = %+v, %v; want none", v, err)
	}
	ingest(t, s, badFormat(track("a", "u", "", "Report Exported", t0, nil)),
		track("b", "u", "", "Report Exported", t0.Add(time.Hour), nil))
	cursor, _ := s.Cursor(ctx)
	epoch, _ := s.Epoch(ctx)

	a := store.NewPlanVersion(planWith("Report Exported"), "file:a.yaml", time.Time{}, t0)
	if err := s.SwitchPlan(ctx, a, cursor-1, epoch, nil); !errors.Is(err, store.ErrCursorMoved) {
		t.Fatalf("switch at a stale cursor: %v; want ErrCursorMoved", err)
	}
	if err := s.SwitchPlan(ctx, a, cursor, epoch+1, nil); !errors.Is(err, store.ErrCursorMoved) {
		t.Fatalf("switch at a stale epoch: %v; want ErrCursorMoved", err)
	}
	// A re-check found the second message wrong and the first right.
	tally := store.NewTally()
	ok := track("a", "u", "", "Report Exported", t0, nil)
	bad := badFormat(track("b", "u", "", "Report Exported", t0.Add(time.Hour), nil))
	tally.AddChecked(ok.Message, nil)
	tally.AddChecked(bad.Message, bad.Violations)
	if err := s.SwitchPlan(ctx, a, cursor, epoch, tally); err != nil {
		t.Fatal(err)
	}
	got, err := s.VerdictPlan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.CheckDigest != a.CheckDigest || got.Origin != "file:a.yaml" || !got.FirstSeen.Equal(t0) ||
		got.Plan == nil || store.PlanID(got.Plan) != a.ID {
		t.Errorf("verdict plan = %+v; want %+v", got, a)
	}
	rows, err := verdicts(t, s, t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Count != 1 || !rows[0].LastSeen.Equal(t0.Add(time.Hour)) {
		t.Errorf("verdicts after the switch = %+v; want the re-check's one", rows)
	}
	all, err := s.Verdicts(ctx, t0.Add(-time.Hour), t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Volumes) != 2 {
		t.Errorf("volumes after the switch = %d hours; want 2", len(all.Volumes))
	}

	// A run checked against no plan (or another) is refused now.
	ingest2 := func(plan string) error {
		if _, err := s.Append(ctx, &store.LogBatch{Messages: []*trackplan.Message{track("c", "u", "", "Report Exported", t0, nil).Message}}); err != nil {
			t.Fatal(err)
		}
		head, _ := s.LogHead(ctx)
		var b store.Batch
		err := s.ReadLog(ctx, cursor, 100, func(blk store.LogBlock) error {
			recs, err := store.DecodeBlock(blk)
			b.Add(recs, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		b.Epoch, b.Plan = epoch, plan
		return s.Apply(ctx, cursor, head, &b)
	}
	if err := ingest2(""); !errors.Is(err, store.ErrPlanMoved) {
		t.Fatalf("apply of an unchecked run: %v; want ErrPlanMoved", err)
	}
	b := store.NewPlanVersion(planWith("Report Exported", "Signed Up"), "notion:db", t0.Add(-time.Minute), t0.Add(time.Hour))
	if err := ingest2(b.ID); !errors.Is(err, store.ErrPlanMoved) {
		t.Fatalf("apply of a run checked against another plan: %v; want ErrPlanMoved", err)
	}
	cursor, _ = s.Cursor(ctx)
	if err := s.SwitchPlan(ctx, b, cursor, epoch, nil); err != nil {
		t.Fatal(err)
	}
	if rows2, _ := verdicts(t, s, t0.Add(-time.Hour)); len(rows2) != 1 {
		t.Errorf("a switch without a tally changed the verdicts: %+v", rows2)
	}
	// Back to a: its first sighting stays.
	if err := s.SwitchPlan(ctx, a, cursor, epoch, nil); err != nil {
		t.Fatal(err)
	}
	vs, err := s.PlanVersions(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].ID != b.ID || vs[1].ID != a.ID || !vs[1].FirstSeen.Equal(t0) || !vs[0].EditedAt.Equal(t0.Add(-time.Minute)) {
		t.Errorf("plan versions = %+v; want b then a, a first seen at t0", vs)
	}
	if err := ingest2(a.ID); err != nil {
		t.Errorf("apply of a run checked against the plan followed: %v", err)
	}

	// A reset keeps the plan but empties the verdicts.
	if err := s.ResetDerived(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.VerdictPlan(ctx); v.ID != a.ID {
		t.Errorf("after a reset the verdicts follow %q; want %q", v.ID, a.ID)
	}
	if rows, _ := verdicts(t, s, t0.AddDate(0, 0, -1)); len(rows) != 0 {
		t.Errorf("verdicts after a reset: %+v", rows)
	}
}
