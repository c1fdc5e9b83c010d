package sync

import (
	stdcmp "cmp"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/identity"
	"github.com/trackplan/trackplan/store"
)

// The traits of a final update: those of an entity without activity.
var (
	zeroGroupTraits = map[string]any{"engagement_score": 0.0, "engagement_total_score": 0.0, "engagement_tier": "inactive",
		"engagement_trend": 0.0, "engagement_active_users": 0.0, "engagement_total_users": 0.0, "engagement_active_pct": 0.0,
		"engagement_frequency": 0.0, "engagement_last_active": nil, "engagement_adoption": 0.0, "engagement_activation": nil}
	zeroUserTraits = map[string]any{"engagement_score": 0.0, "engagement_tier": "inactive", "engagement_trend": 0.0,
		"engagement_frequency": 0.0, "engagement_last_active": nil, "engagement_adoption": 0.0, "engagement_activation": nil}
)

func accountKey(id string) store.LedgerKey { return store.LedgerKey{Kind: store.EntityAccount, ID: id} }
func userKey(id string) store.LedgerKey    { return store.LedgerKey{Kind: store.EntityUser, ID: id} }

// without returns a copy of run, taken at at, without the given accounts
// and users (users keep listing the accounts they belong to).
func without(run *trackplan.ScoreRun, at time.Time, accounts, users []string) *trackplan.ScoreRun {
	out := *run
	out.At = at
	out.Accounts = slices.DeleteFunc(slices.Clone(run.Accounts), func(a trackplan.AccountScore) bool { return slices.Contains(accounts, a.ID) })
	out.Users = slices.DeleteFunc(slices.Clone(run.Users), func(u trackplan.UserScore) bool { return slices.Contains(users, u.ID) })
	return &out
}

// sortItems orders sink items by type and entity.
func sortItems(items []sinkItem) []sinkItem {
	slices.SortFunc(items, func(a, b sinkItem) int {
		return stdcmp.Or(stdcmp.Compare(a.Type, b.Type), stdcmp.Compare(a.GroupID, b.GroupID), stdcmp.Compare(a.UserID, b.UserID))
	})
	return items
}

// withoutKeys returns the keys of m other than drop.
func withoutKeys(m map[store.LedgerKey]int, drop ...store.LedgerKey) map[store.LedgerKey]int {
	out := maps.Clone(m)
	for _, k := range drop {
		delete(out, k)
	}
	return out
}

var ignoreIDAndTime = cmpopts.IgnoreFields(sinkItem{}, "MessageID", "Timestamp")

// TestPushRemoved: an entity the ledger acknowledged that leaves the
// snapshot gets one final update (score 0, tier inactive), then its ledger
// entry is retired and later runs send nothing for it; with on_removed:
// ignore, nothing is sent and the ledger stays.
func TestPushRemoved(t *testing.T) {
	tests := []struct {
		name            string
		cfg             func(*PushConfig) // applied from the second run on
		accounts, users []string          // left out of the second snapshot
		want            []sinkItem
		wantAccounts    PushCounts
		wantUsers       PushCounts
		retired         []store.LedgerKey // gone from the ledger after the second run
	}{
		{name: "account excluded, its users stay: a member is the group call's user",
			accounts:     []string{"acct-001"},
			want:         []sinkItem{{Type: "group", GroupID: "acct-001", UserID: "user-001-a", Traits: zeroGroupTraits}},
			wantAccounts: PushCounts{Removed: 1, Unchanged: 2, Sent: 1, Acknowledged: 1}, wantUsers: PushCounts{Unchanged: 6},
			retired: []store.LedgerKey{accountKey("acct-001")}},
		{name: "account and its users gone: no member, the default anonymousId; an already inactive user is retired without a call",
			accounts: []string{"acct-001"}, users: []string{"user-001-a", "user-001-b"},
			want: []sinkItem{
				{Type: "group", GroupID: "acct-001", AnonymousID: DefaultGroupAnonymousID, Traits: zeroGroupTraits},
				{Type: "identify", UserID: "user-001-b", Traits: zeroUserTraits},
			},
			wantAccounts: PushCounts{Removed: 1, Unchanged: 2, Sent: 1, Acknowledged: 1},
			wantUsers:    PushCounts{Removed: 1, Retired: 1, Unchanged: 4, Sent: 1, Acknowledged: 1},
			retired:      []store.LedgerKey{accountKey("acct-001"), userKey("user-001-a"), userKey("user-001-b")}},
		{name: "group_user anonymous", cfg: func(c *PushConfig) { c.GroupAnonymousID = "engagement-bot" },
			accounts:     []string{"acct-002"},
			want:         []sinkItem{{Type: "group", GroupID: "acct-002", AnonymousID: "engagement-bot", Traits: zeroGroupTraits}},
			wantAccounts: PushCounts{Removed: 1, Unchanged: 2, Sent: 1, Acknowledged: 1}, wantUsers: PushCounts{Unchanged: 6},
			retired: []store.LedgerKey{accountKey("acct-002")}},
		{name: "identify off: only the account's final update, user entries stay",
			cfg:      func(c *PushConfig) { c.Identify = false },
			accounts: []string{"acct-001"}, users: []string{"user-001-a", "user-001-b"},
			want:         []sinkItem{{Type: "group", GroupID: "acct-001", AnonymousID: DefaultGroupAnonymousID, Traits: zeroGroupTraits}},
			wantAccounts: PushCounts{Removed: 1, Unchanged: 2, Sent: 1, Acknowledged: 1},
			retired:      []store.LedgerKey{accountKey("acct-001")}},
		{name: "on_removed ignore: nothing sent, the ledger stays",
			cfg:      func(c *PushConfig) { c.OnRemoved = OnRemovedIgnore },
			accounts: []string{"acct-001"}, users: []string{"user-001-a", "user-001-b"},
			wantAccounts: PushCounts{Unchanged: 2}, wantUsers: PushCounts{Unchanged: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t)
			sk := newSink(t)
			clk := newClock(t0)
			first := fixture(trackplan.DefaultProfileName, t0.Add(-time.Hour), 3)
			saveRun(t, db, first)
			runPush(t, newTestPush(t, db, sk.clientConfig(), DefaultPushConfig(), clk))
			before := ledgerOf(t, db, "default")
			if len(before) != 9 {
				t.Fatalf("first push acknowledged %d entities; want 9", len(before))
			}

			saveRun(t, db, without(first, t0.Add(-30*time.Minute), tt.accounts, tt.users))
			sk.reset()
			clk.add(time.Hour)
			cfg := DefaultPushConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}

			// A dry run shows the final updates and changes nothing.
			dryCfg := cfg
			dryCfg.DryRun = true
			dry := runPush(t, newTestPush(t, db, sk.clientConfig(), dryCfg, clk))
			if n, _, _, _ := sk.snapshot(); n != 0 {
				t.Errorf("dry run made %d requests", n)
			}
			if got := ledgerOf(t, db, "default"); len(got) != len(before) {
				t.Errorf("dry run changed the ledger: %d entries; want %d", len(got), len(before))
			}
			dryIDs := map[string]int{}
			for _, c := range dry.Calls {
				dryIDs[c.MessageID]++
				if c.Change != "removed" {
					t.Errorf("dry-run call %s %s%s: change %q; want removed", c.Type, c.GroupID, c.UserID, c.Change)
				}
			}
			if diff := cmp.Diff(tt.wantAccounts, dry.Accounts, cmpopts.IgnoreFields(PushCounts{}, "Acknowledged")); diff != "" {
				t.Errorf("dry-run accounts (-want +got):\n%s", diff)
			}

			p := newTestPush(t, db, sk.clientConfig(), cfg, clk)
			res := runPush(t, p)
			_, _, accepted, _ := sk.snapshot()
			if diff := cmp.Diff(tt.want, sortItems(accepted), ignoreIDAndTime, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("second run sent (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(dryIDs, idsOf(accepted), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("the dry run's messageIds differ from the real ones (-dry +real):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAccounts, res.Accounts); diff != "" {
				t.Errorf("accounts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantUsers, res.Users); diff != "" {
				t.Errorf("users (-want +got):\n%s", diff)
			}
			counts := res.Counts()
			if total := tt.wantAccounts.Removed + tt.wantUsers.Removed; counts["removed"] != int64(total) {
				t.Errorf("run-log counts %v; want removed %d", counts, total)
			}
			if total := tt.wantAccounts.Retired + tt.wantUsers.Retired; counts["retired"] != int64(total) {
				t.Errorf("run-log counts %v; want retired %d", counts, total)
			}
			if diff := cmp.Diff(withoutKeys(allKeys(first), tt.retired...), countKeys(ledgerOf(t, db, "default"))); diff != "" {
				t.Errorf("ledger after the second run (-want +got):\n%s", diff)
			}

			// The next run sends nothing and retires nothing.
			sk.reset()
			clk.add(time.Hour)
			res = runPush(t, p)
			if n, _, _, _ := sk.snapshot(); n != 0 {
				t.Errorf("third run made %d requests; want none", n)
			}
			if tot := res.Total(); tot.Removed != 0 || tot.Retired != 0 || tot.Sent != 0 {
				t.Errorf("third run totals %+v; want nothing removed, retired or sent", tot)
			}
		})
	}
}

// TestPushRemovedRetried: a final update that fails stays in the ledger and
// its failures, and is sent again next run, with the same messageId, until
// it is acknowledged and retired.
func TestPushRemovedRetried(t *testing.T) {
	tests := []struct {
		name   string
		status int
		err    error
		counts PushCounts
		reason string
	}{
		{"unavailable", http.StatusServiceUnavailable, ErrUnavailable,
			PushCounts{Removed: 1, Unchanged: 1, Sent: 1, Failed: 1, Pending: 1}, "http_503"},
		{"rejected", http.StatusBadRequest, ErrRejected,
			PushCounts{Removed: 1, Unchanged: 1, Sent: 1, Failed: 1, Rejected: 1}, "http_400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t)
			sk := newSink(t)
			clk := newClock(t0)
			first := fixture(trackplan.DefaultProfileName, t0.Add(-time.Hour), 2)
			saveRun(t, db, first)
			cfg := DefaultPushConfig()
			cfg.Identify = false
			p := newTestPush(t, db, sk.clientConfig(), cfg, clk)
			runPush(t, p)
			gone := accountKey("acct-001")
			acked := ledgerOf(t, db, "default")[gone]

			saveRun(t, db, without(first, t0.Add(-30*time.Minute), []string{"acct-001"}, nil))
			sk.reset()
			sk.setAnswer(func(int, []sinkItem) sinkAnswer { return sinkAnswer{status: tt.status} })
			clk.add(time.Hour)
			res, err := p.Run(context.Background())
			if !errors.Is(err, tt.err) {
				t.Fatalf("push with the endpoint failing: %v; want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.counts, res.Accounts); diff != "" {
				t.Errorf("accounts (-want +got):\n%s", diff)
			}
			_, attempted, _, _ := sk.snapshot()
			if len(attempted) == 0 || attempted[0].GroupID != "acct-001" {
				t.Fatalf("attempted %+v; want the final update of acct-001", attempted)
			}
			failedID := attempted[0].MessageID
			if got := ledgerOf(t, db, "default")[gone]; got.Digest != acked.Digest || got.MessageID != acked.MessageID {
				t.Errorf("a failed final update changed the acknowledged entry: %+v; want %+v", got, acked)
			}
			if f, ok := failuresOf(t, db, "default")[gone]; !ok || f.Reason != tt.reason || f.MessageID != failedID {
				t.Errorf("failure of the final update = %+v (%v); want %s for %s", f, ok, tt.reason, failedID)
			}

			// The endpoint is back: the same final update, once.
			sk.reset()
			sk.setAnswer(nil)
			clk.add(time.Hour)
			res = runPush(t, p)
			_, _, accepted, _ := sk.snapshot()
			want := []sinkItem{{Type: "group", MessageID: failedID, GroupID: "acct-001", UserID: "user-001-a", Traits: zeroGroupTraits}}
			if diff := cmp.Diff(want, accepted, cmpopts.IgnoreFields(sinkItem{}, "Timestamp")); diff != "" {
				t.Errorf("retried final update (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(PushCounts{Removed: 1, Unchanged: 1, Sent: 1, Acknowledged: 1}, res.Accounts); diff != "" {
				t.Errorf("accounts of the retry (-want +got):\n%s", diff)
			}
			if _, ok := ledgerOf(t, db, "default")[gone]; ok {
				t.Error("the acknowledged final update left its ledger entry")
			}
			if f, ok := failuresOf(t, db, "default")[gone]; ok {
				t.Errorf("the acknowledged final update left its failure %+v", f)
			}

			sk.reset()
			clk.add(time.Hour)
			runPush(t, p)
			if n, _, _, _ := sk.snapshot(); n != 0 {
				t.Errorf("a run after the retirement made %d requests", n)
			}
		})
	}
}

// TestPushMergedAndForgotten: a user merged into another (alias old2 → u2)
// gets no call and its ledger entry and failure are retired, while a user
// who merely left the snapshot gets its final update; a user erased with
// forget has no ledger entry any more and gets no call.
func TestPushMergedAndForgotten(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	sk := newSink(t)
	clk := newClock(t0)
	user := func(id string, score int) trackplan.UserScore {
		last := fixtureLastActive
		return trackplan.UserScore{ID: id, Score: score, Active: true, Frequency: 2, LastActive: &last,
			Band: trackplan.BandOf(float64(score), true), Accounts: []string{"acme"}}
	}
	first := &trackplan.ScoreRun{Profile: trackplan.DefaultProfileName, At: t0.Add(-2 * time.Hour), WindowDays: 7,
		Accounts: []trackplan.AccountScore{{ID: "acme", AverageScore: 40, TotalScore: 160, Band: trackplan.BandOf(40, true),
			ActiveUsers: 4, TotalUsers: 4, ActivePct: 100, LastActiveUser: "u2"}},
		Users: []trackplan.UserScore{user("erased", 10), user("old2", 30), user("u2", 50), user("u9", 20)}}
	saveRun(t, db, first)
	p := newTestPush(t, db, sk.clientConfig(), DefaultPushConfig(), clk)
	runPush(t, p)
	if n := len(ledgerOf(t, db, "default")); n != 5 {
		t.Fatalf("first push acknowledged %d entities; want 5", n)
	}
	// An earlier update of old2 failed: its failure goes with its entry.
	if err := db.LedgerFail(ctx, "default", []store.LedgerFailure{{LedgerKey: userKey("old2"), MessageID: "tp-x",
		Status: store.FailurePending, Reason: "http_503", Error: "deliver message: http_503", LastFailed: t0}}); err != nil {
		t.Fatal(err)
	}

	// old2 identifies, then is aliased to u2; "erased" is forgotten.
	alias := &trackplan.Message{Source: "web", Type: trackplan.Alias, MessageID: "m-alias", UserID: "u2", PreviousID: "old2",
		Timestamp: t0.Add(-80 * time.Minute), ReceivedAt: t0.Add(-80 * time.Minute)}
	ident := &trackplan.Message{Source: "web", Type: trackplan.Identify, MessageID: "m-ident", UserID: "old2",
		Traits: map[string]any{"plan": "pro"}, Timestamp: t0.Add(-90 * time.Minute), ReceivedAt: t0.Add(-90 * time.Minute)}
	for _, m := range []*trackplan.Message{ident, alias} {
		m.Raw, _ = json.Marshal(map[string]any{"type": m.Type, "messageId": m.MessageID})
	}
	if _, err := db.Append(ctx, &store.LogBatch{Messages: []*trackplan.Message{ident, alias}, At: t0.Add(-70 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	catchUp(t, db)
	if err := db.ForgetDerived(ctx, []string{"erased"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	g, err := identity.Load(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Merged("old2") || g.Resolve("old2") != "u2" || g.Merged("u9") {
		t.Fatalf("identity graph: old2 merged %v into %q, u9 merged %v; want old2 → u2 only", g.Merged("old2"), g.Resolve("old2"), g.Merged("u9"))
	}
	if _, ok := ledgerOf(t, db, "default")[userKey("erased")]; ok {
		t.Fatal("forget left the erased user's ledger entry")
	}

	// The next snapshot knows u2 only (resolved ids); u9 left it.
	second := without(first, t0.Add(-time.Hour), nil, []string{"erased", "old2", "u9"})
	second.Users[0].Score, second.Users[0].Band = 60, trackplan.BandOf(60, true)
	saveRun(t, db, second)
	sk.reset()
	clk.add(time.Hour)
	res := runPush(t, p)
	_, attempted, accepted, _ := sk.snapshot()
	for _, it := range attempted {
		if it.UserID == "old2" || it.UserID == "erased" {
			t.Errorf("a call for %s: %+v", it.UserID, it)
		}
	}
	got := map[string]map[string]any{}
	for _, it := range accepted {
		if it.Type == "identify" {
			got[it.UserID] = it.Traits
		}
	}
	if len(got) != 2 || got["u2"]["engagement_score"] != 60.0 {
		t.Errorf("identify calls %v; want u2's new score and u9's final update", got)
	}
	if diff := cmp.Diff(zeroUserTraits, got["u9"]); diff != "" {
		t.Errorf("u9's final update (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(PushCounts{Changed: 1, Removed: 1, Retired: 1, Sent: 2, Acknowledged: 2}, res.Users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	wantLedger := map[store.LedgerKey]int{accountKey("acme"): 1, userKey("u2"): 1}
	if diff := cmp.Diff(wantLedger, countKeys(ledgerOf(t, db, "default"))); diff != "" {
		t.Errorf("ledger (-want +got):\n%s", diff)
	}
	if f := failuresOf(t, db, "default"); len(f) != 0 {
		t.Errorf("failures left: %v", f)
	}

	// Nothing more for any of them.
	sk.reset()
	clk.add(time.Hour)
	res = runPush(t, p)
	if n, _, _, _ := sk.snapshot(); n != 0 || res.Total().Retired != 0 {
		t.Errorf("third run: %d requests, totals %+v; want nothing", n, res.Total())
	}
}

// idLinksFailing is a store whose identity links cannot be read.
type idLinksFailing struct{ PushStore }

func (idLinksFailing) IdentityLinks(context.Context, func(id, userID string, at time.Time) error) error {
	return errors.New("links unreadable")
}

// TestPushRemovedLinksUnreadable: when the identity links cannot be read,
// a merged user cannot be told from a removed one: the profile fails
// before anything is sent, and the ledger is left as it is.
func TestPushRemovedLinksUnreadable(t *testing.T) {
	db := openStore(t)
	sk := newSink(t)
	clk := newClock(t0)
	first := fixture(trackplan.DefaultProfileName, t0.Add(-time.Hour), 2)
	saveRun(t, db, first)
	runPush(t, newTestPush(t, db, sk.clientConfig(), DefaultPushConfig(), clk))
	saveRun(t, db, without(first, t0.Add(-30*time.Minute), nil, []string{"user-001-b"}))
	sk.reset()
	res, err := newTestPush(t, idLinksFailing{db}, sk.clientConfig(), DefaultPushConfig(), clk).Run(context.Background())
	if err == nil || res.Profiles[0].Error == "" {
		t.Fatalf("push with unreadable identity links: %v; want an error", err)
	}
	if n, _, _, _ := sk.snapshot(); n != 0 {
		t.Errorf("%d requests; want none", n)
	}
	if n := len(ledgerOf(t, db, "default")); n != 6 {
		t.Errorf("ledger holds %d entries; want all 6", n)
	}
}
