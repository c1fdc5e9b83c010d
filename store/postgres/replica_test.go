package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/postgres"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/store/storetest"
)

var w0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// workload generates SaaS-like traffic of every call type, with traits set
// and cleared, violations, and event times out of arrival order.
type workload struct {
	rng *rand.Rand
	seq int
}

func newWorkload(seed uint64) *workload { return &workload{rng: rand.New(rand.NewPCG(seed, seed))} }

func (w *workload) message() store.Checked {
	w.seq++
	r := w.rng
	user := r.IntN(150)
	// Distinct, shuffled event times over ten days, with nanoseconds that
	// the stores truncate to microseconds.
	at := w0.Add(time.Duration((w.seq*104729)%864_000_000_000)*time.Microsecond + time.Duration(r.IntN(1000)))
	m := &trackplan.Message{Source: []string{"web", "ios"}[r.IntN(2)], MessageID: fmt.Sprint("m", w.seq),
		UserID: fmt.Sprint("user-", user), GroupID: fmt.Sprint("acct-", user/10), Timestamp: at, ReceivedAt: w0.Add(time.Duration(w.seq) * time.Second)}
	if r.IntN(8) == 0 {
		m.AnonymousID = fmt.Sprint("anon-", r.IntN(300))
	}
	var violations []trackplan.Violation
	switch n := r.IntN(20); {
	case n < 13:
		m.Type = trackplan.Track
		m.Event = []string{"Signed In", "Report Exported", "Dashboard Viewed", "Feature Used", "Invite Sent",
			"Report Created", "Integration Connected", "Signed Out", "Trial Started", "Account Added User", "odd_event"}[r.IntN(11)]
		m.Properties = map[string]any{
			"format":                         []any{"csv", "pdf", "xlsx", 3.0, nil, "a@example.com", "+1 555 123 4567"}[r.IntN(7)],
			"row_count":                      float64(r.IntN(1000)),
			"ratio":                          r.Float64(),
			"items":                          []any{map[string]any{"sku": fmt.Sprint("sku-", r.IntN(5)), "qty": float64(r.IntN(3))}},
			fmt.Sprint("extra_", r.IntN(12)): true,
		}
		if r.IntN(4) == 0 {
			violations = append(violations, trackplan.Violation{Code: trackplan.TypeMismatch, Path: "format", Expected: "string", Observed: "number"})
		}
		if m.Event == "odd_event" {
			violations = append(violations, trackplan.Violation{Code: trackplan.UnplannedEvent})
		}
	case n < 16:
		m.Type = trackplan.Identify
		m.Traits = map[string]any{"plan": []any{"free", "pro", nil}[r.IntN(3)], "email": fmt.Sprint("u", user, "@example.com")}
		if r.IntN(2) == 0 {
			m.Traits["seats"] = float64(r.IntN(50))
		}
		if r.IntN(3) == 0 {
			violations = append(violations, trackplan.Violation{Code: trackplan.RequiredMissing, Path: "name"})
		}
	case n < 18:
		m.Type = trackplan.Group
		m.Traits = map[string]any{"name": fmt.Sprint("Account ", user/10), "mrr": float64(r.IntN(9000)), "status": []any{"trial", "paid", nil}[r.IntN(3)]}
	case n < 19:
		m.Type = trackplan.Page
		m.Name = []string{"Home", "Pricing", "Docs"}[r.IntN(3)]
		m.Properties = map[string]any{"path": "/" + m.Name, "referrer": nil}
	default:
		m.Type = trackplan.Alias
		m.PreviousID = fmt.Sprint("anon-", r.IntN(300))
	}
	m.Raw, _ = json.Marshal(map[string]any{"type": m.Type, "messageId": m.MessageID, "userId": m.UserID,
		"event": m.Event, "properties": m.Properties, "traits": m.Traits, "timestamp": at})
	return store.Checked{Message: m, Violations: violations}
}

// batches returns n messages split into batches of random sizes, with
// resends of earlier messages (in the same batch or a later one) and a few
// rejections.
func (w *workload) batches(n int) []*store.Batch {
	var (
		out  []*store.Batch
		sent []store.Checked
	)
	for len(sent) < n {
		b := &store.Batch{}
		for range 1 + w.rng.IntN(120) {
			if len(sent) > 0 && w.rng.IntN(10) == 0 {
				b.Messages = append(b.Messages, sent[w.rng.IntN(len(sent))])
				continue
			}
			c := w.message()
			sent = append(sent, c)
			b.Messages = append(b.Messages, c)
		}
		if w.rng.IntN(5) == 0 {
			b.Rejections = append(b.Rejections, trackplan.Rejection{Source: "web", Reason: []string{"missing_event", "no_user_anon_id"}[w.rng.IntN(2)],
				Sample: fmt.Appendf(nil, `{"n":%d}`, w.seq), ReceivedAt: w0.Add(time.Duration(w.seq) * time.Second)})
		}
		out = append(out, b)
	}
	return out
}

type traitStore interface {
	store.Store
	UserTraitsOf(ctx context.Context, userID string) (map[string]any, error)
}

// snapshot is everything a store returns about what it holds.
type snapshot struct {
	Observed   *store.Observed
	Violations map[store.ViolationKey]store.ViolationDelta
	HourlyVols map[store.HourKey]store.Seen
	Earliest   map[store.FindingKey]time.Time
	Reservoirs map[string][]string
	Traits     map[string]map[string]any
	Stored     int
	Volumes    map[store.EventKey]int64
	Hygiene    store.Hygiene
	Scoring    []string // the scoring source's streams, as sorted lines
}

func takeSnapshot(t *testing.T, s traitStore, reservoirs bool) snapshot {
	t.Helper()
	ctx := context.Background()
	o, err := s.Observed(ctx)
	if err != nil {
		t.Fatalf("Observed: %v", err)
	}
	tally, err := s.Verdicts(ctx, w0.AddDate(-1, 0, 0), w0.AddDate(1, 0, 0))
	if err != nil {
		t.Fatalf("Verdicts: %v", err)
	}
	snap := snapshot{Observed: o, Violations: map[store.ViolationKey]store.ViolationDelta{}, HourlyVols: map[store.HourKey]store.Seen{},
		Earliest: tally.Earliest, Reservoirs: map[string][]string{}, Traits: map[string]map[string]any{}}
	for k, v := range tally.Violations {
		snap.Violations[k] = *v
	}
	for k, v := range tally.Volumes {
		snap.HourlyVols[k] = *v
	}
	if reservoirs {
		for _, e := range o.Events {
			raws, err := s.Reservoir(ctx, store.EventKey{Source: e.Source, Type: e.Type, Name: e.Name}, 1000)
			if err != nil {
				t.Fatalf("Reservoir: %v", err)
			}
			for _, r := range raws {
				k := e.Source + "/" + e.Name
				snap.Reservoirs[k] = append(snap.Reservoirs[k], string(r))
			}
		}
	}
	for u := range 150 {
		id := fmt.Sprint("user-", u)
		tr, err := s.UserTraitsOf(ctx, id)
		if err != nil {
			t.Fatalf("UserTraitsOf: %v", err)
		}
		snap.Traits[id] = tr
	}
	ids := make([]string, 0, 5000)
	for i := range 5000 {
		ids = append(ids, fmt.Sprint("m", i))
	}
	for _, src := range []string{"web", "ios"} {
		n, err := s.Stored(ctx, src, ids)
		if err != nil {
			t.Fatalf("Stored: %v", err)
		}
		snap.Stored += n
	}
	snap.Volumes, err = s.EventVolumes(ctx, w0, w0.AddDate(0, 0, 11))
	if err != nil {
		t.Fatalf("EventVolumes: %v", err)
	}
	if snap.Hygiene, err = s.Hygiene(ctx, "name"); err != nil {
		t.Fatalf("Hygiene: %v", err)
	}
	snap.Scoring = scoringLines(t, s)
	// The SQLite store writes a path without examples as JSON null, which
	// later merges read back as [""]: compare paths without examples as
	// empty on both sides (the workload sends no empty strings).
	for i := range o.Events {
		for j := range o.Events[i].Properties {
			p := &o.Events[i].Properties[j]
			if len(p.Examples) == 0 || (len(p.Examples) == 1 && p.Examples[0] == "") {
				p.Examples = nil
			}
		}
	}
	return snap
}

// scoringLines reads every stream of the scoring source into sorted lines.
func scoringLines(t *testing.T, s store.Store) []string {
	t.Helper()
	ctx := context.Background()
	var lines []string
	add := func(format string, args ...any) error {
		lines = append(lines, fmt.Sprintf(format, args...))
		return nil
	}
	value := func(raw json.RawMessage) any {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Errorf("trait value %s: %v", raw, err)
		}
		return v
	}
	events := []string{"Signed In", "Report Exported", "Feature Used", "Page Viewed", "odd_event"}
	errs := []error{
		s.Users(ctx, func(u string, first, last time.Time) error { return add("user %s %v %v", u, first, last) }),
		s.Memberships(ctx, func(u, g string) error { return add("member %s %s", u, g) }),
		s.DailyActivity(ctx, events, w0.AddDate(0, 0, 2), w0.AddDate(0, 0, 7), func(u, e string, day time.Time, n int64) error {
			return add("daily %s %s %v %d", u, e, day, n)
		}),
		s.EventTotals(ctx, events, func(u, e string, first, last time.Time) error { return add("total %s %s %v %v", u, e, first, last) }),
		s.UserTraits(ctx, []string{"plan", "email", "seats", "absent"}, func(u, n string, v json.RawMessage, _ time.Time) error {
			return add("trait %s %s %v", u, n, value(v))
		}),
		s.AccountTraits(ctx, []string{"name", "mrr", "status"}, func(g, n string, v json.RawMessage) error {
			return add("account %s %s %v", g, n, value(v))
		}),
	}
	for _, err := range errs {
		if err != nil {
			t.Fatalf("scoring source: %v", err)
		}
	}
	sort.Strings(lines)
	return lines
}

// TestSameResultsAsSQLite feeds the same batches to both stores, with limits
// small enough that every guard and trim is exercised, and expects the same
// answers from every read; then takes both through the rest of the log's
// life (pruning, erasing people, a rebuild) and expects the same again.
func TestSameResultsAsSQLite(t *testing.T) {
	ctx := context.Background()
	l := store.Limits{MaxEventsPerSource: 9, MaxPathsPerEvent: 8, ReservoirSize: 7, ExamplesPerPath: 3}
	pg := open(t, freshSchema(t), l)
	lite := openSQLite(t, l)

	batches := newWorkload(7).batches(3000)
	batches[0].Rejections = append(batches[0].Rejections, trackplan.Rejection{Source: "web", Reason: "invalid_json",
		Sample: []byte(`{"email":"a@example.com"`), ReceivedAt: w0})
	violations := map[string][]trackplan.Violation{}
	for i, b := range batches {
		for _, c := range b.Messages {
			violations[c.Message.MessageID] = c.Violations
		}
		at := w0.Add(time.Duration(i) * 4 * time.Hour) // arrivals over about a week
		want, err := storetest.Ingest(ctx, lite, at, b.Messages, b.Rejections)
		if err != nil {
			t.Fatalf("sqlite batch %d: %v", i, err)
		}
		got, err := storetest.Ingest(ctx, pg, at, b.Messages, b.Rejections)
		if err != nil {
			t.Fatalf("postgres batch %d: %v", i, err)
		}
		if want != got {
			t.Fatalf("batch %d: postgres %+v, sqlite %+v", i, got, want)
		}
	}
	want, got := takeSnapshot(t, lite, true), takeSnapshot(t, pg, true)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("postgres differs from sqlite (-sqlite +postgres):\n%s", diff)
	}
	if got.Observed.Totals.Duplicates == 0 || len(got.Violations) == 0 || got.Observed.Totals.Rejected == 0 ||
		len(got.Volumes) == 0 || len(got.HourlyVols) == 0 || got.Hygiene.UsersNoName == 0 || len(got.Scoring) < 500 {
		t.Errorf("workload too tame: %+v, %d violations, %d volumes, %+v, %d scoring rows",
			got.Observed.Totals, len(got.Violations), len(got.Volumes), got.Hygiene, len(got.Scoring))
	}

	// Retention: whole days of arrival, the same blocks on both.
	for _, s := range []store.Store{lite, pg} {
		if _, err := s.PruneLog(ctx, w0.AddDate(0, 0, 3).Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	sameLog(t, lite, pg)

	// Erasure of two users and an account, and of the values that name
	// them (a substring of other users' ids too: scrubbing is by needle;
	// sku-1 stands for a value kept as a property example), from the
	// derived state, the snapshots, the push ledger and the log.
	run := &trackplan.ScoreRun{Profile: "default", At: w0, WindowDays: 30,
		Users:    []trackplan.UserScore{{ID: "user-3", Score: 5}, {ID: "user-42", Score: 7}, {ID: "user-5", Score: 9}},
		Accounts: []trackplan.AccountScore{{ID: "acct-0", Name: "Account 0"}, {ID: "acct-1", Name: "Account 1"}}}
	ledger := []store.LedgerEntry{
		{LedgerKey: store.LedgerKey{Kind: store.EntityUser, ID: "user-3"}, Digest: "d1", MessageID: "p1", Traits: json.RawMessage(`{"plan":"pro"}`), AckedAt: w0},
		{LedgerKey: store.LedgerKey{Kind: store.EntityUser, ID: "user-7"}, Digest: "d2", MessageID: "p2", Traits: json.RawMessage(`{"email":"a@example.com"}`), AckedAt: w0},
		{LedgerKey: store.LedgerKey{Kind: store.EntityUser, ID: "acct-0"}, Digest: "d3", MessageID: "p3", Traits: json.RawMessage(`{"plan":"free"}`), AckedAt: w0},
		{LedgerKey: store.LedgerKey{Kind: store.EntityAccount, ID: "acct-0"}, Digest: "d4", MessageID: "p4", Traits: json.RawMessage(`{"mrr":10}`), AckedAt: w0},
	}
	users, groups := []string{"user-3", "user-42"}, []string{"acct-0"}
	needles := []string{"user-3", "user-42", "u3@example.com", "u42@example.com", "a@example.com", "sku-1"}
	for _, s := range []store.Store{lite, pg} {
		if err := s.SaveScores(ctx, run); err != nil {
			t.Fatal(err)
		}
		if err := s.LedgerAck(ctx, "default", ledger); err != nil {
			t.Fatal(err)
		}
		if err := s.ForgetDerived(ctx, users, groups, needles); err != nil {
			t.Fatal(err)
		}
		err := s.RewriteLog(ctx, func(b store.LogBlock) ([]byte, int, bool, error) {
			return store.EraseRecords(b, func(r *store.Record) bool { return r.Mentions(set(users), set(groups), needles) })
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	want, got = takeSnapshot(t, lite, true), takeSnapshot(t, pg, true)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after forgetting, postgres differs from sqlite (-sqlite +postgres):\n%s", diff)
	}
	erased := false
	for _, r := range got.Observed.Rejections {
		erased = erased || r.Sample == "(erased)"
	}
	if len(got.Traits["user-3"]) != 0 || !erased {
		t.Errorf("after forgetting: user-3's traits %v, rejection samples %+v", got.Traits["user-3"], got.Observed.Rejections)
	}
	for k, raws := range got.Reservoirs {
		for _, raw := range raws {
			if strings.Contains(raw, `"user-3"`) {
				t.Errorf("reservoir of %s still holds %s", k, raw)
			}
		}
	}
	if diff := cmp.Diff(ledgerOf(t, lite), ledgerOf(t, pg)); diff != "" {
		t.Errorf("push ledger after forgetting (-sqlite +postgres):\n%s", diff)
	}
	if got := ledgerOf(t, pg); len(got) != 2 || got[0] != "user acct-0 {\"plan\":\"free\"}" || got[1] != "user user-7 {}" {
		t.Errorf("push ledger after forgetting: %q", got)
	}
	wantRun, err := lite.LatestScores(ctx, "default", w0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	gotRun, err := pg.LatestScores(ctx, "default", w0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantRun, gotRun); diff != "" || len(gotRun.Users) != 1 || len(gotRun.Accounts) != 1 {
		t.Errorf("snapshot after forgetting: %d users, %d accounts; (-sqlite +postgres):\n%s", len(gotRun.Users), len(gotRun.Accounts), diff)
	}
	sameLog(t, lite, pg)

	// A rebuild from what the log still holds.
	for _, s := range []store.Store{lite, pg} {
		if err := s.ResetDerived(ctx); err != nil {
			t.Fatal(err)
		}
		if err := storetest.Derive(ctx, s, func(m *trackplan.Message) []trackplan.Violation { return violations[m.MessageID] }); err != nil {
			t.Fatal(err)
		}
	}
	want, got = takeSnapshot(t, lite, true), takeSnapshot(t, pg, true)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after a rebuild, postgres differs from sqlite (-sqlite +postgres):\n%s", diff)
	}
}

// sameLog expects the two stores' logs to hold the same records and to be
// described alike.
func sameLog(t *testing.T, want, got store.Store) {
	t.Helper()
	read := func(s store.Store) ([]store.Record, store.LogStats) {
		var recs []store.Record
		err := s.ReadLog(context.Background(), 0, 1<<30, func(b store.LogBlock) error {
			rs, err := store.DecodeBlock(b)
			recs = append(recs, rs...)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.LogStats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return recs, st
	}
	wantRecs, wantStats := read(want)
	gotRecs, gotStats := read(got)
	if diff := cmp.Diff(wantStats, gotStats); diff != "" {
		t.Errorf("log stats (-sqlite +postgres):\n%s", diff)
	}
	// Both decode the same bytes alike: DeepEqual is exact, and much
	// quicker than cmp on thousands of records.
	if !reflect.DeepEqual(wantRecs, gotRecs) {
		t.Errorf("log records (-sqlite +postgres):\n%s", cmp.Diff(wantRecs, gotRecs))
	}
}

// ledgerOf lists a store's push ledger for the default profile as sorted
// lines, traits re-encoded so that both stores' formats compare.
func ledgerOf(t *testing.T, s store.Store) []string {
	t.Helper()
	var lines []string
	err := s.LedgerLoad(context.Background(), "default", func(e store.LedgerEntry) error {
		var traits any
		if err := json.Unmarshal(e.Traits, &traits); err != nil {
			return err
		}
		b, _ := json.Marshal(traits)
		lines = append(lines, fmt.Sprintf("%s %s %s", e.Kind, e.ID, b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return lines
}

func set(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// TestReplicasAppend runs two replicas on one database, each with two
// appending goroutines, on overlapping traffic in different orders, while a
// follower reads the log as it grows: every message is logged exactly once,
// sequence numbers have no gaps and become visible in order (the follower
// never sees a block before those numbered below it), and the state both
// replicas then derive, concurrently, is the state SQLite derives from the
// same log.
func TestReplicasAppend(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	replicas := []*postgres.DB{open(t, dsn, store.DefaultLimits()), open(t, dsn, store.DefaultLimits())}

	w := newWorkload(11)
	unique := make([]store.Checked, 4000)
	violations := map[string][]trackplan.Violation{}
	for i := range unique {
		unique[i] = w.message()
		violations[unique[i].Message.MessageID] = unique[i].Violations
	}
	// Each of four senders sends a shuffled 60% of the messages (so most
	// messages reach both replicas, some several times), in batches, with
	// a rejection now and then; the messages no sender drew are sent last.
	perms := make([][]int, 4)
	drawn := map[int]bool{}
	for g := range perms {
		perms[g] = rand.New(rand.NewPCG(uint64(g), 99)).Perm(len(unique))[:len(unique)*6/10]
		for _, i := range perms[g] {
			drawn[i] = true
		}
	}
	var (
		wg                    sync.WaitGroup
		mu                    sync.Mutex
		stored, dups, n, rejs int
	)
	send := func(db *postgres.DB, b *store.LogBatch) error {
		r, err := db.Append(ctx, b)
		if err != nil {
			return err
		}
		mu.Lock()
		stored, dups, n, rejs = stored+r.Stored, dups+r.Duplicates, n+len(b.Messages), rejs+r.Rejected
		mu.Unlock()
		return nil
	}
	done := make(chan struct{})
	stop := sync.OnceFunc(func() { close(done) })
	defer stop()
	follower := make(chan error, 1)
	go func() { follower <- follow(ctx, replicas[1], done) }()
	for g, perm := range perms {
		rng := rand.New(rand.NewPCG(uint64(g), 7))
		wg.Go(func() {
			for start := 0; start < len(perm); {
				b := &store.LogBatch{}
				for _, i := range perm[start:min(start+1+rng.IntN(250), len(perm))] {
					b.Messages = append(b.Messages, unique[i].Message)
				}
				start += len(b.Messages)
				if rng.IntN(4) == 0 {
					b.Rejections = []trackplan.Rejection{{Source: "web", Reason: "missing_event",
						Sample: fmt.Appendf(nil, `{"g":%d,"at":%d}`, g, start), ReceivedAt: w0.Add(time.Duration(start) * time.Second)}}
				}
				if err := send(replicas[g%2], b); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	rest := &store.LogBatch{}
	for i, c := range unique {
		if !drawn[i] {
			rest.Messages = append(rest.Messages, c.Message)
		}
	}
	if err := send(replicas[0], rest); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-follower; err != nil {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	if stored != len(unique) || dups != n-len(unique) {
		t.Errorf("stored %d, duplicates %d of %d sent; want %d stored, %d duplicates", stored, dups, n, len(unique), n-len(unique))
	}

	// The log: gap-free from 1 to the head, each message once.
	head, err := replicas[0].LogHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head != int64(stored+rejs) {
		t.Errorf("log head %d; want %d messages and rejections", head, stored+rejs)
	}
	var blocks []store.LogBlock
	seen := map[string]int{}
	err = replicas[1].ReadLog(ctx, 0, 1<<30, func(b store.LogBlock) error {
		next := int64(1)
		if len(blocks) > 0 {
			next = blocks[len(blocks)-1].Last + 1
		}
		recs, err := store.DecodeBlock(b)
		if err != nil {
			return err
		}
		if b.First != next || len(recs) != b.Count || int64(b.Count) != b.Last-b.First+1 {
			return fmt.Errorf("block %d-%d of %d records (%d decoded) after %d", b.First, b.Last, b.Count, len(recs), next-1)
		}
		for _, r := range recs {
			if r.Message != nil {
				seen[r.Message.MessageID]++
			}
		}
		blocks = append(blocks, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if last := blocks[len(blocks)-1].Last; last != head {
		t.Errorf("log ends at %d; head is %d", last, head)
	}
	for _, c := range unique {
		if k := seen[c.Message.MessageID]; k != 1 {
			t.Errorf("message %s logged %d times", c.Message.MessageID, k)
		}
	}

	// Both replicas derive at once, in small runs; SQLite derives from a
	// copy of the log.
	check := func(m *trackplan.Message) []trackplan.Violation { return violations[m.MessageID] }
	for _, db := range replicas {
		wg.Go(func() {
			if err := deriveInRuns(ctx, db, 300, check); err != nil {
				t.Errorf("derive: %v", err)
			}
		})
	}
	wg.Wait()
	lite := openSQLite(t, store.DefaultLimits())
	copyLog(t, blocks, lite)
	if err := storetest.Derive(ctx, lite, check); err != nil {
		t.Fatal(err)
	}
	want := takeSnapshot(t, lite, true)
	for i, db := range replicas {
		got := takeSnapshot(t, db, true)
		if got.Observed.Totals.Duplicates != int64(dups) {
			t.Errorf("replica %d: duplicates total %d; want %d", i, got.Observed.Totals.Duplicates, dups)
		}
		got.Observed.Totals.Duplicates = 0
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("replica %d differs from sqlite (-sqlite +postgres):\n%s", i, diff)
		}
	}
}

// follow reads the log as it grows until done is closed, checking that it
// sees, without gaps, every record up to the head it read before: a block
// is visible once its numbers are, and never before the blocks numbered
// below it.
func follow(ctx context.Context, db store.Store, done <-chan struct{}) error {
	var pos int64
	for {
		var finished bool
		select {
		case <-done:
			finished = true
		default:
		}
		head, err := db.LogHead(ctx)
		if err != nil {
			return err
		}
		err = db.ReadLog(ctx, pos, 1<<30, func(b store.LogBlock) error {
			if b.First != pos+1 {
				return fmt.Errorf("follower at %d saw block %d-%d", pos, b.First, b.Last)
			}
			pos = b.Last
			return nil
		})
		if err != nil {
			return err
		}
		if pos < head {
			return fmt.Errorf("follower read up to %d; the head was %d", pos, head)
		}
		if finished {
			return nil
		}
	}
}

// deriveInRuns applies the log beyond the cursor in runs of about n
// records, starting again from the cursor when another process applied a
// run first.
func deriveInRuns(ctx context.Context, s store.Store, n int, check func(*trackplan.Message) []trackplan.Violation) error {
	d := derive.New(s, s, derive.Options{MaxRecords: n})
	d.SetChecker(derive.CheckFunc(check))
	_, err := d.CatchUp(ctx)
	return err
}

// copyLog appends the records of blocks to s in one batch: the messages
// and the rejections each keep their order, which is all the derived state
// depends on.
func copyLog(t *testing.T, blocks []store.LogBlock, s store.Store) {
	t.Helper()
	b := &store.LogBatch{}
	for _, blk := range blocks {
		recs, err := store.DecodeBlock(blk)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Message != nil {
				b.Messages = append(b.Messages, r.Message)
			} else {
				b.Rejections = append(b.Rejections, *r.Rejection)
			}
		}
	}
	if _, err := s.Append(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func openSQLite(t *testing.T, l store.Limits) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ref.db"), l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestUnstorableText sends names, ids and values that PostgreSQL text cannot
// hold (NUL, invalid UTF-8), including keys that become equal once made
// storable: the batch is stored, not refused.
func TestUnstorableText(t *testing.T) {
	db := open(t, freshSchema(t), store.DefaultLimits())
	ctx := context.Background()
	mk := func(id, event string, props map[string]any) store.Checked {
		return store.Checked{Message: &trackplan.Message{Source: "web", Type: trackplan.Track, MessageID: id, UserID: "u\x00",
			Event: event, Timestamp: w0, ReceivedAt: w0, Properties: props, Raw: []byte(`{"bytes":"\u0000"}`)},
			Violations: []trackplan.Violation{{Code: trackplan.UnplannedProperty, Path: "a\x00"}, {Code: trackplan.UnplannedProperty, Path: "a\uFFFD"}}}
	}
	b := &store.Batch{
		Messages: []store.Checked{
			mk("m\x00", "Bad\x00Name", map[string]any{"a\x00": "v\x00", "a\uFFFD": 1.0, "\xff": true}),
			mk("m2", "Bad\uFFFDName", map[string]any{"nested": map[string]any{"k\x00": "\xfe"}}),
			{Message: &trackplan.Message{Source: "web", Type: trackplan.Identify, MessageID: "m3", UserID: "u\x00",
				Timestamp: w0, ReceivedAt: w0, Traits: map[string]any{"n": "x\x00y", "n\x00": 1.0, "n\uFFFD": 2.0,
					"o": map[string]any{"k\x00": []any{"\x00"}}}}},
		},
		Rejections: []trackplan.Rejection{{Source: "web\x00", Reason: "bad\xff", Sample: []byte("\x00\xff"), ReceivedAt: w0}},
	}
	r, err := storetest.Ingest(ctx, db, time.Time{}, b.Messages, b.Rejections)
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if r.Stored != 3 {
		t.Errorf("stored %d; want 3", r.Stored)
	}
	if r, err := storetest.Ingest(ctx, db, time.Time{}, b.Messages[:1], nil); err != nil || r.Duplicates != 1 {
		t.Errorf("resend = %+v, %v; want a duplicate", r, err)
	}
	if n, err := db.Stored(ctx, "web", []string{"m\x00", "m2"}); err != nil || n != 2 {
		t.Errorf("Stored = %d, %v; want 2", n, err)
	}
	o, err := db.Observed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range o.Events {
		names = append(names, fmt.Sprintf("%s×%d", e.Name, e.Count))
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"Bad\uFFFDName×2", "identify×1"}, names); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	traits, err := db.UserTraitsOf(ctx, "u\x00")
	if err != nil {
		t.Fatal(err)
	}
	if traits["n"] != "x\uFFFDy" || traits["n\uFFFD"] == nil {
		t.Errorf("traits = %#v", traits)
	}
	raws, err := db.Reservoir(ctx, store.EventKey{Source: "web", Type: trackplan.Track, Name: "Bad\x00Name"}, 10)
	if err != nil || len(raws) != 2 || string(raws[0]) != `{"bytes":"\u0000"}` {
		t.Errorf("reservoir = %q, %v; want both raw messages byte for byte", raws, err)
	}
}
