package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// testForwarding checks the forwarding outbox: a cursor created once at its
// start, moved by compare-and-set with the held messages in the same
// transaction, the last error kept until the cursor moves, held messages
// listed by arrival and released by a replay, retired sources, and that
// PruneLog keeps what a source has not forwarded yet.
func testForwarding(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	for day := range 3 {
		at := t0.AddDate(0, 0, day)
		m := track("f"+string(rune('0'+day)), "u1", "", "Signed In", at, nil)
		if _, err := s.Append(ctx, &store.LogBatch{Messages: []*trackplan.Message{m.Message}, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.ForwardStart(ctx, "web", 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Source != "web" || st.Cursor != 0 || st.Forwarded != 0 || len(st.Held) != 0 {
		t.Fatalf("new forwarding state = %+v; want web at 0", st)
	}
	if st, err = s.ForwardStart(ctx, "web", 3); err != nil || st.Cursor != 0 {
		t.Fatalf("ForwardStart of a known source = %+v, %v; want its cursor kept at 0", st, err)
	}
	if _, err := s.ForwardStart(ctx, "app", 3); err != nil {
		t.Fatal(err)
	}

	// Derived, and pruned: the blocks web has not forwarded stay.
	if err := Derive(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
	if p, err := s.PruneLog(ctx, t0.AddDate(0, 0, 5)); err != nil || p.Blocks != 0 {
		t.Fatalf("prune before forwarding: %+v, %v; want nothing dropped", p, err)
	}

	if err := s.ForwardFailed(ctx, "web", "destination answered 503", t0); err != nil {
		t.Fatal(err)
	}
	held := []store.HeldMessage{
		{Seq: 1, Reason: store.HeldUnplanned, MessageID: "f0", Arrived: t0},
		{Seq: 2, Reason: store.HeldRefused, MessageID: "f1", Arrived: t0.AddDate(0, 0, 1), Detail: "400: bad"},
	}
	if err := s.ForwardAdvance(ctx, "web", 1, 2, 0, held); !errors.Is(err, store.ErrCursorMoved) {
		t.Errorf("ForwardAdvance from a cursor the source is not at: %v; want ErrCursorMoved", err)
	}
	if err := s.ForwardAdvance(ctx, "web", 0, 2, 0, held); err != nil {
		t.Fatal(err)
	}
	states, err := s.ForwardStates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || states[0].Source != "app" || states[1].Source != "web" {
		t.Fatalf("ForwardStates = %+v; want app and web, by name", states)
	}
	web := states[1]
	if web.Cursor != 2 || web.LastError != "" || !web.ErrorAt.IsZero() {
		t.Errorf("after advancing: %+v; want cursor 2 and the error cleared", web)
	}
	if diff := cmp.Diff(map[string]int64{store.HeldUnplanned: 1, store.HeldRefused: 1}, web.Held); diff != "" {
		t.Errorf("held counts (-want +got):\n%s", diff)
	}
	// Prune stops at the lowest cursor: web's 2 (app's is 3).
	p, err := s.PruneLog(ctx, t0.AddDate(0, 0, 5))
	if err != nil {
		t.Fatal(err)
	}
	if p.Blocks != 2 || p.Through != 2 {
		t.Errorf("pruned %+v; want the two blocks web forwarded or held", p)
	}
	got, err := s.ForwardHeld(ctx, "web", t0, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("held messages after their records were pruned: %+v; want none", got)
	}

	// Held, listed since a time, released.
	held = []store.HeldMessage{{Seq: 3, Reason: store.HeldInvalid, MessageID: "f2", Arrived: t0.AddDate(0, 0, 2)}}
	if err := s.ForwardAdvance(ctx, "web", 2, 3, 0, held); err != nil {
		t.Fatal(err)
	}
	if got, err = s.ForwardHeld(ctx, "web", t0.AddDate(0, 0, 2), 0, 100); err != nil {
		t.Fatal(err)
	}
	want := []store.HeldMessage{{Seq: 3, Reason: store.HeldInvalid, MessageID: "f2", Arrived: t0.AddDate(0, 0, 2)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ForwardHeld (-want +got):\n%s", diff)
	}
	// Pages: after the last seq of one, the next; since a later time, none.
	for _, q := range []struct {
		since time.Time
		after int64
		limit int
		n     int
	}{{t0, 0, 1, 1}, {t0, 3, 100, 0}, {t0.AddDate(0, 0, 3), 0, 100, 0}} {
		if page, err := s.ForwardHeld(ctx, "web", q.since, q.after, q.limit); err != nil || len(page) != q.n {
			t.Errorf("ForwardHeld(since %s, after %d, limit %d) = %d held, %v; want %d", q.since, q.after, q.limit, len(page), err, q.n)
		}
	}
	if err := s.ForwardRelease(ctx, "web", []int64{3, 99}); err != nil {
		t.Fatal(err)
	}
	states, _ = s.ForwardStates(ctx)
	if web := states[1]; web.Forwarded != 1 || len(web.Held) != 0 {
		t.Errorf("after a release: %+v; want 1 forwarded, nothing held", web)
	}

	if err := s.ForwardRetire(ctx, []string{"web"}); err != nil {
		t.Fatal(err)
	}
	states, _ = s.ForwardStates(ctx)
	if len(states) != 1 || states[0].Source != "web" {
		t.Errorf("after retiring all but web: %+v", states)
	}
	if err := s.ForwardRetire(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if states, _ = s.ForwardStates(ctx); len(states) != 0 {
		t.Errorf("after retiring every source: %+v", states)
	}
}
