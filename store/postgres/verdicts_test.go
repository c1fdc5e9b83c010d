package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// richPlan is a plan with every kind of field set, and text JSON escapes.
func richPlan() *trackplan.Plan {
	lo, hi := 0.5, 1e6
	return &trackplan.Plan{Version: trackplan.PlanVersion, Events: []*trackplan.Event{
		{Name: "Report Exported", Description: "Exports <csv> & \"pdf\" — ünïcode \x00 nul", Status: trackplan.StatusLive,
			Owner: "data", Tags: []string{"core"}, Platforms: []string{"web", "ios"}, Weight: 3,
			Properties: []*trackplan.Property{
				{Name: "format", Type: trackplan.PropString, Required: true, Enum: []string{"csv", "pdf"}},
				{Name: "row_count", Type: trackplan.PropInteger, Min: &lo, Max: &hi},
				{Name: "items[].sku", Type: trackplan.PropString, Pattern: `^sku-\d+$`, PII: true},
			}},
		{Name: "identify", Type: trackplan.Identify, Properties: []*trackplan.Property{
			{Name: "name", Type: trackplan.PropString, Required: true, Nullable: true}}},
	}}
}

// recheck tallies s's log up to its cursor checked against p, the events s
// does not hold left out, as a plan switch does.
func recheck(t *testing.T, s store.Store, p *trackplan.Plan) (*store.Tally, int64, int64) {
	t.Helper()
	ctx := context.Background()
	o, err := s.Observed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	known := map[store.EventKey]bool{}
	for _, e := range o.Events {
		known[store.EventKey{Source: e.Source, Type: e.Type, Name: e.Name}] = true
	}
	cursor, err := s.Cursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	epoch, err := s.Epoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := trackplan.NewChecker(p)
	tally := store.NewTally()
	err = s.ReadLog(ctx, 0, 1<<30, func(b store.LogBlock) error {
		recs, err := store.DecodeBlock(b)
		for _, r := range recs {
			switch {
			case r.Seq > cursor:
			case r.Rejection != nil:
				tally.AddRejection(r.Rejection)
			case known[store.EventKey{Source: r.Message.Source, Type: r.Message.Type, Name: r.Message.EventName()}]:
				tally.AddChecked(r.Message, c.Check(r.Message))
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tally, cursor, epoch
}

// applyChecked appends msgs and applies the log beyond the cursor checked
// against p, as the plan's verdicts require.
func applyChecked(t *testing.T, s store.Store, v store.PlanVersion, at time.Time, b *store.Batch) {
	t.Helper()
	ctx := context.Background()
	lb := &store.LogBatch{Rejections: b.Rejections, At: at}
	for _, c := range b.Messages {
		lb.Messages = append(lb.Messages, c.Message)
	}
	if _, err := s.Append(ctx, lb); err != nil {
		t.Fatal(err)
	}
	cursor, _ := s.Cursor(ctx)
	epoch, _ := s.Epoch(ctx)
	head, _ := s.LogHead(ctx)
	c := trackplan.NewChecker(v.Plan)
	next := store.Batch{Epoch: epoch, Plan: v.ID}
	err := s.ReadLog(ctx, cursor, 1<<30, func(blk store.LogBlock) error {
		recs, err := store.DecodeBlock(blk)
		next.Add(recs, c.Check)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, cursor, head, &next); err != nil {
		t.Fatal(err)
	}
}

// TestSwitchPlanSameAsSQLite switches both stores to a plan, replacing the
// verdicts with the log re-checked, applies more traffic checked against
// it, and expects the same verdicts, volumes and plan versions from both.
func TestSwitchPlanSameAsSQLite(t *testing.T) {
	ctx := context.Background()
	l := store.Limits{MaxEventsPerSource: 9, MaxPathsPerEvent: 8, ReservoirSize: 7, ExamplesPerPath: 3}
	pg := open(t, freshSchema(t), l)
	lite := openSQLite(t, l)
	stores := []store.Store{lite, pg}

	batches := newWorkload(5).batches(1500)
	half := len(batches) / 2
	for i, b := range batches[:half] {
		at := w0.Add(time.Duration(i) * time.Hour)
		for _, s := range stores {
			if _, err := ingestBatch(ctx, s, at, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	v := store.NewPlanVersion(richPlan(), "file:trackplan.yaml", w0.Add(-time.Minute), w0.Add(time.Hour))
	for _, s := range stores {
		tally, cursor, epoch := recheck(t, s, v.Plan)
		if err := s.SwitchPlan(ctx, v, cursor, epoch, tally); err != nil {
			t.Fatal(err)
		}
	}
	want, got := takeSnapshot(t, lite, false), takeSnapshot(t, pg, false)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after the switch, postgres differs from sqlite (-sqlite +postgres):\n%s", diff)
	}
	enum, limit := false, false
	for k := range got.Violations {
		enum = enum || k.Code == trackplan.EnumViolation
		limit = limit || k.Code == trackplan.CardinalityLimit
	}
	if !enum || !limit {
		t.Errorf("workload too tame: enum verdicts %v, cardinality verdicts %v", enum, limit)
	}

	for i, b := range batches[half:] {
		at := w0.Add(time.Duration(half+i) * time.Hour)
		for _, s := range stores {
			applyChecked(t, s, v, at, b)
		}
	}
	want, got = takeSnapshot(t, lite, false), takeSnapshot(t, pg, false)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after applying against the plan, postgres differs from sqlite (-sqlite +postgres):\n%s", diff)
	}

	for _, s := range stores {
		cur, err := s.VerdictPlan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cur.ID != v.ID || store.PlanID(cur.Plan) != v.ID || !cur.EditedAt.Equal(v.EditedAt) {
			t.Errorf("%T: verdict plan %+v; want %+v, its plan read back as written", s, cur, v)
		}
		if diff := cmp.Diff(v.Plan, cur.Plan); diff != "" {
			t.Errorf("%T: plan read back (-written +read):\n%s", s, diff)
		}
	}
	wantVs, err := lite.PlanVersions(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	gotVs, err := pg.PlanVersions(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantVs, gotVs); diff != "" || len(gotVs) != 1 {
		t.Errorf("plan versions (-sqlite +postgres):\n%s", diff)
	}
}

// ingestBatch appends and derives a batch whose messages carry their own
// violations, while the store follows no plan.
func ingestBatch(ctx context.Context, s store.Store, at time.Time, b *store.Batch) (store.IngestResult, error) {
	lb := &store.LogBatch{Rejections: b.Rejections, At: at}
	violations := map[string][]trackplan.Violation{}
	for _, c := range b.Messages {
		lb.Messages = append(lb.Messages, c.Message)
		violations[c.Message.MessageID] = c.Violations
	}
	r, err := s.Append(ctx, lb)
	if err != nil {
		return r, err
	}
	cursor, _ := s.Cursor(ctx)
	epoch, _ := s.Epoch(ctx)
	head, _ := s.LogHead(ctx)
	next := store.Batch{Epoch: epoch}
	err = s.ReadLog(ctx, cursor, 1<<30, func(blk store.LogBlock) error {
		recs, err := store.DecodeBlock(blk)
		next.Add(recs, func(m *trackplan.Message) []trackplan.Violation { return violations[m.MessageID] })
		return err
	})
	if err != nil {
		return r, err
	}
	return r, s.Apply(ctx, cursor, head, &next)
}
