package sync

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/ingest"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/store"
)

var t0 = time.Date(2026, 11, 20, 6, 0, 0, 0, time.UTC)

func newTestPush(t *testing.T, db PushStore, client segment.ClientConfig, cfg PushConfig, clk *clock) *Push {
	t.Helper()
	p, err := NewPush(db, client, cfg, clk.now, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func runPush(t *testing.T, p *Push) PushResult {
	t.Helper()
	res, err := p.Run(context.Background())
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	return res
}

func TestPushSendsOnlyWhatChanged(t *testing.T) {
	db := openStore(t)
	sk := newSink(t)
	clk := newClock(t0)
	run := fixture(trackplan.DefaultProfileName, t0.Add(-time.Hour), 8)
	saveRun(t, db, run)
	p := newTestPush(t, db, sk.clientConfig(), DefaultPushConfig(), clk)

	// First run: every account and every user.
	res := runPush(t, p)
	_, _, accepted, _ := sk.snapshot()
	if diff := cmp.Diff(allKeys(run), keysOf(accepted)); diff != "" {
		t.Errorf("first run sent (-want +got):\n%s", diff)
	}
	want := PushResult{At: t0, Accounts: PushCounts{Added: 8, Sent: 8, Acknowledged: 8}, Users: PushCounts{Added: 16, Sent: 16, Acknowledged: 16},
		Profiles: []ProfileResult{{Profile: "default", SnapshotAt: run.At,
			Accounts: PushCounts{Added: 8, Sent: 8, Acknowledged: 8}, Users: PushCounts{Added: 16, Sent: 16, Acknowledged: 16}}}}
	if diff := cmp.Diff(want, res, cmpopts.IgnoreFields(PushResult{}, "Took"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("first run result (-want +got):\n%s", diff)
	}
	last := fixtureLastActive.Format(time.RFC3339)
	byKey := map[store.LedgerKey]sinkItem{}
	for _, it := range accepted {
		byKey[it.entity()] = it
	}
	wantItems := []sinkItem{
		{Type: "group", GroupID: "acct-000", UserID: "user-000-b", Timestamp: "2026-11-20T06:00:00Z", Traits: map[string]any{
			"engagement_score": 10.5, "engagement_total_score": 20.0, "engagement_tier": "least_engaged", "engagement_trend": -2.0,
			"engagement_active_users": 1.0, "engagement_total_users": 2.0, "engagement_active_pct": 50.0, "engagement_frequency": 1.0,
			"engagement_last_active": last, "engagement_adoption": 33.3, "engagement_activation": 66.7}},
		// An account without active users: the group call's userId is its
		// first user.
		{Type: "group", GroupID: "acct-003", UserID: "user-003-a", Timestamp: "2026-11-20T06:00:00Z", Traits: map[string]any{
			"engagement_score": 0.0, "engagement_total_score": 23.0, "engagement_tier": "inactive", "engagement_trend": 1.0,
			"engagement_active_users": 0.0, "engagement_total_users": 2.0, "engagement_active_pct": 0.0, "engagement_frequency": 4.0,
			"engagement_last_active": nil, "engagement_adoption": 33.3, "engagement_activation": nil}},
		{Type: "identify", UserID: "user-000-b", Timestamp: "2026-11-20T06:00:00Z", Traits: map[string]any{
			"engagement_score": 20.0, "engagement_tier": "least_engaged", "engagement_trend": 0.0, "engagement_frequency": 1.0,
			"engagement_last_active": last, "engagement_adoption": 20.0, "engagement_activation": nil}},
		{Type: "identify", UserID: "user-000-a", Timestamp: "2026-11-20T06:00:00Z", Traits: map[string]any{
			"engagement_score": 0.0, "engagement_tier": "inactive", "engagement_trend": 0.0, "engagement_frequency": 0.0,
			"engagement_last_active": nil, "engagement_adoption": 0.0, "engagement_activation": nil}},
	}
	for _, w := range wantItems {
		got := byKey[w.entity()]
		if !strings.HasPrefix(got.MessageID, "tp-") || len(got.MessageID) != 35 {
			t.Errorf("%v: messageId %q; want tp- and 32 hex digits", w.entity(), got.MessageID)
		}
		got.MessageID = ""
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("%v (-want +got):\n%s", w.entity(), diff)
		}
	}
	ledger := ledgerOf(t, db, "default")
	if len(ledger) != 24 {
		t.Errorf("ledger holds %d entries; want 24", len(ledger))
	}
	var acked map[string]any
	if err := json.Unmarshal(ledger[store.LedgerKey{Kind: store.EntityAccount, ID: "acct-000"}].Traits, &acked); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantItems[0].Traits, acked); diff != "" {
		t.Errorf("acknowledged traits (-want +got):\n%s", diff)
	}

	// Second run, nothing changed: not a single request.
	sk.reset()
	clk.add(time.Hour)
	res = runPush(t, p)
	if n, _, _, _ := sk.snapshot(); n != 0 {
		t.Errorf("a push with nothing changed made %d requests", n)
	}
	if diff := cmp.Diff(PushCounts{Unchanged: 8}, res.Accounts); diff != "" {
		t.Errorf("unchanged accounts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(PushCounts{Unchanged: 16}, res.Users); diff != "" {
		t.Errorf("unchanged users (-want +got):\n%s", diff)
	}

	// A new snapshot where one account's score changed: that group call
	// only.
	next := fixture(trackplan.DefaultProfileName, t0.Add(30*time.Minute), 8)
	next.Accounts[5].AverageScore += 1.5
	saveRun(t, db, next)
	res = runPush(t, p)
	n, _, accepted, _ := sk.snapshot()
	if n != 1 || len(accepted) != 1 || accepted[0].GroupID != "acct-005" || accepted[0].Traits["engagement_score"] != next.Accounts[5].AverageScore {
		t.Errorf("after one account changed: %d requests, %+v; want one group call for acct-005", n, accepted)
	}
	if diff := cmp.Diff(PushCounts{Changed: 1, Unchanged: 7, Sent: 1, Acknowledged: 1}, res.Accounts); diff != "" {
		t.Errorf("accounts (-want +got):\n%s", diff)
	}
	if got := res.Counts(); got["changed"] != 1 || got["unchanged"] != 23 || got["sent"] != 1 {
		t.Errorf("run-log counts = %v", got)
	}
}

func TestPushOutage(t *testing.T) {
	db := openStore(t)
	sk := newSink(t)
	clk := newClock(t0)
	run := fixture(trackplan.DefaultProfileName, t0.Add(-time.Hour), 6)
	saveRun(t, db, run)
	// The endpoint answers 503 a few times, then stops answering at all.
	sk.setAnswer(func(n int, _ []sinkItem) sinkAnswer {
		if n <= 3 {
			return sinkAnswer{status: http.StatusServiceUnavailable}
		}
		return sinkAnswer{hang: true}
	})
	client := sk.clientConfig()
	client.Timeout = 50 * time.Millisecond
	p := newTestPush(t, db, client, DefaultPushConfig(), clk)

	res, err := p.Run(context.Background())
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrUpstream) {
		t.Fatalf("push during an outage: %v; want ErrUnavailable and ErrUpstream", err)
	}
	if diff := cmp.Diff(PushCounts{Added: 6, Sent: 6, Failed: 6, Pending: 6}, res.Accounts); diff != "" {
		t.Errorf("accounts (-want +got):\n%s", diff)
	}
	if got := ledgerOf(t, db, "default"); len(got) != 0 {
		t.Errorf("%d entries acknowledged during an outage", len(got))
	}
	fails := failuresOf(t, db, "default")
	if diff := cmp.Diff(allKeys(run), countKeys(fails)); diff != "" {
		t.Errorf("pending keys (-want +got):\n%s", diff)
	}
	for k, f := range fails {
		if f.Status != store.FailurePending || f.Attempts != 1 || (f.Reason != "transport" && f.Reason != "http_503") || f.Error == "" {
			t.Errorf("%v: failure %+v; want pending after one attempt, with its reason", k, f)
		}
	}
	_, attempted, accepted, _ := sk.snapshot()
	if len(accepted) != 0 {
		t.Errorf("sink accepted %d messages during the outage", len(accepted))
	}
	firstIDs := map[string]int{}
	for id := range idsOf(attempted) {
		firstIDs[id] = 1
	}

	// The endpoint is back: exactly the pending messages, once each, with
	// the messageIds of the first attempt.
	sk.reset()
	sk.setAnswer(nil)
	clk.add(time.Hour)
	res = runPush(t, p)
	_, _, accepted, _ = sk.snapshot()
	if diff := cmp.Diff(firstIDs, idsOf(accepted)); diff != "" {
		t.Errorf("messageIds after the outage (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(allKeys(run), keysOf(accepted)); diff != "" {
		t.Errorf("entities after the outage (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(PushCounts{Retried: 12, Sent: 12, Acknowledged: 12}, res.Users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	if got := failuresOf(t, db, "default"); len(got) != 0 {
		t.Errorf("failures left after a clean retry: %v", got)
	}
	if got := ledgerOf(t, db, "default"); len(got) != 18 {
		t.Errorf("ledger holds %d entries; want 18", len(got))
	}
	sk.reset()
	runPush(t, p)
	if n, _, _, _ := sk.snapshot(); n != 0 {
		t.Errorf("third push made %d requests; want none", n)
	}
}

func TestPushCutShort(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration // of the run's context
		maxWait time.Duration
		want    error
	}{
		{"context ends", 150 * time.Millisecond, 0, context.DeadlineExceeded},
		{"maximum wait", 0, 150 * time.Millisecond, ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t)
			sk := newSink(t)
			clk := newClock(t0)
			run := fixture(trackplan.DefaultProfileName, t0.Add(-time.Hour), 4)
			saveRun(t, db, run)
			sk.setAnswer(func(int, []sinkItem) sinkAnswer { return sinkAnswer{hang: true} })
			client := sk.clientConfig()
			client.Timeout = 400 * time.Millisecond
			cfg := DefaultPushConfig()
			cfg.MaxWait = tt.maxWait
			p := newTestPush(t, db, client, cfg, clk)
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			start := time.Now()
			res, err := p.Run(ctx)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrUnavailable) {
				t.Errorf("Run = %v; want %v and ErrUnavailable", err, tt.want)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("a cut-short push took %s", took)
			}
			if total := res.Total(); total.Pending != 12 || total.Acknowledged != 0 {
				t.Errorf("totals = %+v; want all 12 pending", total)
			}
			if diff := cmp.Diff(allKeys(run), countKeys(failuresOf(t, db, "default"))); diff != "" {
				t.Errorf("pending keys (-want +got):\n%s", diff)
			}
		})
	}
}

func countKeys[V any](m map[store.LedgerKey]V) map[store.LedgerKey]int {
	out := map[store.LedgerKey]int{}
	for k := range m {
		out[k] = 1
	}
	return out
}

func TestPushPartialFailure(t *testing.T) {
	db := openStore(t)
	sk := newSink(t)
	clk := newClock(t0)
	run := fixture(trackplan.DefaultProfileName, t0.Add(-time.Hour), 27) // 81 messages
	saveRun(t, db, run)
	sk.setAnswer(func(n int, _ []sinkItem) sinkAnswer {
		if n%7 == 0 {
			return sinkAnswer{status: http.StatusBadRequest}
		}
		return sinkAnswer{}
	})
	client := sk.clientConfig()
	client.BatchSize = 3
	client.Interval = time.Minute // batches of exactly 3: 81 messages, 27 batches
	p := newTestPush(t, db, client, DefaultPushConfig(), clk)

	res, err := p.Run(context.Background())
	if !errors.Is(err, ErrRejected) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("push with refused batches: %v; want ErrRejected only", err)
	}
	requests, attempted, accepted, refused := sk.snapshot()
	if requests != 27 || len(attempted) != 81 || len(idsOf(attempted)) != 81 {
		t.Errorf("%d requests carrying %d messages (%d distinct); want 27 batches, each sent once",
			requests, len(attempted), len(idsOf(attempted)))
	}
	if len(refused) != 9 {
		t.Fatalf("sink refused %d messages; want 3 batches of 3", len(refused))
	}
	total := res.Total()
	if total.Rejected != 9 || total.Acknowledged != 72 || total.Pending != 0 {
		t.Errorf("totals = %+v; want 9 rejected, 72 acknowledged", total)
	}
	fails := failuresOf(t, db, "default")
	if diff := cmp.Diff(keysOf(refused), countKeys(fails)); diff != "" {
		t.Errorf("failed keys (-want +got):\n%s", diff)
	}
	refusedIDs := idsOf(refused)
	for k, f := range fails {
		if f.Status != store.FailureRejected || f.Reason != "http_400" || f.Attempts != 1 || refusedIDs[f.MessageID] != 1 {
			t.Errorf("%v: failure %+v; want rejected http_400 with the refused messageId", k, f)
		}
	}
	if diff := cmp.Diff(keysOf(accepted), countKeys(ledgerOf(t, db, "default"))); diff != "" {
		t.Errorf("acknowledged keys (-want +got):\n%s", diff)
	}

	// Next run: the failed keys again, with the same messageIds; nothing
	// else.
	sk.reset()
	sk.setAnswer(nil)
	res = runPush(t, p)
	_, _, accepted, _ = sk.snapshot()
	if diff := cmp.Diff(refusedIDs, idsOf(accepted)); diff != "" {
		t.Errorf("retried messages (-want +got):\n%s", diff)
	}
	if total := res.Total(); total.Retried != 9 || total.Unchanged != 72 || total.Acknowledged != 9 {
		t.Errorf("retry totals = %+v", total)
	}
	if got := failuresOf(t, db, "default"); len(got) != 0 {
		t.Errorf("failures left: %v", got)
	}
}

func TestPushOversizeMessage(t *testing.T) {
	db := openStore(t)
	sk := newSink(t)
	clk := newClock(t0)
	run := fixture(trackplan.DefaultProfileName, t0.Add(-time.Hour), 3)
	// An account whose group call is over Segment's 32 KB.
	huge := "acct-" + strings.Repeat("x", 33_000)
	run.Accounts = append(run.Accounts, trackplan.AccountScore{ID: huge, AverageScore: 50, Band: trackplan.BandEngaged, LastActiveUser: "user-000-a"})
	saveRun(t, db, run)
	p := newTestPush(t, db, sk.clientConfig(), DefaultPushConfig(), clk)

	res, err := p.Run(context.Background())
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("push with an oversize message: %v; want ErrRejected", err)
	}
	if !strings.Contains(err.Error(), "message_too_big") {
		t.Errorf("error %q does not give the reason", err)
	}
	if diff := cmp.Diff(PushCounts{Added: 4, Sent: 4, Acknowledged: 3, Failed: 1, Rejected: 1}, res.Accounts); diff != "" {
		t.Errorf("accounts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"message_too_big": 1}, res.Profiles[0].Failures); diff != "" {
		t.Errorf("failure reasons (-want +got):\n%s", diff)
	}
	fails := failuresOf(t, db, "default")
	f, ok := fails[store.LedgerKey{Kind: store.EntityAccount, ID: huge}]
	if len(fails) != 1 || !ok || f.Status != store.FailureRejected || f.Reason != "message_too_big" || !strings.Contains(f.Error, "exceeds the maximum") {
		t.Errorf("%d failures, the oversize account's: %v %q %q; want it rejected as message_too_big", len(fails), f.Status, f.Reason, f.Error)
	}
	_, attempted, _, _ := sk.snapshot()
	if keysOf(attempted)[store.LedgerKey{Kind: store.EntityAccount, ID: huge}] != 0 {
		t.Error("the oversize message reached the endpoint")
	}
	// It is tried again on the next run, and fails again.
	sk.reset()
	res, err = p.Run(context.Background())
	if !errors.Is(err, ErrRejected) || res.Accounts.Retried != 1 || res.Accounts.Unchanged != 3 {
		t.Errorf("second run: %v, %+v; want the oversize account retried and refused", err, res.Accounts)
	}
	if f := failuresOf(t, db, "default")[store.LedgerKey{Kind: store.EntityAccount, ID: huge}]; f.Attempts != 2 {
		t.Errorf("attempts = %d; want 2", f.Attempts)
	}
}

func TestPushHonoursRetryAfter(t *testing.T) {
	db := openStore(t)
	sk := newSink(t)
	clk := newClock(t0)
	saveRun(t, db, fixture(trackplan.DefaultProfileName, t0.Add(-time.Hour), 2))
	sk.setAnswer(func(n int, _ []sinkItem) sinkAnswer {
		if n == 1 {
			return sinkAnswer{status: http.StatusTooManyRequests, retryAfter: "1"}
		}
		return sinkAnswer{}
	})
	client := sk.clientConfig()
	client.BatchSize = 100
	client.Now = time.Now // the hold is measured on the real clock
	p := newTestPush(t, db, client, DefaultPushConfig(), clk)
	res := runPush(t, p)
	if res.Total().Acknowledged != 6 {
		t.Errorf("acknowledged %d; want 6", res.Total().Acknowledged)
	}
	sk.mu.Lock()
	defer sk.mu.Unlock()
	if len(sk.times) != 2 {
		t.Fatalf("%d requests; want the 429 and one retry", len(sk.times))
	}
	if gap := sk.times[1].Sub(sk.times[0]); gap < 900*time.Millisecond {
		t.Errorf("retried %s after a 429 with Retry-After: 1", gap)
	}
}

func TestPushMessageIDs(t *testing.T) {
	db := openStore(t)
	sk := newSink(t)
	clk := newClock(t0)
	p := newTestPush(t, db, sk.clientConfig(), PushConfig{Identify: false}, clk)
	snap := func(at time.Time, score float64) {
		saveRun(t, db, &trackplan.ScoreRun{Profile: "default", At: at,
			Accounts: []trackplan.AccountScore{{ID: "acme", AverageScore: score, Band: trackplan.BandOf(score, true), LastActiveUser: "u1"}}})
	}
	sent := func() string {
		t.Helper()
		_, _, accepted, _ := sk.snapshot()
		sk.reset()
		if len(accepted) != 1 {
			t.Fatalf("accepted %d messages; want 1", len(accepted))
		}
		return accepted[0].MessageID
	}
	snap(t0.Add(-3*time.Hour), 60)
	runPush(t, p)
	first := sent()
	// 60 → 70, refused, → back to 60: sent again (it was retried), under
	// a new messageId, so Segment does not drop it as a duplicate of the
	// first.
	snap(t0.Add(-2*time.Hour), 70)
	sk.setAnswer(func(int, []sinkItem) sinkAnswer { return sinkAnswer{status: http.StatusUnprocessableEntity} })
	if _, err := p.Run(context.Background()); !errors.Is(err, ErrRejected) {
		t.Fatalf("refused push: %v", err)
	}
	sk.reset()
	sk.setAnswer(nil)
	snap(t0.Add(-time.Hour), 60)
	res := runPush(t, p)
	third := sent()
	if res.Accounts.Retried != 1 || third == first {
		t.Errorf("back to 60 after a failed 70: retried %d, messageId %s (first %s); want a retry under a new messageId",
			res.Accounts.Retried, third, first)
	}
	// 60 → 80 → 60, all accepted: three distinct messageIds.
	snap(t0.Add(-50*time.Minute), 80)
	runPush(t, p)
	fourth := sent()
	snap(t0.Add(-40*time.Minute), 60)
	runPush(t, p)
	fifth := sent()
	ids := map[string]bool{first: true, third: true, fourth: true, fifth: true}
	if len(ids) != 4 {
		t.Errorf("messageIds %s %s %s %s; want all distinct", first, third, fourth, fifth)
	}
}

func TestPushThreshold(t *testing.T) {
	tests := []struct {
		name  string
		score float64
		sent  bool
	}{
		{"small rise", 62.5, false},
		{"small fall", 56, false},
		{"rise by the threshold", 65, true},
		{"tier change by one point", 49.5, true},
		{"large rise", 80, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t)
			sk := newSink(t)
			clk := newClock(t0)
			cfg := DefaultPushConfig()
			cfg.Threshold = 5
			p := newTestPush(t, db, sk.clientConfig(), cfg, clk)
			snap := func(at time.Time, score float64, frequency int) {
				saveRun(t, db, &trackplan.ScoreRun{Profile: "default", At: at,
					Accounts: []trackplan.AccountScore{{ID: "acme", AverageScore: score, Band: trackplan.BandOf(score, true),
						Frequency: frequency, LastActiveUser: "u1"}}})
			}
			snap(t0.Add(-2*time.Hour), 60, 3)
			runPush(t, p)
			sk.reset()
			snap(t0.Add(-time.Hour), tt.score, 4) // another trait changes too
			res := runPush(t, p)
			n, _, _, _ := sk.snapshot()
			if got := n > 0; got != tt.sent {
				t.Errorf("60 → %g with threshold 5: sent = %v; want %v", tt.score, got, tt.sent)
			}
			want := PushCounts{Held: 1}
			if tt.sent {
				want = PushCounts{Changed: 1, Sent: 1, Acknowledged: 1}
			}
			if diff := cmp.Diff(want, res.Accounts); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPushDryRunAndFull(t *testing.T) {
	db := openStore(t)
	sk := newSink(t)
	clk := newClock(t0)
	saveRun(t, db, fixture(trackplan.DefaultProfileName, t0.Add(-time.Hour), 2))
	cfg := DefaultPushConfig()
	cfg.DryRun = true
	dry := newTestPush(t, db, sk.clientConfig(), cfg, clk)
	res := runPush(t, dry)
	if n, _, _, _ := sk.snapshot(); n != 0 {
		t.Errorf("dry run made %d requests", n)
	}
	if len(ledgerOf(t, db, "default")) != 0 {
		t.Error("dry run wrote the ledger")
	}
	if len(res.Calls) != 6 || res.Total().Sent != 6 || res.Total().Acknowledged != 0 {
		t.Errorf("dry run: %d calls, totals %+v; want 6 calls to send", len(res.Calls), res.Total())
	}
	if c := res.Calls[0]; c.Type != trackplan.Group || c.GroupID != "acct-000" || c.Change != "added" || c.Profile != "default" || c.Traits["engagement_score"] != 10.5 {
		t.Errorf("first call = %+v", c)
	}

	live := newTestPush(t, db, sk.clientConfig(), DefaultPushConfig(), clk)
	runPush(t, live)
	_, _, first, _ := sk.snapshot()
	dryIDs := map[string]int{}
	for _, c := range res.Calls {
		dryIDs[c.MessageID] = 1
	}
	if diff := cmp.Diff(dryIDs, idsOf(first)); diff != "" {
		t.Errorf("the dry run's messageIds differ from the real ones (-dry +real):\n%s", diff)
	}

	sk.reset()
	cfg = DefaultPushConfig()
	cfg.Full = true
	res = runPush(t, newTestPush(t, db, sk.clientConfig(), cfg, clk))
	_, _, again, _ := sk.snapshot()
	if len(again) != 6 || res.Total().Unchanged != 6 || res.Total().Sent != 6 {
		t.Errorf("full push sent %d, totals %+v; want all 6, unchanged", len(again), res.Total())
	}
	for id := range idsOf(again) {
		if dryIDs[id] != 0 {
			t.Errorf("full push reused messageId %s: Segment would drop it as a duplicate", id)
		}
	}
}

func TestPushTraitNamesAndCalls(t *testing.T) {
	activation := 50.0
	run := &trackplan.ScoreRun{At: t0.Add(-time.Hour),
		Accounts: []trackplan.AccountScore{{ID: "acme", AverageScore: 80, Band: trackplan.BandMostEngaged, TotalScore: 160,
			LastActiveUser: "u2", Activation: &activation}},
		Users: []trackplan.UserScore{{ID: "u1", Band: trackplan.BandInactive, Accounts: []string{"acme"}}, {ID: "u2", Score: 80, Active: true, Band: trackplan.BandMostEngaged, Accounts: []string{"acme"}}},
	}
	tests := []struct {
		name    string
		profile string
		cfg     func(*PushConfig)
		want    []Call
	}{
		{"default", "default", func(*PushConfig) {}, []Call{
			{Type: trackplan.Group, GroupID: "acme", UserID: "u2", Traits: map[string]any{"engagement_score": 80.0, "engagement_total_score": 160.0,
				"engagement_tier": "most_engaged", "engagement_trend": 0.0, "engagement_active_users": 0.0, "engagement_total_users": 0.0,
				"engagement_active_pct": 0.0, "engagement_frequency": 0.0, "engagement_last_active": nil, "engagement_adoption": 0.0,
				"engagement_activation": 50.0}},
			{Type: trackplan.Identify, UserID: "u1", Traits: map[string]any{"engagement_score": 0.0, "engagement_tier": "inactive",
				"engagement_trend": 0.0, "engagement_frequency": 0.0, "engagement_last_active": nil, "engagement_adoption": 0.0, "engagement_activation": nil}},
			{Type: trackplan.Identify, UserID: "u2", Traits: map[string]any{"engagement_score": 80.0, "engagement_tier": "most_engaged",
				"engagement_trend": 0.0, "engagement_frequency": 0.0, "engagement_last_active": nil, "engagement_adoption": 0.0, "engagement_activation": nil}},
		}},
		{"named profile, renamed and omitted traits, no identify, fixed anonymousId", "Trial Users", func(c *PushConfig) {
			c.Prefix = "sh_"
			c.Names = map[string]string{TraitTier: "band", TraitTotalScore: OmitTrait, TraitActiveUsers: OmitTrait, TraitTotalUsers: OmitTrait,
				TraitActivePct: OmitTrait, TraitFrequency: OmitTrait, TraitLastActive: OmitTrait, TraitAdoption: OmitTrait, TraitTrend: OmitTrait}
			c.Identify = false
			c.GroupAnonymousID = "engagement-bot"
		}, []Call{
			{Type: trackplan.Group, GroupID: "acme", AnonymousID: "engagement-bot", Traits: map[string]any{"sh_trial_users_score": 80.0,
				"sh_trial_users_band": "most_engaged", "sh_trial_users_activation": 50.0}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t)
			r := *run
			r.Profile = tt.profile
			saveRun(t, db, &r)
			cfg := DefaultPushConfig()
			cfg.Profiles = []string{tt.profile}
			cfg.DryRun = true
			tt.cfg(&cfg)
			p, err := NewPush(db, segment.ClientConfig{}, cfg, newClock(t0).now, nil)
			if err != nil {
				t.Fatal(err)
			}
			res := runPush(t, p)
			opts := []cmp.Option{cmpopts.IgnoreFields(Call{}, "MessageID", "Timestamp", "Profile", "Change")}
			if diff := cmp.Diff(tt.want, res.Calls, opts...); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPushNoSnapshotAndProfiles(t *testing.T) {
	db := openStore(t)
	sk := newSink(t)
	clk := newClock(t0)
	saveRun(t, db, fixture("trial", t0.Add(-time.Hour), 1))
	cfg := DefaultPushConfig()
	cfg.Profiles = []string{"default", "trial"}
	res := runPush(t, newTestPush(t, db, sk.clientConfig(), cfg, clk))
	if len(res.Profiles) != 2 || !res.Profiles[0].NoSnapshot || res.Profiles[1].Accounts.Acknowledged != 1 {
		t.Errorf("profiles = %+v; want default without snapshot, trial pushed", res.Profiles)
	}
	_, _, accepted, _ := sk.snapshot()
	for _, it := range accepted {
		if _, ok := it.Traits["engagement_trial_score"]; !ok {
			t.Errorf("%s call without engagement_trial_score: %v", it.Type, it.Traits)
		}
	}
	if len(ledgerOf(t, db, "trial")) != 3 || len(ledgerOf(t, db, "default")) != 0 {
		t.Error("the ledger is not kept per profile")
	}
	// A snapshot taken after now is not pushed yet.
	saveRun(t, db, fixture("default", t0.Add(time.Hour), 1))
	if res := runPush(t, newTestPush(t, db, sk.clientConfig(), cfg, clk)); !res.Profiles[0].NoSnapshot {
		t.Errorf("a snapshot from the future was pushed: %+v", res.Profiles[0])
	}
}

func TestPushToOwnCollector(t *testing.T) {
	ctx := context.Background()
	collected := openStore(t)
	pipe := ingest.Open(collected, ingest.Options{})
	t.Cleanup(func() { pipe.Close() })
	col := &segment.Collector{Sources: []segment.Source{{Name: "engagement", WriteKey: sinkWriteKey}}, Ingester: pipe}
	mux := http.NewServeMux()
	col.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	db := openStore(t)
	clk := newClock(t0)
	run := fixture(trackplan.DefaultProfileName, t0.Add(-time.Hour), 5)
	saveRun(t, db, run)
	client := segment.ClientConfig{Endpoint: srv.URL, WriteKey: sinkWriteKey, BatchSize: 4,
		RetryAfter: func(int) time.Duration { return time.Millisecond }}
	p := newTestPush(t, db, client, DefaultPushConfig(), clk)
	res := runPush(t, p)
	if res.Total().Acknowledged != 15 {
		t.Fatalf("acknowledged %d; want 15", res.Total().Acknowledged)
	}

	catchUp(t, collected)
	names := []string{"engagement_score", "engagement_tier", "engagement_activation", "engagement_total_users", "engagement_last_active"}
	got := map[string]map[string]any{}
	collect := func(prefix string) func(id, name string, v json.RawMessage) error {
		return func(id, name string, v json.RawMessage) error {
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				return err
			}
			if got[prefix+id] == nil {
				got[prefix+id] = map[string]any{}
			}
			got[prefix+id][name] = x
			return nil
		}
	}
	if err := collected.AccountTraits(ctx, names, collect("account:")); err != nil {
		t.Fatal(err)
	}
	userCollect := collect("user:")
	if err := collected.UserTraits(ctx, names, func(id, name string, v json.RawMessage, _ time.Time) error {
		if string(v) == "null" {
			return nil // a cleared trait
		}
		return userCollect(id, name, v)
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{}
	last := fixtureLastActive.Format(time.RFC3339)
	for _, a := range run.Accounts {
		w := map[string]any{"engagement_score": a.AverageScore, "engagement_tier": string(a.Band), "engagement_total_users": 2.0}
		if a.Activation != nil {
			w["engagement_activation"] = *a.Activation
		}
		if a.LastActive != nil {
			w["engagement_last_active"] = last
		}
		want["account:"+a.ID] = w
	}
	for _, u := range run.Users {
		w := map[string]any{"engagement_score": float64(u.Score), "engagement_tier": string(u.Band)}
		if u.LastActive != nil {
			w["engagement_last_active"] = last
		}
		want["user:"+u.ID] = w
	}
	// The collector keeps no null traits (null clears a trait).
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("traits observed by the collector (-want +got):\n%s", diff)
	}
	catchUp(t, collected)
	obs, err := collected.Observed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int64{}
	for _, e := range obs.Events {
		calls[string(e.Type)] += e.Count
	}
	if diff := cmp.Diff(map[string]int64{"group": 5, "identify": 10}, calls); diff != "" {
		t.Errorf("observed calls (-want +got):\n%s", diff)
	}

	// Nothing changed: nothing more reaches the collector.
	runPush(t, p)
	catchUp(t, collected)
	obs, err = collected.Observed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if obs.Totals.Messages != 15 || obs.Totals.Duplicates != 0 {
		t.Errorf("collector totals after a second push: %+v; want the same 15 messages", obs.Totals)
	}
}

func TestPushConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*PushConfig)
		want []string // fields with problems
	}{
		{"defaults", func(*PushConfig) {}, nil},
		{"zero value", func(c *PushConfig) { *c = PushConfig{} }, nil},
		{"bad profiles", func(c *PushConfig) { c.Profiles = []string{"", "trial", "trial", "--"} },
			[]string{"push.profiles[0]", "push.profiles[2]", "push.profiles[3]"}},
		{"unknown trait", func(c *PushConfig) { c.Names = map[string]string{"mrr": "x"} }, []string{"push.names.mrr"}},
		{"empty name", func(c *PushConfig) { c.Names = map[string]string{TraitTier: ""} }, []string{"push.names.tier"}},
		{"duplicate names", func(c *PushConfig) { c.Names = map[string]string{TraitTier: "score"} }, []string{"push.names"}},
		{"threshold", func(c *PushConfig) { c.Threshold = -1 }, []string{"push.threshold"}},
		{"threshold without traits", func(c *PushConfig) {
			c.Threshold = 5
			c.Names = map[string]string{TraitScore: OmitTrait, TraitTier: OmitTrait}
		}, []string{"push.threshold"}},
		{"negative wait", func(c *PushConfig) { c.MaxWait = -time.Second }, []string{"push.max_wait"}},
		{"control character", func(c *PushConfig) { c.Prefix = "a\nb" }, []string{"push.prefix"}},
		{"on_removed zero", func(c *PushConfig) { c.OnRemoved = OnRemovedZero }, nil},
		{"on_removed ignore", func(c *PushConfig) { c.OnRemoved = OnRemovedIgnore }, nil},
		{"unknown on_removed", func(c *PushConfig) { c.OnRemoved = "delete" }, []string{"push.on_removed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultPushConfig()
			tt.mod(&c)
			err := c.Validate()
			var got []string
			var v *trackplan.ValidationError
			if errors.As(err, &v) {
				for _, p := range v.Problems {
					got = append(got, p.Field)
				}
			} else if err != nil {
				t.Fatalf("Validate = %v; want a *ValidationError", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

func TestCanonicalTraits(t *testing.T) {
	cfg := DefaultPushConfig()
	cfg.Names = map[string]string{TraitTier: "tier \"q\"\t\u00e9"}
	accounts, _, err := newLayouts(&cfg, "default")
	if err != nil {
		t.Fatal(err)
	}
	last := time.Date(2026, 1, 2, 3, 4, 5, 999, time.UTC)
	a := trackplan.AccountScore{AverageScore: 12.3, TotalScore: 1 << 40, Band: trackplan.BandPassive, LastActive: &last,
		Trend: trackplan.TrendOf(-0.1)}
	v := accountValues(&a)
	got := accounts.encode(nil, &v)
	// It must be the JSON of the trait map, keys sorted.
	want, err := json.Marshal(accounts.traits(&v))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("canonical traits\n got %s\nwant %s", got, want)
	}
	if d1, d2 := traitDigest(got), traitDigest(accounts.encode(nil, &v)); d1 != d2 {
		t.Error("digest not deterministic")
	}
	if s := traitSlug("Trial Users – EU 2"); s != "trial_users_eu_2" {
		t.Errorf("traitSlug = %q", s)
	}
	if _, ok := parseMessageID(messageID(traitDigest(got))); !ok {
		t.Error("a messageId does not parse back")
	}
}

// catchUp derives what the collector's store logged.
func catchUp(t *testing.T, st store.Store) {
	t.Helper()
	if _, err := derive.New(st, st, derive.Options{}).CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
}
