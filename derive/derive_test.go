package derive_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/identity"
	"github.com/trackplan/trackplan/scoring"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/templates"
)

// traffic is simulated SaaS traffic with drift, about 5% resent duplicates,
// local reordering, aliases and a few rejections, cut into request-sized
// batches.
func traffic(t testing.TB, seed uint64) (*trackplan.Plan, []*store.LogBatch) {
	t.Helper()
	plan, err := templates.Plan("b2b-saas")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	g, err := simulate.New(plan, simulate.Options{Accounts: 6, UsersPerAccount: 3, Days: 5, Seed: int64(seed), Now: now, Drift: true})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*trackplan.Message
	err = g.Generate(func(m *trackplan.Message) error {
		m.Source = "web"
		m.ReceivedAt = m.Timestamp.Add(time.Second)
		m.Raw, _ = json.Marshal(map[string]any{"type": m.Type, "messageId": m.MessageID, "userId": m.UserID,
			"anonymousId": m.AnonymousID, "event": m.Event, "properties": m.Properties, "traits": m.Traits})
		msgs = append(msgs, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	// Late aliases: an anonymous id linked to a user after the fact.
	for i := range 5 {
		m := msgs[rng.IntN(len(msgs))]
		if m.UserID == "" {
			continue
		}
		msgs = append(msgs, &trackplan.Message{Source: "web", Type: trackplan.Alias, MessageID: "alias-" + string(rune('a'+i)),
			UserID: m.UserID, PreviousID: "anon-late-" + string(rune('a'+i)), Timestamp: now, ReceivedAt: now, Raw: []byte(`{"type":"alias"}`)})
	}
	// Identity: visitors browse anonymously and sign up later, on a device
	// another user signed in on first, or under an id that is later
	// aliased to another user; the links come at the end, after the
	// activity they re-attribute.
	var users []string
	for _, m := range msgs {
		if m.UserID != "" && !slices.Contains(users, m.UserID) {
			users = append(users, m.UserID)
		}
	}
	msg := func(typ trackplan.CallType, id, user, anon, event string, at time.Time) *trackplan.Message {
		return &trackplan.Message{Source: "web", Type: typ, MessageID: id, UserID: user, AnonymousID: anon, Event: event,
			Timestamp: at, ReceivedAt: at, Raw: []byte(`{"type":"` + string(typ) + `"}`)}
	}
	for i := range 4 {
		anon := fmt.Sprintf("visitor-%d", i)
		user := users[4+rng.IntN(len(users)-4)]
		for d := range 3 {
			msgs = append(msgs, msg(trackplan.Track, fmt.Sprintf("visit-%d-%d", i, d), "", anon, "Report Exported", now.AddDate(0, 0, -1-d)))
		}
		signup := msg(trackplan.Identify, "signup-"+anon, user, anon, "", now.AddDate(0, 0, -1))
		signup.Traits = map[string]any{"plan": "trial-" + anon}
		msgs = append(msgs, signup)
	}
	// A shared device, and an alias merging one simulated user into another.
	msgs = append(msgs, msg(trackplan.Track, "shared-b", users[1], "visitor-0", "Report Exported", now.AddDate(0, 0, -2)))
	merge := msg(trackplan.Alias, "merge", users[3], "", "", now)
	merge.PreviousID = users[2]
	msgs = append(msgs, merge)
	// Reorder locally, as concurrent clients do.
	for i := range msgs {
		j := min(len(msgs)-1, i+rng.IntN(20))
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	var batches []*store.LogBatch
	for len(msgs) > 0 {
		n := min(len(msgs), 1+rng.IntN(300))
		b := &store.LogBatch{Messages: slices.Clip(msgs[:n]), At: msgs[0].ReceivedAt} // clipped: resends must not overwrite the next batch
		for range n / 20 {                                                            // resend some of this batch's messages
			b.Messages = append(b.Messages, msgs[rng.IntN(n)])
		}
		if rng.IntN(4) == 0 || len(batches) == 0 {
			b.Rejections = []trackplan.Rejection{{Source: "web", Reason: "missing_event", Sample: []byte(`{"type":"track"}`), ReceivedAt: b.At}}
		}
		batches = append(batches, b)
		msgs = msgs[n:]
	}
	return plan, batches
}

// scores resolves the store's identities and scores its users: the graph's
// counts and every user's and account's raw score and tier.
func scores(t testing.TB, s store.Store) []string {
	t.Helper()
	ctx := context.Background()
	g, err := identity.Load(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	saver := &runSaver{}
	p := &trackplan.Profile{Name: "t", Events: map[string]int{"Report Exported": 3, "Signed In": 1, "Page Viewed": 1}}
	r := &scoring.Runner{Source: s, Saver: saver, Profiles: []*trackplan.Profile{p}}
	if err := r.RunAt(ctx, time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	st := g.Stats()
	out := []string{fmt.Sprintf("graph: %d ids, %d merged, %d conflicts", st.IDs, st.Merged, st.Conflicts)}
	if st.Merged == 0 || st.Conflicts == 0 {
		t.Fatalf("the traffic linked too little to test: %+v", st)
	}
	for _, u := range saver.run.Users {
		if g.Merged(u.ID) {
			t.Errorf("user %s is merged into %s but scored", u.ID, g.Resolve(u.ID))
		}
		out = append(out, fmt.Sprintf("user %s raw %v tier %s", u.ID, u.Raw, u.Band))
	}
	for _, a := range saver.run.Accounts {
		out = append(out, fmt.Sprintf("account %s total %v users %d", a.ID, a.TotalScore, a.ActiveUsers))
	}
	return out
}

type runSaver struct{ run *trackplan.ScoreRun }

func (r *runSaver) SaveScores(_ context.Context, run *trackplan.ScoreRun) error {
	r.run = run
	return nil
}

func openSQLite(t testing.TB, name string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), name), store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func dump(t testing.TB, db *sqlite.DB) map[string][]string {
	t.Helper()
	d, err := db.DumpDerived(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLiveEqualsRebuild is the log's central property: whatever runs the
// live aggregator happened to cut the log into, the derived state equals a
// rebuild from the log in one pass, table by table, in the same store or
// in another.
func TestLiveEqualsRebuild(t *testing.T) {
	for seed := range uint64(3) {
		plan, batches := traffic(t, seed)
		ctx := context.Background()
		db := openSQLite(t, "live.db")
		rng := rand.New(rand.NewPCG(seed, 99))
		live := derive.New(db, db, derive.Options{MaxRecords: 1 + rng.IntN(400)})
		live.SetChecker(trackplan.NewChecker(plan))
		for _, b := range batches {
			if _, err := db.Append(ctx, b); err != nil {
				t.Fatal(err)
			}
			if rng.IntN(3) == 0 {
				if _, err := live.CatchUp(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := live.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		want := dump(t, db)
		wantScores := scores(t, db)
		if len(want["events"]) == 0 || len(want["violations"]) == 0 || len(want["identity_links"]) == 0 || len(want["rejections"]) == 0 {
			t.Fatalf("seed %d: the traffic derived too little to test: %d events, %d violations, %d links, %d rejections", seed,
				len(want["events"]), len(want["violations"]), len(want["identity_links"]), len(want["rejections"]))
		}

		if err := db.ResetDerived(ctx); err != nil {
			t.Fatal(err)
		}
		rebuild := derive.New(db, db, derive.Options{MaxRecords: 1 << 20})
		rebuild.SetChecker(trackplan.NewChecker(plan))
		if _, err := rebuild.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, dump(t, db)); diff != "" {
			t.Errorf("seed %d: rebuild differs from live (-live +rebuild):\n%s", seed, diff)
		}
		if diff := cmp.Diff(wantScores, scores(t, db)); diff != "" {
			t.Errorf("seed %d: rebuild scores differ from live (-live +rebuild):\n%s", seed, diff)
		}

		into := openSQLite(t, "into.db")
		other := derive.New(db, into, derive.Options{})
		other.SetChecker(trackplan.NewChecker(plan))
		if _, err := other.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		got := dump(t, into)
		delete(got, "source_counts") // duplicates are counted when appending, in the log's store
		delete(want, "source_counts")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("seed %d: rebuild into another store differs (-live +into):\n%s", seed, diff)
		}
		// That store's own log is not the one its state came from: deriving
		// from it is refused, never silently skipped.
		if _, err := derive.New(into, into, derive.Options{}).CatchUp(ctx); !errors.Is(err, derive.ErrNotItsLog) {
			t.Errorf("seed %d: deriving a store from a log behind its cursor: %v; want ErrNotItsLog", seed, err)
		}
	}
}

// TestConcurrentDerivers applies the same log from two aggregators at once:
// every record is applied exactly once.
func TestConcurrentDerivers(t *testing.T) {
	plan, batches := traffic(t, 11)
	ctx := context.Background()
	db := openSQLite(t, "a.db")
	ref := openSQLite(t, "ref.db")
	for _, b := range batches {
		for _, s := range []*sqlite.DB{db, ref} {
			if _, err := s.Append(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			d := derive.New(db, db, derive.Options{MaxRecords: 50 + 70*i})
			d.SetChecker(trackplan.NewChecker(plan))
			_, err := d.CatchUp(ctx)
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	d := derive.New(ref, ref, derive.Options{})
	d.SetChecker(trackplan.NewChecker(plan))
	if _, err := d.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dump(t, ref), dump(t, db)); diff != "" {
		t.Errorf("two concurrent aggregators differ from one (-one +two):\n%s", diff)
	}
}

// TestCorruptBlock: a block whose bytes were flipped stops derivation with
// its sequence range named; SkipCorrupt passes over it and reports it.
func TestCorruptBlock(t *testing.T) {
	_, batches := traffic(t, 5)
	ctx := context.Background()
	db := openSQLite(t, "c.db")
	for _, b := range batches[:4] {
		if _, err := db.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	var second store.LogBlock
	n := 0
	db.ReadLog(ctx, 0, 1<<30, func(b store.LogBlock) error {
		if n++; n == 2 {
			second = b
		}
		return nil
	})
	if err := db.CorruptBlockForTest(ctx, second.First); err != nil {
		t.Fatal(err)
	}

	_, err := derive.New(db, db, derive.Options{}).CatchUp(ctx)
	var ce *store.CorruptBlockError
	if !errors.As(err, &ce) || ce.First != second.First || ce.Last != second.Last {
		t.Fatalf("CatchUp over a corrupt block: %v; want a CorruptBlockError for %d-%d", err, second.First, second.Last)
	}
	res, err := derive.New(db, db, derive.Options{SkipCorrupt: true}).CatchUp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].First != second.First {
		t.Errorf("skipped = %v; want block %d-%d", res.Skipped, second.First, second.Last)
	}
	head, _ := db.LogHead(ctx)
	if res.Cursor != head {
		t.Errorf("cursor %d after skipping; want the head %d", res.Cursor, head)
	}
}

// TestGuardAcrossProcesses: two handles on one store (serve and a CLI
// command) take turns deriving; the cardinality limits come out as a
// rebuild's, because a handle reloads its guard when another applied.
func TestGuardAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "two.db")
	limits := store.DefaultLimits()
	limits.MaxEventsPerSource = 2
	open := func() *sqlite.DB {
		db, err := sqlite.Open(ctx, path, limits)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	send := func(via *sqlite.DB, id, event string) {
		m := &trackplan.Message{Source: "web", Type: trackplan.Track, MessageID: id, UserID: "u", Event: event,
			Timestamp: now, ReceivedAt: now, Raw: []byte(`{}`)}
		if _, err := via.Append(ctx, &store.LogBatch{Messages: []*trackplan.Message{m}, At: now}); err != nil {
			t.Fatal(err)
		}
	}
	send(a, "1", "A")
	send(a, "2", "B")
	if _, err := derive.New(a, a, derive.Options{}).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	send(a, "3", "C") // past the limit of 2 events
	if _, err := derive.New(b, b, derive.Options{}).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	live := dump(t, a)
	if err := a.ResetDerived(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := derive.New(a, a, derive.Options{}).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(live, dump(t, a)); diff != "" {
		t.Errorf("two handles deriving in turn differ from a rebuild (-live +rebuild):\n%s", diff)
	}
	if n := len(live["events"]); n != 2 {
		t.Errorf("%d events stored; the limit is 2", n)
	}
}
