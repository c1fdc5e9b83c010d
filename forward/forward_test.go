package forward_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/forward"
	"github.com/trackplan/trackplan/forward/forwardtest"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/postgres"
	"github.com/trackplan/trackplan/store/sqlite"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// eachStore runs a test on SQLite, and on PostgreSQL when
// TRACKPLAN_TEST_POSTGRES is set (it must be under CI).
func eachStore(t *testing.T, test func(*testing.T, store.Store)) {
	t.Run("sqlite", func(t *testing.T) { test(t, openStore(t)) })
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("TRACKPLAN_TEST_POSTGRES")
		if base == "" {
			if os.Getenv("CI") == "true" {
				t.Fatal("TRACKPLAN_TEST_POSTGRES is not set")
			}
			t.Skip("set TRACKPLAN_TEST_POSTGRES to run on PostgreSQL")
		}
		schema := fmt.Sprintf("tp_forward_%d", time.Now().UnixNano())
		dsn, err := postgres.CreateSchema(context.Background(), base, schema)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { postgres.DropSchema(context.Background(), base, schema) })
		db, err := postgres.Open(context.Background(), dsn, store.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		test(t, db)
	})
}

func openStore(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "fw.db"), store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// msg is a logged track call of a source as a client sent it to a
// single-call route: no type, no messageId in its JSON when id is "".
func msg(source, id, event string, props map[string]any) *trackplan.Message {
	raw := map[string]any{"userId": "u1", "event": event, "properties": props}
	if id != "" {
		raw["messageId"] = id
	} else {
		id = "srv-" + event
	}
	b, _ := json.Marshal(raw)
	return &trackplan.Message{Source: source, Type: trackplan.Track, MessageID: id, UserID: "u1", Event: event,
		Properties: props, Timestamp: t0, ReceivedAt: t0, Raw: b, ClientIP: "203.0.113.7", UserAgent: "Mozilla/5.0 test"}
}

func appendMsgs(t testing.TB, st store.Store, msgs ...*trackplan.Message) {
	t.Helper()
	if _, err := st.Append(context.Background(), &store.LogBatch{Messages: msgs, At: t0}); err != nil {
		t.Fatal(err)
	}
}

// start runs a forwarder for one source "web" to sink until the test ends.
func start(t *testing.T, st forward.Store, sink *forwardtest.Sink, policy forward.Policy, plan func() *trackplan.Plan) *forward.Forwarder {
	t.Helper()
	f, err := forward.New(st, forward.Options{
		Sources:  []forward.Source{{Name: "web", Endpoint: sink.URL, WriteKey: sink.WriteKey, Policy: policy}},
		Plan:     plan,
		Interval: 10 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		BatchRecords: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func state(t *testing.T, st store.Store, source string) store.ForwardState {
	t.Helper()
	ss, err := st.ForwardStates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.Source == source {
			return s
		}
	}
	t.Fatalf("no forwarding state for %s in %+v", source, ss)
	return store.ForwardState{}
}

// TestForwardsAsSent checks what a forwarded message looks like: the
// client's JSON with its messageId, the type and event time it lacked, the
// client's address and user agent unless it set its own, and nothing of
// another source; in log order, in batches, with the forward write key.
func TestForwardsAsSent(t *testing.T) { eachStore(t, testForwardsAsSent) }

func testForwardsAsSent(t *testing.T, st store.Store) {
	sink := forwardtest.NewSink("fw-key")
	defer sink.Close()
	start(t, st, sink, forward.Policy{}, nil)
	waitFor(t, "the cursor", func() bool {
		ss, _ := st.ForwardStates(context.Background())
		return len(ss) == 1
	})
	var want []string
	var msgs []*trackplan.Message
	for i := range 10 {
		m := msg("web", fmt.Sprintf("m%02d", i), "Order Completed", map[string]any{"n": i, "big": json.Number("12345678901234567890")})
		msgs = append(msgs, m, msg("app", fmt.Sprintf("a%02d", i), "Other", nil))
		want = append(want, m.MessageID)
	}
	own := msg("web", "", "Signed In", nil)
	own.Raw = []byte(`{"userId":"u1","event":"Signed In","timestamp":"2026-11-01T08:00:00Z","context":{"ip":"198.51.100.1","library":{"name":"analytics.js"}}}`)
	msgs = append(msgs, own)
	want = append(want, own.MessageID)
	appendMsgs(t, st, msgs...)
	waitFor(t, "11 messages", func() bool { return len(sink.Received()) == 11 })
	if diff := cmp.Diff(want, sink.Order()); diff != "" {
		t.Errorf("arrival order (-want +got):\n%s", diff)
	}
	got := sink.Received()
	m := got["m03"]
	if m["type"] != "track" || m["timestamp"] != "2026-11-02T09:00:00Z" || m["event"] != "Order Completed" {
		t.Errorf("forwarded message = %v; want type track and the event time", m)
	}
	if props := m["properties"].(map[string]any); props["big"] != 12345678901234567890.0 {
		t.Errorf("properties = %v", props)
	}
	ctx := m["context"].(map[string]any)
	if ctx["ip"] != "203.0.113.7" || ctx["userAgent"] != "Mozilla/5.0 test" {
		t.Errorf("context = %v; want the client's ip and user agent", ctx)
	}
	o := got[own.MessageID]
	octx := o["context"].(map[string]any)
	if o["timestamp"] != "2026-11-01T08:00:00Z" || octx["ip"] != "198.51.100.1" || octx["userAgent"] != "Mozilla/5.0 test" || octx["library"] == nil {
		t.Errorf("a message with its own timestamp and ip = %v; want them kept, the user agent added", o)
	}
	if sink.Duplicates() != 0 {
		t.Errorf("%d duplicates without a crash", sink.Duplicates())
	}
	// The cursor moves once the destination acknowledged.
	waitFor(t, "the cursor at the head", func() bool { return state(t, st, "web").Cursor == 21 })
	if s := state(t, st, "web"); s.Forwarded != 11 || s.LastError != "" {
		t.Errorf("state = %+v; want 11 forwarded", s)
	}
}

// TestStartsAtHead: a source that starts forwarding does not send what the
// log held before.
func TestStartsAtHead(t *testing.T) {
	st := openStore(t)
	appendMsgs(t, st, msg("web", "old", "Old", nil))
	sink := forwardtest.NewSink("k")
	defer sink.Close()
	start(t, st, sink, forward.Policy{}, nil)
	waitFor(t, "the cursor", func() bool {
		ss, _ := st.ForwardStates(context.Background())
		return len(ss) == 1
	})
	appendMsgs(t, st, msg("web", "new", "New", nil))
	waitFor(t, "the new message", func() bool { return len(sink.Received()) == 1 })
	if _, ok := sink.Received()["old"]; ok {
		t.Error("a message logged before forwarding started was forwarded")
	}
}

// TestOutageAndRecovery: while the destination is down nothing moves and
// the error is recorded; then everything arrives, once.
func TestOutageAndRecovery(t *testing.T) { eachStore(t, testOutageAndRecovery) }

func testOutageAndRecovery(t *testing.T, st store.Store) {
	sink := forwardtest.NewSink("k")
	defer sink.Close()
	sink.SetDown(true)
	f := start(t, st, sink, forward.Policy{}, nil)
	waitFor(t, "the cursor", func() bool {
		ss, _ := st.ForwardStates(context.Background())
		return len(ss) == 1
	})
	for i := range 9 {
		appendMsgs(t, st, msg("web", fmt.Sprintf("o%d", i), "E", nil))
	}
	waitFor(t, "a recorded error", func() bool { return state(t, st, "web").LastError != "" })
	if s := state(t, st, "web"); s.Forwarded != 0 || s.Cursor != 0 {
		t.Errorf("during the outage: %+v; want nothing forwarded", s)
	}
	lags, err := f.Lags(context.Background())
	if err != nil || len(lags) != 1 || lags[0].Records != 9 {
		t.Errorf("lag during the outage = %+v, %v; want 9 records", lags, err)
	}
	sink.SetDown(false)
	waitFor(t, "9 messages", func() bool { return len(sink.Received()) == 9 })
	waitFor(t, "the cursor at the head", func() bool { return state(t, st, "web").Cursor == 9 })
	waitFor(t, "the error cleared", func() bool { return state(t, st, "web").LastError == "" })
	if sink.Duplicates() != 0 {
		t.Errorf("%d duplicates: a refused batch is not taken", sink.Duplicates())
	}
	lags, _ = f.Lags(context.Background())
	if lags[0].Records != 0 || lags[0].Seconds != 0 {
		t.Errorf("lag after recovery = %+v; want 0", lags)
	}
}

// TestRefusedMessagesHeld: a destination that refuses batches holding
// a bad message takes all the others, in order; the bad ones are held,
// counted, and replayed once it takes them.
func TestRefusedMessagesHeld(t *testing.T) { eachStore(t, testRefusedMessagesHeld) }

func testRefusedMessagesHeld(t *testing.T, st store.Store) {
	sink := forwardtest.NewSink("k")
	defer sink.Close()
	sink.Refuse(func(m map[string]any) bool {
		p, _ := m["properties"].(map[string]any)
		return p["poison"] == true
	})
	f := start(t, st, sink, forward.Policy{}, nil)
	waitFor(t, "the cursor", func() bool {
		ss, _ := st.ForwardStates(context.Background())
		return len(ss) == 1
	})
	var msgs []*trackplan.Message
	var want []string
	for i := range 20 {
		props := map[string]any{"i": i}
		if i == 5 || i == 13 {
			props["poison"] = true
		} else {
			want = append(want, fmt.Sprintf("r%02d", i))
		}
		msgs = append(msgs, msg("web", fmt.Sprintf("r%02d", i), "E", props))
	}
	appendMsgs(t, st, msgs...)
	waitFor(t, "the cursor past all 20", func() bool { return state(t, st, "web").Cursor == 20 })
	if diff := cmp.Diff(want, sink.Order()); diff != "" {
		t.Errorf("taken (-want +got):\n%s", diff)
	}
	s := state(t, st, "web")
	if s.Forwarded != 18 || s.Held[store.HeldRefused] != 2 {
		t.Errorf("state = %+v; want 18 forwarded, 2 refused", s)
	}
	sink.Refuse(nil)
	res, err := f.Replay(context.Background(), "web", t0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 2 || len(res.StillHeld) != 0 || res.Gone != 0 {
		t.Errorf("replay = %+v; want the 2 sent", res)
	}
	if got := sink.Received(); len(got) != 20 {
		t.Errorf("after the replay the destination holds %d messages; want 20", len(got))
	}
	if s := state(t, st, "web"); s.Forwarded != 20 || len(s.Held) != 0 {
		t.Errorf("state after the replay = %+v", s)
	}
}

func plan(events ...*trackplan.Event) *trackplan.Plan {
	return &trackplan.Plan{Version: 1, Events: events}
}

var orderCompleted = &trackplan.Event{Name: "Order Completed", Status: trackplan.StatusLive, Properties: []*trackplan.Property{
	{Name: "total", Type: trackplan.PropNumber, Required: true},
	{Name: "items[].sku", Type: trackplan.PropString},
}}

// TestPolicies runs each enforcement policy over the same messages.
func TestPolicies(t *testing.T) {
	p := plan(orderCompleted, &trackplan.Event{Name: "Old Thing", Status: trackplan.StatusDeprecated})
	msgs := func() []*trackplan.Message {
		return []*trackplan.Message{
			msg("web", "ok", "Order Completed", map[string]any{"total": 5, "items": []any{map[string]any{"sku": "a", "color": "red"}}, "extra": 1}),
			msg("web", "invalid", "Order Completed", map[string]any{"total": "five"}),
			msg("web", "unplanned", "Mystery", map[string]any{"x": 1}),
			msg("web", "deprecated", "Old Thing", nil),
		}
	}
	tests := []struct {
		rules, statuses []string
		forwarded       []string
		held            map[string]int64
		okProps         map[string]any // what "ok" arrives with
	}{
		{rules: []string{"forward"}, forwarded: []string{"ok", "invalid", "unplanned", "deprecated"}, held: map[string]int64{},
			okProps: map[string]any{"total": 5.0, "items": []any{map[string]any{"sku": "a", "color": "red"}}, "extra": 1.0}},
		{rules: []string{"block_unplanned"}, forwarded: []string{"ok", "invalid", "deprecated"},
			held: map[string]int64{store.HeldUnplanned: 1}},
		{rules: []string{"block_unplanned"}, statuses: []string{"deprecated"}, forwarded: []string{"ok", "invalid"},
			held: map[string]int64{store.HeldUnplanned: 2}},
		{rules: []string{"block_invalid"}, forwarded: []string{"ok", "unplanned", "deprecated"},
			held: map[string]int64{store.HeldInvalid: 1}}, // unplanned events are block_unplanned's
		{rules: []string{"strip_unplanned_properties"}, forwarded: []string{"ok", "invalid", "unplanned", "deprecated"}, held: map[string]int64{},
			okProps: map[string]any{"total": 5.0, "items": []any{map[string]any{"sku": "a"}}}},
		{rules: []string{"block_unplanned", "block_invalid", "strip_unplanned_properties"}, forwarded: []string{"ok", "deprecated"},
			held:    map[string]int64{store.HeldUnplanned: 1, store.HeldInvalid: 1},
			okProps: map[string]any{"total": 5.0, "items": []any{map[string]any{"sku": "a"}}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.rules, tt.statuses), func(t *testing.T) {
			pol, err := forward.ParsePolicy(tt.rules, tt.statuses)
			if err != nil {
				t.Fatal(err)
			}
			st := openStore(t)
			sink := forwardtest.NewSink("k")
			defer sink.Close()
			start(t, st, sink, pol, func() *trackplan.Plan { return p })
			waitFor(t, "the cursor", func() bool {
				ss, _ := st.ForwardStates(context.Background())
				return len(ss) == 1
			})
			appendMsgs(t, st, msgs()...)
			waitFor(t, "the cursor past all", func() bool { return state(t, st, "web").Cursor == 4 })
			if diff := cmp.Diff(tt.forwarded, sink.Order()); diff != "" {
				t.Errorf("forwarded (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.held, state(t, st, "web").Held); diff != "" {
				t.Errorf("held (-want +got):\n%s", diff)
			}
			if tt.okProps != nil {
				if diff := cmp.Diff(tt.okProps, sink.Received()["ok"]["properties"]); diff != "" {
					t.Errorf("properties of ok (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestReplayAfterPlanEdit: an unplanned event blocked by the policy is
// forwarded by a replay once the plan names it; one still unplanned stays.
func TestReplayAfterPlanEdit(t *testing.T) { eachStore(t, testReplayAfterPlanEdit) }

func testReplayAfterPlanEdit(t *testing.T, st store.Store) {
	sink := forwardtest.NewSink("k")
	defer sink.Close()
	var current atomic.Pointer[trackplan.Plan]
	current.Store(plan(orderCompleted))
	pol, _ := forward.ParsePolicy([]string{"block_unplanned"}, nil)
	f := start(t, st, sink, pol, current.Load)
	waitFor(t, "the cursor", func() bool {
		ss, _ := st.ForwardStates(context.Background())
		return len(ss) == 1
	})
	appendMsgs(t, st, msg("web", "new1", "Trial Started", nil), msg("web", "new2", "Trial Started", nil),
		msg("web", "never", "Never Planned", nil), msg("web", "ok", "Order Completed", map[string]any{"total": 1}))
	waitFor(t, "the cursor past all", func() bool { return state(t, st, "web").Cursor == 4 })
	if got := sink.Order(); !slices.Equal(got, []string{"ok"}) {
		t.Fatalf("forwarded %v; want only ok", got)
	}
	res, err := f.Replay(context.Background(), "web", t0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 0 || res.StillHeld[store.HeldUnplanned] != 3 {
		t.Errorf("replay before the plan edit = %+v; want all 3 still held", res)
	}
	current.Store(plan(orderCompleted, &trackplan.Event{Name: "Trial Started"}))
	if res, err = f.Replay(context.Background(), "web", t0); err != nil {
		t.Fatal(err)
	}
	if res.Sent != 2 || res.StillHeld[store.HeldUnplanned] != 1 {
		t.Errorf("replay after the plan edit = %+v; want 2 sent, 1 still held", res)
	}
	if got := sink.Order(); !slices.Equal(got, []string{"ok", "new1", "new2"}) {
		t.Errorf("forwarded %v", got)
	}
	if res, _ = f.Replay(context.Background(), "web", t0.Add(time.Hour)); res.Sent+len(res.StillHeld) != 0 {
		t.Errorf("replay since after every arrival = %+v; want nothing", res)
	}
}

// TestWaitsForPlan: a policy that judges against the plan forwards nothing
// until a plan is loaded.
func TestWaitsForPlan(t *testing.T) {
	st := openStore(t)
	sink := forwardtest.NewSink("k")
	defer sink.Close()
	var current atomic.Pointer[trackplan.Plan]
	pol, _ := forward.ParsePolicy([]string{"block_unplanned"}, nil)
	head, _ := st.LogHead(context.Background())
	if _, err := st.ForwardStart(context.Background(), "web", head); err != nil {
		t.Fatal(err)
	}
	start(t, st, sink, pol, current.Load)
	appendMsgs(t, st, msg("web", "x", "Order Completed", map[string]any{"total": 1}))
	time.Sleep(100 * time.Millisecond)
	if n := sink.Requests(); n != 0 {
		t.Fatalf("%d requests before a plan was loaded", n)
	}
	current.Store(plan(orderCompleted))
	waitFor(t, "the message", func() bool { return len(sink.Received()) == 1 })
}

func TestParsePolicy(t *testing.T) {
	bad := []struct {
		rules, statuses []string
	}{
		{rules: []string{"block_everything"}},
		{rules: []string{"forward", "block_invalid"}},
		{rules: []string{"block_invalid"}, statuses: []string{"deprecated"}},
		{rules: []string{"block_unplanned"}, statuses: []string{"retired"}},
	}
	for _, b := range bad {
		if _, err := forward.ParsePolicy(b.rules, b.statuses); err == nil {
			t.Errorf("ParsePolicy(%v, %v) = nil error", b.rules, b.statuses)
		}
	}
	p, err := forward.ParsePolicy([]string{"block_invalid", "strip_unplanned_properties"}, nil)
	if err != nil || p.String() != "block_invalid,strip_unplanned_properties" || !p.NeedsPlan() {
		t.Errorf("ParsePolicy = %+v (%s), %v", p, p, err)
	}
	if p, _ := forward.ParsePolicy(nil, nil); p.NeedsPlan() || p.String() != "forward" {
		t.Errorf("the empty policy = %s; want forward", p)
	}
}

// TestTwoForwarders: two forwarders on one store (two replicas while the
// leadership changes hands) send every message, first arrivals in log
// order, and the cursor never moves back.
func TestTwoForwarders(t *testing.T) { eachStore(t, testTwoForwarders) }

func testTwoForwarders(t *testing.T, st store.Store) {
	sink := forwardtest.NewSink("k")
	defer sink.Close()
	start(t, st, sink, forward.Policy{}, nil)
	start(t, st, sink, forward.Policy{}, nil)
	waitFor(t, "the cursor", func() bool {
		ss, _ := st.ForwardStates(context.Background())
		return len(ss) == 1
	})
	var want []string
	for blk := range 10 {
		var msgs []*trackplan.Message
		for i := range 20 {
			m := msg("web", fmt.Sprintf("t%02d-%02d", blk, i), "E", nil)
			msgs = append(msgs, m)
			want = append(want, m.MessageID)
		}
		appendMsgs(t, st, msgs...)
	}
	waitFor(t, "200 messages", func() bool { return len(sink.Received()) == 200 })
	waitFor(t, "the cursor at the head", func() bool { return state(t, st, "web").Cursor == 200 })
	var first []string
	seen := map[string]bool{}
	for _, id := range sink.Order() {
		if !seen[id] {
			seen[id] = true
			first = append(first, id)
		}
	}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("first arrivals (-want +got):\n%s", diff)
	}
	if s := state(t, st, "web"); s.Forwarded != 200 {
		t.Errorf("forwarded count %d; want 200: a batch two forwarders sent counts once", s.Forwarded)
	}
}

// TestRedirectNotFollowed: an endpoint that redirects is an error to fix,
// never an acknowledgement (a POST redirected becomes a GET without the
// batch).
func TestRedirectNotFollowed(t *testing.T) {
	st := openStore(t)
	sink := forwardtest.NewSink("k")
	defer sink.Close()
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, sink.URL+"/v1/batch?token=secret", http.StatusMovedPermanently)
	}))
	defer moved.Close()
	f, err := forward.New(st, forward.Options{Sources: []forward.Source{{Name: "web", Endpoint: moved.URL, WriteKey: "k"}},
		Interval: 10 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	appendMsgs(t, st, msg("web", "r1", "E", nil))
	waitFor(t, "an error", func() bool { return state(t, st, "web").LastError != "" })
	s := state(t, st, "web")
	if s.Cursor != 0 || sink.Requests() != 0 || !strings.Contains(s.LastError, "redirected") || strings.Contains(s.LastError, "secret") {
		t.Errorf("after a redirect: %+v, %d sink requests; want the cursor kept, nothing sent, the location without its query", s, sink.Requests())
	}
}
