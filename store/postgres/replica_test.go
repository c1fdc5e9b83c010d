package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
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
	Violations []store.ViolationCount
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
	vs, err := s.Violations(ctx, time.Time{})
	if err != nil {
		t.Fatalf("Violations: %v", err)
	}
	snap := snapshot{Observed: o, Violations: vs, Reservoirs: map[string][]string{}, Traits: map[string]map[string]any{}}
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
		s.UserTraits(ctx, []string{"plan", "email", "seats", "absent"}, func(u, n string, v json.RawMessage) error {
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
// answers from every read.
func TestSameResultsAsSQLite(t *testing.T) {
	l := store.Limits{MaxEventsPerSource: 9, MaxPathsPerEvent: 8, ReservoirSize: 7, ExamplesPerPath: 3}
	pg := open(t, freshSchema(t), l)
	lite, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ref.db"), l)
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()

	for i, b := range newWorkload(7).batches(3000) {
		want, err := lite.Ingest(context.Background(), b)
		if err != nil {
			t.Fatalf("sqlite batch %d: %v", i, err)
		}
		got, err := pg.Ingest(context.Background(), b)
		if err != nil {
			t.Fatalf("postgres batch %d: %v", i, err)
		}
		if want != got {
			t.Fatalf("batch %d: postgres %+v, sqlite %+v", i, got, want)
		}
	}
	want, got := takeSnapshot(t, lite, true), takeSnapshot(t, pg, true)
	// The SQLite store writes a path without examples as JSON null, which
	// later merges read back as [""]: compare paths without examples as
	// empty on both sides (the workload sends no empty strings).
	for _, snap := range []snapshot{want, got} {
		for i := range snap.Observed.Events {
			for j := range snap.Observed.Events[i].Properties {
				p := &snap.Observed.Events[i].Properties[j]
				if len(p.Examples) == 0 || (len(p.Examples) == 1 && p.Examples[0] == "") {
					p.Examples = nil
				}
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("postgres differs from sqlite (-sqlite +postgres):\n%s", diff)
	}
	if got.Observed.Totals.Duplicates == 0 || len(got.Violations) == 0 || got.Observed.Totals.Rejected == 0 ||
		len(got.Volumes) == 0 || got.Hygiene.UsersNoName == 0 || len(got.Scoring) < 500 {
		t.Errorf("workload too tame: %+v, %d violations, %d volumes, %+v, %d scoring rows",
			got.Observed.Totals, len(got.Violations), len(got.Volumes), got.Hygiene, len(got.Scoring))
	}
}

// TestReplicasShareDedupe runs two replicas on one database, each with two
// ingesting goroutines, on overlapping traffic in different orders: every
// message is counted once, and the totals are those of a single store that
// saw each message once.
func TestReplicasShareDedupe(t *testing.T) {
	dsn := freshSchema(t)
	replicas := []*trackplanDB{{open(t, dsn, store.DefaultLimits())}, {open(t, dsn, store.DefaultLimits())}}

	w := newWorkload(11)
	unique := make([]store.Checked, 4000)
	for i := range unique {
		unique[i] = w.message()
	}
	// Each of four senders sends a shuffled 60% of the messages (so most
	// messages reach both replicas, some several times), in batches.
	var (
		wg              sync.WaitGroup
		mu              sync.Mutex
		stored, dups, n int
	)
	for g := range 4 {
		rng := rand.New(rand.NewPCG(uint64(g), 99))
		perm := rng.Perm(len(unique))[:len(unique)*6/10]
		db := replicas[g%2]
		wg.Go(func() {
			for start := 0; start < len(perm); {
				size := 1 + rng.IntN(250)
				b := &store.Batch{}
				for _, i := range perm[start:min(start+size, len(perm))] {
					b.Messages = append(b.Messages, unique[i])
				}
				start += size
				r, err := db.Ingest(context.Background(), b)
				if err != nil {
					t.Errorf("Ingest: %v", err)
					return
				}
				mu.Lock()
				stored, dups, n = stored+r.Stored, dups+r.Duplicates, n+len(b.Messages)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Messages no sender drew are sent now, so the totals are complete.
	seen := map[string]bool{}
	for g := range 4 {
		rng := rand.New(rand.NewPCG(uint64(g), 99))
		for _, i := range rng.Perm(len(unique))[:len(unique)*6/10] {
			seen[unique[i].Message.MessageID] = true
		}
	}
	rest := &store.Batch{}
	for _, c := range unique {
		if !seen[c.Message.MessageID] {
			rest.Messages = append(rest.Messages, c)
		}
	}
	r, err := replicas[0].Ingest(context.Background(), rest)
	if err != nil {
		t.Fatal(err)
	}
	stored, dups, n = stored+r.Stored, dups+r.Duplicates, n+len(rest.Messages)

	if stored != len(unique) || dups != n-len(unique) {
		t.Errorf("stored %d, duplicates %d of %d sent; want %d stored, %d duplicates", stored, dups, n, len(unique), n-len(unique))
	}

	ref := open(t, freshSchema(t), store.DefaultLimits())
	for start := 0; start < len(unique); start += 500 {
		if _, err := ref.Ingest(context.Background(), &store.Batch{Messages: unique[start:min(start+500, len(unique))]}); err != nil {
			t.Fatal(err)
		}
	}
	want := takeSnapshot(t, ref, false)
	for i, db := range replicas {
		got := takeSnapshot(t, db, false)
		if got.Observed.Totals.Duplicates != int64(dups) {
			t.Errorf("replica %d: duplicates total %d; want %d", i, got.Observed.Totals.Duplicates, dups)
		}
		got.Observed.Totals.Duplicates = 0
		// Which of several messages last seen at once supplies a violation's
		// sample depends on arrival order.
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(store.ViolationCount{}, "Sample")); diff != "" {
			t.Errorf("replica %d differs from a single store (-want +got):\n%s", i, diff)
		}
	}
}

// trackplanDB lets the replicas slice hold stores by value of the interface
// the snapshot needs.
type trackplanDB struct{ traitStore }

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
	r, err := db.Ingest(ctx, b)
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if r.Stored != 3 {
		t.Errorf("stored %d; want 3", r.Stored)
	}
	if r, err := db.Ingest(ctx, &store.Batch{Messages: b.Messages[:1]}); err != nil || r.Duplicates != 1 {
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
