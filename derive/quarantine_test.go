package derive_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/postgres"
	"github.com/trackplan/trackplan/templates"
)

// refusing is a store whose Apply refuses, as unstorable, any run that
// holds the message with id bad, until fixed: a store that cannot take one
// record, and then a release of it that can.
type refusing struct {
	store.Store
	bad   string
	fixed atomic.Bool
	// outage makes the next Quarantine fail as a lost connection would.
	outage atomic.Bool
}

func (r *refusing) Quarantine(ctx context.Context, from, to, epoch, seq int64, reason string) error {
	if r.outage.Swap(false) {
		return errors.New("connection lost")
	}
	return r.Store.Quarantine(ctx, from, to, epoch, seq, reason)
}

func (r *refusing) Apply(ctx context.Context, from, to int64, b *store.Batch) error {
	if !r.fixed.Load() {
		for _, c := range b.Messages {
			if c.Message.MessageID == r.bad {
				return fmt.Errorf("apply records %d-%d: %w: value out of range", from+1, to, store.ErrUnstorable)
			}
		}
	}
	return r.Store.Apply(ctx, from, to, b)
}

// openPostgres opens a store in a fresh schema of the test database, or
// skips (fails under CI) when none is configured.
func openPostgres(t *testing.T) store.Store {
	t.Helper()
	base := os.Getenv("TRACKPLAN_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TRACKPLAN_TEST_POSTGRES is not set")
		}
		t.Skip("PostgreSQL tests skipped: set TRACKPLAN_TEST_POSTGRES")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("tp_quarantine_%d", time.Now().UnixNano())
	dsn, err := postgres.CreateSchema(ctx, base, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { postgres.DropSchema(context.Background(), base, schema) })
	db, err := postgres.Open(ctx, dsn, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// quarantineLog appends 60 messages in three blocks, the one with id bad
// in the middle of the second, and returns the normal messages' ids.
func quarantineLog(t *testing.T, st store.Store, bad *trackplan.Message) []string {
	t.Helper()
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	var ids []string
	for blk := range 3 {
		b := &store.LogBatch{At: at}
		for i := range 20 {
			if blk == 1 && i == 7 {
				b.Messages = append(b.Messages, bad)
				continue
			}
			id := fmt.Sprintf("m-%d-%d", blk, i)
			ids = append(ids, id)
			b.Messages = append(b.Messages, &trackplan.Message{Source: "web", Type: trackplan.Track, MessageID: id,
				UserID: fmt.Sprintf("u%d", i%5), Event: "Report Exported", Timestamp: at, ReceivedAt: at,
				Properties: map[string]any{"format": "csv"}, Raw: []byte(`{"type":"track"}`)})
		}
		if _, err := st.Append(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// checkQuarantined checks that derivation got past the record at fault:
// the other messages all applied, the record quarantined and counted.
func checkQuarantined(t *testing.T, st store.Store, res derive.Result, normal int, reason string) int64 {
	t.Helper()
	ctx := context.Background()
	head, _ := st.LogHead(ctx)
	if res.Cursor != head || len(res.Quarantined) != 1 || res.Records != normal {
		t.Fatalf("catch-up = cursor %d, %d records, quarantined %v; want cursor %d, %d records, 1 quarantined",
			res.Cursor, res.Records, res.Quarantined, head, normal)
	}
	q, err := st.Quarantined(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 1 || q[0].Seq != res.Quarantined[0] || !strings.Contains(q[0].Reason, reason) {
		t.Fatalf("Quarantined = %+v; want record %d with a reason naming %q", q, res.Quarantined[0], reason)
	}
	o, err := st.Observed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o.Totals.Messages != int64(normal) || o.Totals.Quarantined != 1 {
		t.Errorf("totals = %d messages, %d quarantined; want %d and 1", o.Totals.Messages, o.Totals.Quarantined, normal)
	}
	return q[0].Seq
}

// TestQuarantineThenRebuild makes the store refuse one record of a run:
// the rest of the run and the log after it are applied, the record is
// quarantined and counted, later catch-ups do not stall on it, and a
// rebuild once the store takes it applies it.
func TestQuarantineThenRebuild(t *testing.T) {
	for name, open := range map[string]func(*testing.T) store.Store{
		"sqlite":   func(t *testing.T) store.Store { return openSQLite(t, "q.db") },
		"postgres": openPostgres,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := &refusing{Store: open(t), bad: "poison"}
			at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
			bad := &trackplan.Message{Source: "web", Type: trackplan.Track, MessageID: "poison", UserID: "u9",
				Event: "Plan Upgraded", Timestamp: at, ReceivedAt: at, Raw: []byte(`{"type":"track"}`)}
			ids := quarantineLog(t, st, bad)
			d := derive.New(st, st, derive.Options{MaxRecords: 1000})
			// The first attempt stops at the quarantine, the cursor left
			// inside a block; the next goes on from there.
			st.outage.Store(true)
			first, err := d.CatchUp(ctx)
			if err == nil {
				t.Fatal("catch-up with the quarantine failing: no error")
			}
			if first.Records == 0 || first.Records >= len(ids) {
				t.Fatalf("first attempt applied %d records; want some, not all", first.Records)
			}
			res, err := d.CatchUp(ctx)
			if err != nil {
				t.Fatalf("catch-up with a record the store refuses: %v", err)
			}
			res.Records += first.Records
			checkQuarantined(t, st, res, len(ids), "value out of range")
			// Appended after: applied, the quarantined record not retried.
			more := &trackplan.Message{Source: "web", Type: trackplan.Track, MessageID: "later", UserID: "u1",
				Event: "Report Exported", Timestamp: at, ReceivedAt: at, Raw: []byte(`{"type":"track"}`)}
			if _, err := st.Append(ctx, &store.LogBatch{Messages: []*trackplan.Message{more}, At: at}); err != nil {
				t.Fatal(err)
			}
			if res, err := d.CatchUp(ctx); err != nil || res.Records != 1 || len(res.Quarantined) != 0 {
				t.Fatalf("next catch-up = %+v, %v; want the new record only", res, err)
			}

			// A re-check leaves the quarantined record out, as the derived
			// state does.
			plan, err := templates.Plan("b2b-saas")
			if err != nil {
				t.Fatal(err)
			}
			if _, n, err := d.WhatIf(ctx, plan); err != nil || n != int64(len(ids)+1) {
				t.Errorf("what-if re-check read %d records, %v; want %d (the quarantined one left out)", n, err, len(ids)+1)
			}

			// The fix, then a rebuild: everything applied, nothing quarantined.
			st.fixed.Store(true)
			if err := st.ResetDerived(ctx); err != nil {
				t.Fatal(err)
			}
			res, err = d.CatchUp(ctx)
			if err != nil || len(res.Quarantined) != 0 || res.Records != len(ids)+2 {
				t.Fatalf("rebuild after the fix = %+v, %v; want %d records, none quarantined", res, err, len(ids)+2)
			}
			o, err := st.Observed(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if o.Totals.Messages != int64(len(ids)+2) || o.Totals.Quarantined != 0 ||
				!slices.ContainsFunc(o.Events, func(e store.ObservedEvent) bool { return e.Name == "Plan Upgraded" }) {
				t.Errorf("after the rebuild: totals %+v; want the quarantined message applied", o.Totals)
			}
		})
	}
}

// TestQuarantinePostgresDataError appends, bypassing the collector's
// bounds, a message whose event name PostgreSQL cannot index (a B-tree
// entry over its 2,704-byte maximum, even compressed): Apply fails with a
// data error that the store reports as unstorable, and the record is
// quarantined while the rest of the log is applied.
func TestQuarantinePostgresDataError(t *testing.T) {
	st := openPostgres(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var name strings.Builder
	for range 8000 {
		name.WriteByte(byte('!' + rng.IntN(90)))
	}
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	bad := &trackplan.Message{Source: "web", Type: trackplan.Track, MessageID: "poison", UserID: "u9",
		Event: name.String(), Timestamp: at, ReceivedAt: at, Raw: []byte(`{"type":"track"}`)}
	ids := quarantineLog(t, st, bad)
	d := derive.New(st, st, derive.Options{MaxRecords: 1000})
	res, err := d.CatchUp(ctx)
	if err != nil {
		t.Fatalf("catch-up with a record PostgreSQL refuses: %v", err)
	}
	seq := checkQuarantined(t, st, res, len(ids), "index row size")
	// A rebuild tries the record again (it is refused again: the store
	// has not changed).
	if err := st.ResetDerived(ctx); err != nil {
		t.Fatal(err)
	}
	res, err = d.CatchUp(ctx)
	if err != nil || !slices.Equal(res.Quarantined, []int64{seq}) || res.Records != len(ids) {
		t.Fatalf("rebuild = %+v, %v; want the same record quarantined again", res, err)
	}
}
