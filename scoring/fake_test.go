package scoring

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
)

// fakeSource is an in-memory ActivitySource that keeps raw events and rolls
// them up the way a store does: daily per (UTC day, user, event), all-time
// per (user, event), first/last seen per user.
type fakeSource struct {
	events     []fakeEvent
	members    [][2]string
	userTraits map[string]map[string]string // user → trait → JSON
	acctTraits map[string]map[string]string
	links      []fakeLink
	err        error // returned by every method when set
}

type fakeLink struct {
	id, user string
	at       time.Time
}

type fakeEvent struct {
	user, event string
	t           time.Time
	n           int64
}

func newFake() *fakeSource {
	return &fakeSource{userTraits: map[string]map[string]string{}, acctTraits: map[string]map[string]string{}}
}

// did records that user did event n times at t.
func (f *fakeSource) did(user, event string, t time.Time, n int64) *fakeSource {
	f.events = append(f.events, fakeEvent{user, event, t, n})
	return f
}

func (f *fakeSource) member(user string, accounts ...string) *fakeSource {
	for _, a := range accounts {
		f.members = append(f.members, [2]string{user, a})
	}
	return f
}

func (f *fakeSource) userTrait(user, name, jsonValue string) *fakeSource {
	if f.userTraits[user] == nil {
		f.userTraits[user] = map[string]string{}
	}
	f.userTraits[user][name] = jsonValue
	return f
}

func (f *fakeSource) acctTrait(acct, name, jsonValue string) *fakeSource {
	if f.acctTraits[acct] == nil {
		f.acctTraits[acct] = map[string]string{}
	}
	f.acctTraits[acct][name] = jsonValue
	return f
}

func (f *fakeSource) Users(ctx context.Context, fn func(string, time.Time, time.Time) error) error {
	if f.err != nil {
		return f.err
	}
	type seen struct{ first, last time.Time }
	users := map[string]*seen{}
	var order []string
	for _, e := range f.events {
		s := users[e.user]
		if s == nil {
			s = &seen{e.t, e.t}
			users[e.user] = s
			order = append(order, e.user)
		}
		if e.t.Before(s.first) {
			s.first = e.t
		}
		if e.t.After(s.last) {
			s.last = e.t
		}
	}
	for _, u := range order {
		if err := fn(u, users[u].first, users[u].last); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSource) Memberships(ctx context.Context, fn func(string, string) error) error {
	if f.err != nil {
		return f.err
	}
	for _, m := range f.members {
		if err := fn(m[0], m[1]); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSource) DailyActivity(ctx context.Context, events []string, from, to time.Time, fn func(string, string, time.Time, int64) error) error {
	if f.err != nil {
		return f.err
	}
	type key struct {
		day         time.Time
		user, event string
	}
	counts := map[key]int64{}
	var keys []key
	for _, e := range f.events {
		d := e.t.UTC().Truncate(24 * time.Hour)
		if !slices.Contains(events, e.event) || d.Before(from) || !d.Before(to) {
			continue
		}
		k := key{d, e.user, e.event}
		if _, ok := counts[k]; !ok {
			keys = append(keys, k)
		}
		counts[k] += e.n
	}
	for _, k := range keys {
		if err := fn(k.user, k.event, k.day, counts[k]); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSource) EventTotals(ctx context.Context, events []string, fn func(string, string, time.Time, time.Time) error) error {
	if f.err != nil {
		return f.err
	}
	type key struct{ user, event string }
	type seen struct{ first, last time.Time }
	totals := map[key]*seen{}
	var keys []key
	for _, e := range f.events {
		if !slices.Contains(events, e.event) {
			continue
		}
		k := key{e.user, e.event}
		s := totals[k]
		if s == nil {
			s = &seen{e.t, e.t}
			totals[k] = s
			keys = append(keys, k)
		}
		if e.t.Before(s.first) {
			s.first = e.t
		}
		if e.t.After(s.last) {
			s.last = e.t
		}
	}
	for _, k := range keys {
		if err := fn(k.user, k.event, totals[k].first, totals[k].last); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSource) UserTraits(ctx context.Context, names []string, fn func(string, string, json.RawMessage, time.Time) error) error {
	if f.err != nil {
		return f.err
	}
	return emitTraits(f.userTraits, names, func(id, name string, v json.RawMessage) error {
		return fn(id, name, v, time.Time{})
	})
}

func (f *fakeSource) IdentityLinks(ctx context.Context, fn func(id, userID string, at time.Time) error) error {
	if f.err != nil {
		return f.err
	}
	for _, l := range f.links {
		if err := fn(l.id, l.user, l.at); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeSource) AccountTraits(ctx context.Context, names []string, fn func(string, string, json.RawMessage) error) error {
	if f.err != nil {
		return f.err
	}
	return emitTraits(f.acctTraits, names, fn)
}

func emitTraits(traits map[string]map[string]string, names []string, fn func(string, string, json.RawMessage) error) error {
	ids := make([]string, 0, len(traits))
	for id := range traits {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		for _, name := range names {
			if v, ok := traits[id][name]; ok {
				if err := fn(id, name, json.RawMessage(v)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var _ ActivitySource = (*fakeSource)(nil)

// fakeSaver collects saved runs.
type fakeSaver struct {
	runs []*trackplan.ScoreRun
	err  error
}

func (s *fakeSaver) SaveScores(ctx context.Context, run *trackplan.ScoreRun) error {
	if s.err != nil {
		return s.err
	}
	s.runs = append(s.runs, run)
	return nil
}

// fakeHistory serves saved runs.
type fakeHistory struct {
	runs   []*trackplan.ScoreRun
	err    error
	before []time.Time // arguments seen
}

func (h *fakeHistory) LatestScores(ctx context.Context, profile string, before time.Time) (*trackplan.ScoreRun, error) {
	h.before = append(h.before, before)
	if h.err != nil {
		return nil, h.err
	}
	var best *trackplan.ScoreRun
	for _, r := range h.runs {
		if r.Profile == profile && r.At.Before(before) && (best == nil || r.At.After(best.At)) {
			best = r
		}
	}
	if best == nil {
		return nil, trackplan.ErrNotFound
	}
	return best, nil
}

// load builds the input a run of the profiles at `at` needs from f.
func (f *fakeSource) load(t testing.TB, at time.Time, nameTrait string, profiles ...*trackplan.Profile) *Input {
	t.Helper()
	in, err := Load(context.Background(), f, SpecFor(at, nameTrait, "", profiles...))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return in
}

// score loads from f and scores p at `at` with the computed baseline.
func (f *fakeSource) score(t testing.TB, at time.Time, p *trackplan.Profile) *trackplan.ScoreRun {
	t.Helper()
	run, err := Score(f.load(t, at, "", p), p, at, nil)
	if err != nil {
		t.Fatalf("Score: %v", err)
	}
	return run
}

// byID indexes a run's users and accounts.
func usersByID(run *trackplan.ScoreRun) map[string]trackplan.UserScore {
	m := map[string]trackplan.UserScore{}
	for _, u := range run.Users {
		m[u.ID] = u
	}
	return m
}

func accountsByID(run *trackplan.ScoreRun) map[string]trackplan.AccountScore {
	m := map[string]trackplan.AccountScore{}
	for _, a := range run.Accounts {
		m[a.ID] = a
	}
	return m
}

func userIDs(run *trackplan.ScoreRun) []string {
	ids := []string{}
	for _, u := range run.Users {
		ids = append(ids, u.ID)
	}
	return ids
}

func sortedKeysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare)
	return keys
}

func ptr[T any](v T) *T { return &v }
