package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// testQuarantine checks Quarantine's compare-and-set of the cursor, that
// the record is listed and counted, that a cursor left inside a block
// reads the rest of the block, and that a reset empties the quarantine.
func testQuarantine(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	var msgs []*trackplan.Message
	for _, id := range []string{"q1", "q2", "q3", "q4", "q5"} {
		msgs = append(msgs, track(id, "u-"+id, "", "Signed In", t0, nil).Message)
	}
	if _, err := s.Append(ctx, &store.LogBatch{Messages: msgs, At: t0}); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, s, 0)
	if len(recs) != 5 {
		t.Fatalf("log holds %d records; want 5", len(recs))
	}
	epoch, _ := s.Epoch(ctx)
	batch := func(rs ...store.Record) *store.Batch {
		b := &store.Batch{Epoch: epoch}
		b.Add(rs, nil)
		return b
	}
	// Records 1-2, then 3 quarantined, then 4-5: the cursor is inside the
	// block twice.
	if err := s.Apply(ctx, 0, recs[1].Seq, batch(recs[0], recs[1])); err != nil {
		t.Fatal(err)
	}
	var rest []store.Record
	if err := s.ReadLog(ctx, recs[1].Seq, 100, func(b store.LogBlock) error {
		rs, err := store.DecodeBlock(b)
		rest = append(rest, rs...)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(rest) == 0 || rest[len(rest)-1].Seq != recs[4].Seq {
		t.Fatalf("ReadLog after a cursor inside a block: %d records; want the block that holds the rest", len(rest))
	}
	reason := "value out of range \x00 \xff " + strings.Repeat("x", 5000)
	q := recs[2].Seq
	if err := s.Quarantine(ctx, 0, q, epoch, q, reason); !errors.Is(err, store.ErrCursorMoved) {
		t.Errorf("Quarantine from a cursor the store is not at: %v; want ErrCursorMoved", err)
	}
	if err := s.Quarantine(ctx, recs[1].Seq, q, epoch+1, q, reason); !errors.Is(err, store.ErrCursorMoved) {
		t.Errorf("Quarantine in another epoch: %v; want ErrCursorMoved", err)
	}
	if got, err := s.Quarantined(ctx); err != nil || len(got) != 0 {
		t.Errorf("Quarantined after refused calls = %+v, %v; want none", got, err)
	}
	if err := s.Quarantine(ctx, recs[1].Seq, q, epoch, q, reason); err != nil {
		t.Fatalf("Quarantine: %v", err)
	}
	if c, err := s.Cursor(ctx); err != nil || c != q {
		t.Errorf("Cursor after Quarantine = %d, %v; want %d", c, err, q)
	}
	if err := s.Quarantine(ctx, recs[1].Seq, q, epoch, q, reason); !errors.Is(err, store.ErrCursorMoved) {
		t.Errorf("the same record quarantined twice: %v; want ErrCursorMoved", err)
	}
	if err := s.Apply(ctx, q, recs[4].Seq, batch(recs[3], recs[4])); err != nil {
		t.Fatal(err)
	}
	got, err := s.Quarantined(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Seq != q || got[0].At.IsZero() {
		t.Fatalf("Quarantined = %+v; want record %d", got, q)
	}
	if r := got[0].Reason; !strings.HasPrefix(r, "value out of range") || len(r) > 1100 || !utf8.ValidString(r) || strings.ContainsRune(r, 0) {
		t.Errorf("reason kept = %.80q… (%d bytes); want it bounded, valid UTF-8, without NUL", r, len(r))
	}
	o := observed(t, s)
	if o.Totals.Quarantined != 1 || o.Totals.Messages != 4 {
		t.Errorf("totals = %+v; want 4 messages and 1 quarantined", o.Totals)
	}
	if err := s.ResetDerived(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Quarantined(ctx); err != nil || len(got) != 0 {
		t.Errorf("Quarantined after a reset = %+v, %v; want none (a rebuild applies them again)", got, err)
	}
	if o := observed(t, s); o.Totals.Quarantined != 0 {
		t.Errorf("quarantined after a reset = %d; want 0", o.Totals.Quarantined)
	}
}
