package derive_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/postgres"
	tpsync "github.com/trackplan/trackplan/sync"
	"github.com/trackplan/trackplan/templates"
)

// editedPlan is plan with its first enum losing a value and its first
// optional property made required: an edit that changes verdicts.
func editedPlan(plan *trackplan.Plan) *trackplan.Plan {
	out := &trackplan.Plan{Version: plan.Version}
	enum, required := false, false
	for _, e := range plan.Events {
		ec := *e
		ec.Properties = nil
		for _, p := range e.Properties {
			pc := *p
			if !enum && len(pc.Enum) > 1 {
				pc.Enum, enum = pc.Enum[1:], true
			} else if !required && !pc.Required {
				pc.Required, required = true, true
			}
			ec.Properties = append(ec.Properties, &pc)
		}
		out.Events = append(out.Events, &ec)
	}
	return out
}

// BenchmarkRebuild1M logs about a million simulated messages (with drift)
// into SQLite, and into PostgreSQL when TRACKPLAN_TEST_POSTGRES is set, then
// measures a rebuild on each: every record read, decoded, checked against
// the plan and applied, in runs of 100,000 records as `trackplan rebuild`
// does. It reports records/s and the log's bytes per event.
func BenchmarkRebuild1M(b *testing.B) {
	plan, err := templates.Plan(templates.Default)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	g, err := simulate.New(plan, simulate.Options{Accounts: 15_000, UsersPerAccount: 10, Days: 30, Seed: 8, Drift: true, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	stores := map[string]store.Store{"sqlite": openSQLite(b, "rebuild.db")}
	if base := os.Getenv("TRACKPLAN_TEST_POSTGRES"); base != "" {
		schema := fmt.Sprintf("tp_rebuild_%d", time.Now().UnixNano())
		dsn, err := postgres.CreateSchema(ctx, base, schema)
		if err != nil {
			b.Fatal(err)
		}
		defer postgres.DropSchema(ctx, base, schema)
		pg, err := postgres.Open(ctx, dsn, store.DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		defer pg.Close()
		stores["postgres"] = pg
	}
	batch := &store.LogBatch{At: now}
	flush := func() error {
		for _, st := range stores {
			if _, err := st.Append(ctx, batch); err != nil {
				return err
			}
		}
		batch = &store.LogBatch{At: now}
		return nil
	}
	err = g.Generate(func(m *trackplan.Message) error {
		m.Source, m.ReceivedAt = "web", m.Timestamp
		m.Raw, _ = json.Marshal(map[string]any{"type": m.Type, "messageId": m.MessageID, "userId": m.UserID,
			"anonymousId": m.AnonymousID, "event": m.Event, "properties": m.Properties, "traits": m.Traits,
			"timestamp": m.Timestamp.Format(time.RFC3339Nano)})
		if batch.Messages = append(batch.Messages, m); len(batch.Messages) == 10_000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		for _, kind := range []string{"sqlite", "postgres"} {
			st := stores[kind]
			if st == nil {
				continue
			}
			if err := st.ResetDerived(ctx); err != nil {
				b.Fatal(err)
			}
			d := derive.New(st, st, derive.Options{MaxRecords: 100_000})
			d.SetChecker(trackplan.NewChecker(plan))
			start := time.Now()
			res, err := d.CatchUp(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(res.Records)/time.Since(start).Seconds(), kind+"-records/s")
			b.ReportMetric(float64(res.Records), kind+"-records")
			if stats, err := st.LogStats(ctx); err == nil {
				b.ReportMetric(float64(stats.Bytes)/float64(stats.Records), kind+"-log-bytes/event")
			}

			// A plan edit: every logged message re-checked, the verdicts
			// swapped.
			edited := editedPlan(plan)
			start = time.Now()
			rr, err := d.Recheck(ctx, store.NewPlanVersion(edited, "file:plan.yaml", time.Time{}, now))
			if err != nil || rr.Rechecked == 0 {
				b.Fatalf("re-check: %+v, %v", rr, err)
			}
			b.ReportMetric(float64(rr.Rechecked)/time.Since(start).Seconds(), kind+"-rechecked/s")

			// A report with no plan change reads the hourly verdicts only.
			start = time.Now()
			if _, err := tpsync.Drift(ctx, st, edited, now, tpsync.DriftOptions{}); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(start).Milliseconds()), kind+"-drift-ms")
			// Its parts.
			for part, read := range map[string]func() error{
				"observed": func() error { _, err := st.Observed(ctx); return err },
				"verdicts": func() error { _, err := st.Verdicts(ctx, now.AddDate(0, 0, -7), now); return err },
				"hygiene":  func() error { _, err := st.Hygiene(ctx, "name"); return err },
			} {
				start = time.Now()
				if err := read(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(time.Since(start).Milliseconds()), kind+"-"+part+"-ms")
			}
		}
	}
}
