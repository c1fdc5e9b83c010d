package sync_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	tpsync "github.com/trackplan/trackplan/sync"
	"github.com/trackplan/trackplan/templates"
)

// editPlan makes a random edit of p: an enum value dropped or added, a
// property made required or optional, retyped, removed or added, an event
// removed. p is not changed.
func editPlan(p *trackplan.Plan, r *rand.Rand, edits int) *trackplan.Plan {
	out := &trackplan.Plan{Version: p.Version}
	for _, e := range p.Events {
		ec := *e
		ec.Properties = nil
		for _, pr := range e.Properties {
			pc := *pr
			pc.Enum = slices.Clone(pr.Enum)
			ec.Properties = append(ec.Properties, &pc)
		}
		out.Events = append(out.Events, &ec)
	}
	for range edits {
		e := out.Events[r.IntN(len(out.Events))]
		if len(e.Properties) == 0 || r.IntN(8) == 0 {
			if r.IntN(2) == 0 && len(out.Events) > 1 {
				out.Events = slices.DeleteFunc(out.Events, func(x *trackplan.Event) bool { return x == e })
			} else {
				e.Properties = append(e.Properties, &trackplan.Property{Name: fmt.Sprint("added_", r.IntN(100)), Type: trackplan.PropString, Required: true})
			}
			continue
		}
		pr := e.Properties[r.IntN(len(e.Properties))]
		switch r.IntN(6) {
		case 0:
			if len(pr.Enum) > 1 {
				pr.Enum = pr.Enum[1:]
			}
		case 1:
			if len(pr.Enum) > 0 {
				pr.Enum = append(pr.Enum, "extra")
			}
		case 2:
			pr.Required = !pr.Required
		case 3:
			pr.Type, pr.Enum, pr.Pattern, pr.Min, pr.Max = trackplan.PropInteger, nil, "", nil, nil
		case 4:
			e.Properties = slices.DeleteFunc(e.Properties, func(x *trackplan.Property) bool { return x == pr })
		case 5:
			pr.Nullable = !pr.Nullable
		}
	}
	return out
}

// TestStoreAgreesWithFileUnderEditedPlan is the property that makes a
// verdict a function of (the plan now, the messages): random traffic is
// stored and derived under plan A, a random edit makes plan B, and the
// store (re-checked against B) reports exactly what checking the same
// messages in memory against B reports, finding for finding.
func TestStoreAgreesWithFileUnderEditedPlan(t *testing.T) {
	ctx := context.Background()
	planA, err := templates.Plan("b2b-saas")
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			msgs := simulated(t, planA, int64(seed)+20)
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"), store.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			// Stored in a few appends, derived under A as they come.
			d := derive.New(st, st, derive.Options{MaxRecords: 500})
			if _, err := d.Recheck(ctx, store.NewPlanVersion(planA, "file:plan.yaml", time.Time{}, at)); err != nil {
				t.Fatal(err)
			}
			for chunk := range slices.Chunk(msgs, 700) {
				if _, err := st.Append(ctx, &store.LogBatch{Messages: chunk}); err != nil {
					t.Fatal(err)
				}
				if _, err := d.CatchUp(ctx); err != nil {
					t.Fatal(err)
				}
			}
			planB := editPlan(planA, r, 12)
			res, err := d.Recheck(ctx, store.NewPlanVersion(planB, "file:plan.yaml", time.Time{}, at.Add(time.Hour)))
			if err != nil || !res.Switched || res.Rechecked != int64(len(msgs)) {
				t.Fatalf("re-check: %+v, %v; want every one of %d messages re-checked", res, err, len(msgs))
			}
			opts := tpsync.DriftOptions{Window: 30 * 24 * time.Hour}
			fromStore, err := tpsync.Drift(ctx, st, planB, at, opts)
			if err != nil {
				t.Fatal(err)
			}

			mem := tpsync.NewMemory(store.DefaultLimits(), "")
			checker := trackplan.NewChecker(planB)
			for chunk := range slices.Chunk(msgs, 333) {
				var b store.Batch
				for _, m := range chunk {
					b.Messages = append(b.Messages, store.Checked{Message: m, Violations: checker.Check(m)})
				}
				mem.Add(&b)
			}
			fromFile, err := tpsync.Drift(ctx, mem, planB, at, opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(fromFile, fromStore); diff != "" {
				t.Errorf("the store under B and the messages checked against B disagree (-file +store):\n%s", diff)
			}
			if fromStore.Summary.Errors == 0 {
				t.Error("no errors at all: the property holds vacuously")
			}
		})
	}
}

// simulated returns a few days of simulated traffic with drift, timed to
// the microsecond as the log keeps it.
func simulated(t *testing.T, plan *trackplan.Plan, seed int64) []*trackplan.Message {
	t.Helper()
	g, err := simulateNew(plan, seed)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*trackplan.Message
	err = g.Generate(func(m *trackplan.Message) error {
		m.Source = "web"
		m.Timestamp = m.Timestamp.Truncate(time.Microsecond)
		m.ReceivedAt = m.Timestamp
		msgs = append(msgs, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func simulateNew(plan *trackplan.Plan, seed int64) (*simulate.Generator, error) {
	return simulate.New(plan, simulate.Options{Accounts: 12, UsersPerAccount: 3, Days: 6, Seed: seed, Drift: true, Now: at})
}
