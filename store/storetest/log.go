package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/identity"
	"github.com/trackplan/trackplan/store"
)

// Dumper is implemented by stores that can list their derived tables as
// text (for comparing a live store with a rebuild).
type Dumper interface {
	DumpDerived(ctx context.Context) (map[string][]string, error)
}

func readAll(t *testing.T, s store.Store, after int64) []store.Record {
	t.Helper()
	var recs []store.Record
	next := after + 1
	err := s.ReadLog(context.Background(), after, 1<<30, func(b store.LogBlock) error {
		if b.First < next {
			t.Errorf("block starts at %d; want %d or later (blocks in order)", b.First, next)
		}
		next = b.Last + 1
		rs, err := store.DecodeBlock(b)
		recs = append(recs, rs...)
		return err
	})
	if err != nil {
		t.Fatalf("ReadLog: %v", err)
	}
	return recs
}

func testLogRoundTrip(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	m1 := track("m1", "u1", "acme", "Report Exported", t0, map[string]any{"format": "csv", "n": 2.5, "tags": []any{"a", true, nil}})
	m2 := call(trackplan.Identify, "m2", "u1", "", t0.Add(time.Minute), map[string]any{"email": "a@b.co"})
	m2.Message.AnonymousID = "anon-1"
	rej := trackplan.Rejection{Source: "web", Reason: "invalid_utf8", Sample: []byte("{\"x\":\"\xff\"}"), ReceivedAt: t0}
	r, err := s.Append(ctx, &store.LogBatch{Messages: []*trackplan.Message{m1.Message, m2.Message, m1.Message},
		Rejections: []trackplan.Rejection{rej}, At: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(store.IngestResult{Stored: 2, Duplicates: 1, Rejected: 1}, r); diff != "" {
		t.Errorf("first append (-want +got):\n%s", diff)
	}
	if r, err := s.Append(ctx, &store.LogBatch{Messages: []*trackplan.Message{m1.Message}, At: t0.Add(2 * time.Hour)}); err != nil || r.Stored != 0 {
		t.Errorf("resend: %+v, %v; want a duplicate, no block", r, err)
	}

	recs := readAll(t, s, 0)
	if len(recs) != 3 {
		t.Fatalf("log holds %d records; want 2 messages and 1 rejection", len(recs))
	}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Errorf("record %d has sequence number %d", i, r.Seq)
		}
	}
	if diff := cmp.Diff(m1.Message, recs[0].Message, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("message round trip (-appended +logged):\n%s", diff)
	}
	if diff := cmp.Diff(m2.Message, recs[1].Message, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("identify round trip (-appended +logged):\n%s", diff)
	}
	if diff := cmp.Diff(&rej, recs[2].Rejection); diff != "" {
		t.Errorf("rejection round trip (-appended +logged):\n%s", diff)
	}
	if head, err := s.LogHead(ctx); err != nil || head != 3 {
		t.Errorf("LogHead = %d, %v; want 3", head, err)
	}
	st, err := s.LogStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.First != 1 || st.Last != 3 || st.Blocks != 1 || st.Records != 3 || st.Bytes == 0 || !st.Oldest.Equal(t0.Add(time.Hour)) || st.Pruned {
		t.Errorf("LogStats = %+v", st)
	}
	if got := readAll(t, s, 3); len(got) != 0 {
		t.Errorf("reading after the head gave %d records", len(got))
	}
}

func testApplyCursor(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	if _, err := s.Append(ctx, &store.LogBatch{Messages: []*trackplan.Message{track("m1", "u1", "", "Signed In", t0, nil).Message}}); err != nil {
		t.Fatal(err)
	}
	b := &store.Batch{Messages: []store.Checked{{Message: readAll(t, s, 0)[0].Message}}}
	if err := s.Apply(ctx, 5, 1, b); !errors.Is(err, store.ErrCursorMoved) {
		t.Fatalf("Apply from a cursor the store is not at: %v; want ErrCursorMoved", err)
	}
	if o := observed(t, s); o.Totals.Messages != 0 {
		t.Errorf("a refused Apply changed the derived state: %+v", o.Totals)
	}
	if err := s.Apply(ctx, 0, 1, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, 0, 1, b); !errors.Is(err, store.ErrCursorMoved) {
		t.Errorf("the same records applied twice: %v", err)
	}
	if c, err := s.Cursor(ctx); err != nil || c != 1 {
		t.Errorf("Cursor = %d, %v; want 1", c, err)
	}
	// Records read before an erasure are refused once it happened.
	if _, err := s.Append(ctx, &store.LogBatch{Messages: []*trackplan.Message{track("m2", "u2", "", "Signed In", t0, nil).Message}}); err != nil {
		t.Fatal(err)
	}
	epoch, _ := s.Epoch(ctx)
	stale := &store.Batch{Messages: []store.Checked{{Message: readAll(t, s, 1)[0].Message}}, Epoch: epoch}
	if err := s.ForgetDerived(ctx, []string{"u2"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, 1, 2, stale); !errors.Is(err, store.ErrCursorMoved) {
		t.Errorf("Apply of records read before an erasure: %v; want ErrCursorMoved", err)
	}
	if o := observed(t, s); o.Totals.Messages != 1 || o.Totals.Users != 1 {
		t.Errorf("totals after one Apply: %+v", o.Totals)
	}
}

func testResetAndRebuild(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	v := []trackplan.Violation{{Code: trackplan.TypeMismatch, Path: "format", Expected: "string", Observed: "number"}}
	msgs := []store.Checked{
		track("m1", "u1", "acme", "Report Exported", t0, map[string]any{"format": 3.0}),
		call(trackplan.Group, "m2", "u1", "acme", t0, map[string]any{"name": "Acme"}),
		call(trackplan.Identify, "m3", "u1", "", t0, map[string]any{"email": "x@y.zz"}),
		track("m4", "u2", "", "Signed In", t0.Add(time.Hour), nil),
	}
	msgs[0].Violations = v
	if _, err := Ingest(ctx, s, t0, msgs[:2], nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Ingest(ctx, s, t0, append(msgs[2:], msgs[0]), []trackplan.Rejection{{Source: "web", Reason: "missing_event", Sample: []byte("{}"), ReceivedAt: t0}}); err != nil {
		t.Fatal(err)
	}
	want := observed(t, s)
	var wantDump map[string][]string
	d, canDump := s.(Dumper)
	if canDump {
		var err error
		if wantDump, err = d.DumpDerived(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ResetDerived(ctx); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Cursor(ctx); c != 0 {
		t.Errorf("cursor after reset = %d", c)
	}
	if o := observed(t, s); o.Totals != (store.Totals{Duplicates: 1}) || len(o.Events) != 0 {
		t.Errorf("after reset: %+v, %d events; want only the duplicate count", o.Totals, len(o.Events))
	}
	if err := Derive(ctx, s, func(m *trackplan.Message) []trackplan.Violation {
		if m.MessageID == "m1" {
			return v
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, observed(t, s)); diff != "" {
		t.Errorf("rebuilt observed differs (-live +rebuilt):\n%s", diff)
	}
	if canDump {
		got, err := d.DumpDerived(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantDump, got); diff != "" {
			t.Errorf("rebuilt tables differ (-live +rebuilt):\n%s", diff)
		}
	}
}

func testPruneLog(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	for day := range 3 {
		at := t0.AddDate(0, 0, day)
		m := track("d"+string(rune('0'+day)), "u1", "", "Signed In", at, nil)
		if _, err := s.Append(ctx, &store.LogBatch{Messages: []*trackplan.Message{m.Message}, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing applied yet: nothing may go, whatever its age.
	if p, err := s.PruneLog(ctx, t0.AddDate(0, 0, 5)); err != nil || p.Blocks != 0 {
		t.Fatalf("prune before deriving: %+v, %v; want nothing dropped", p, err)
	}
	if err := Derive(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
	// Whole days of arrival: a cutoff in the middle of day 2 drops days 0 and 1.
	p, err := s.PruneLog(ctx, t0.AddDate(0, 0, 2).Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if p.Blocks != 2 || p.Records != 2 || p.Through != 2 {
		t.Errorf("pruned %+v; want days 0 and 1 (records 1-2)", p)
	}
	recs := readAll(t, s, 0)
	if len(recs) != 1 || recs[0].Seq != 3 {
		t.Errorf("after prune the log holds %+v; want record 3", recs)
	}
	if st, _ := s.LogStats(ctx); !st.Pruned || st.First != 3 {
		t.Errorf("LogStats after prune = %+v; want pruned from 3", st)
	}
	if o := observed(t, s); o.Totals.Messages != 3 {
		t.Errorf("pruning the log changed derived state: %+v", o.Totals)
	}
}

func testRewriteLog(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	var msgs []*trackplan.Message
	for i, u := range []string{"keep", "gone", "keep", "gone"} {
		msgs = append(msgs, track("r"+string(rune('0'+i)), u, "", "Signed In", t0, nil).Message)
	}
	if _, err := s.Append(ctx, &store.LogBatch{Messages: msgs[:2]}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, &store.LogBatch{Messages: msgs[3:]}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, &store.LogBatch{Messages: msgs[2:3]}); err != nil {
		t.Fatal(err)
	}
	err := s.RewriteLog(ctx, func(b store.LogBlock) ([]byte, int, bool, error) {
		return store.EraseRecords(b, func(r *store.Record) bool { return r.Message != nil && r.Message.UserID == "gone" })
	})
	if err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, s, 0)
	var got []int64
	for _, r := range recs {
		if r.Message.UserID != "keep" {
			t.Errorf("record %d of %s survived the rewrite", r.Seq, r.Message.UserID)
		}
		got = append(got, r.Seq)
	}
	if diff := cmp.Diff([]int64{1, 4}, got); diff != "" {
		t.Errorf("sequence numbers after erasing (-want +got):\n%s", diff)
	}
	if st, _ := s.LogStats(ctx); st.Records != 2 || st.Blocks != 2 {
		t.Errorf("LogStats after erasing = %+v; want 2 records in 2 blocks", st)
	}
}

func testForgetDerived(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	gone := call(trackplan.Identify, "f0", "gone", "", t0, nil)
	gone.Message.AnonymousID = "anon-gone"
	ingest(t, s, gone,
		call(trackplan.Identify, "f1", "gone", "", t0, map[string]any{"email": "gone@example.com"}),
		call(trackplan.Group, "f2", "gone", "acct", t0, map[string]any{"name": "Acct"}),
		track("f3", "gone", "acct", "Signed In", t0, nil),
		track("f4", "stay", "acct", "Signed In", t0, nil),
	)
	if g, err := identity.Load(ctx, s); err != nil || g.Resolve("anon-gone") != "gone" {
		t.Errorf("anon-gone does not resolve to gone (%v)", err)
	}
	if err := s.ForgetDerived(ctx, []string{"gone", "anon-gone"}, nil, []string{"gone", "gone@example.com"}); err != nil {
		t.Fatal(err)
	}
	var users []string
	s.Users(ctx, func(id string, _, _ time.Time) error { users = append(users, id); return nil })
	if diff := cmp.Diff([]string{"stay"}, users); diff != "" {
		t.Errorf("users after forget (-want +got):\n%s", diff)
	}
	s.Memberships(ctx, func(u, g string) error {
		if u == "gone" {
			t.Errorf("membership of the forgotten user kept")
		}
		return nil
	})
	s.UserTraits(ctx, []string{"email"}, func(u, _ string, _ json.RawMessage, _ time.Time) error {
		t.Errorf("trait of %s kept", u)
		return nil
	})
	if d, ok := s.(Dumper); ok {
		dump, err := d.DumpDerived(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for table, rows := range dump {
			for _, r := range rows {
				if containsWord(r, "gone") {
					t.Errorf("table %s still mentions the forgotten user: %s", table, r)
				}
			}
		}
	}
}

func containsWord(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if s[i:i+len(w)] == w {
			return true
		}
	}
	return false
}
