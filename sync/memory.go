package sync

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"time"

	"github.com/trackplan/trackplan/store"
)

// Memory is a DriftReader held in memory: what a store would derive from
// the same checked messages, built by the same aggregation, so `drift
// --events FILE` needs no store and agrees with `drift` on one.
type Memory struct {
	limits   store.Limits
	guard    *store.Guard
	tally    *store.Tally
	rejected *store.Tally // rejections, counted in every window
	events   map[store.EventKey]*memEvent
	users    map[string]bool
	members  map[string]bool // users with an account
	accounts map[string]bool
	uTraits  map[store.TraitKey]store.TraitValue
	aTraits  map[store.TraitKey]store.TraitValue
	totals   store.Totals
}

type memEvent struct {
	store.Seen
	props map[string]*memProp
}

type memProp struct {
	store.Seen
	types    map[string]int64
	examples []string
}

// hygieneTraits are the user traits the best-practice checks look at.
var hygieneTraits = map[string]bool{"email": true, "name": true, "first_name": true, "created_at": true, "createdAt": true}

// NewMemory returns an empty Memory applying the limits l.
func NewMemory(l store.Limits) *Memory {
	return &Memory{limits: l, guard: store.NewGuard(l), tally: store.NewTally(), rejected: store.NewTally(), events: map[store.EventKey]*memEvent{},
		users: map[string]bool{}, members: map[string]bool{}, accounts: map[string]bool{},
		uTraits: map[store.TraitKey]store.TraitValue{}, aTraits: map[store.TraitKey]store.TraitValue{}}
}

// Add aggregates a run of checked messages and rejections, in order.
// Rejections have no event time of their own (only the time they were
// read), so they count in every window: a bad line of a file is drift
// whatever the window.
func (m *Memory) Add(b *store.Batch) {
	for i := range b.Rejections {
		m.rejected.AddRejection(&b.Rejections[i])
	}
	d := store.Aggregate(&store.Batch{Messages: b.Messages}, m.guard, m.limits)
	m.tally.Merge(&d.Tally)
	m.totals.Messages += int64(len(b.Messages))
	m.totals.Rejected += int64(len(b.Rejections))
	for k, ev := range d.Events {
		me := m.events[k]
		if me == nil {
			me = &memEvent{props: map[string]*memProp{}}
			m.events[k] = me
		}
		me.Merge(ev.Seen)
		for path, p := range ev.Props {
			mp := me.props[path]
			if mp == nil {
				mp = &memProp{types: map[string]int64{}}
				me.props[path] = mp
			}
			mp.Merge(p.Seen)
			for t, n := range p.Types {
				mp.types[t] += n
			}
			mp.examples = store.MergeExamples(mp.examples, p.Examples, m.limits.ExamplesPerPath)
		}
	}
	for id := range d.Users {
		m.users[id] = true
	}
	for id := range d.Accounts {
		m.accounts[id] = true
	}
	for k := range d.Memberships {
		m.members[k.UserID] = true
	}
	mergeLatest(m.uTraits, d.UserTraits, func(k store.TraitKey) bool { return hygieneTraits[k.Name] })
	mergeLatest(m.aTraits, d.AcctTraits, func(store.TraitKey) bool { return true })
}

// mergeLatest keeps, per trait, the value with the latest time (the later
// added on a tie), as the stores do.
func mergeLatest(into, from map[store.TraitKey]store.TraitValue, keep func(store.TraitKey) bool) {
	for k, v := range from {
		if !keep(k) {
			continue
		}
		if cur, ok := into[k]; !ok || !v.At.Before(cur.At) {
			into[k] = v
		}
	}
}

// Span is the event time of the earliest and the latest message added.
func (m *Memory) Span() (first, last time.Time) { return m.tally.Span() }

// Observed returns what was seen, as a store's Observed would.
func (m *Memory) Observed(context.Context) (*store.Observed, error) {
	o := &store.Observed{Totals: m.totals}
	o.Totals.Users, o.Totals.Accounts = int64(len(m.users)), int64(len(m.accounts))
	for _, k := range slices.SortedFunc(maps.Keys(m.events), func(a, b store.EventKey) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Name, b.Name))
	}) {
		me := m.events[k]
		ev := store.ObservedEvent{Source: k.Source, Type: k.Type, Name: k.Name, Count: me.Count,
			FirstSeen: me.First, LastSeen: me.Last}
		for _, path := range slices.Sorted(maps.Keys(me.props)) {
			p := me.props[path]
			ev.Properties = append(ev.Properties, store.ObservedProperty{Path: path, Types: maps.Clone(p.types),
				Present: p.Count, FirstSeen: p.First, LastSeen: p.Last, Examples: p.examples})
		}
		o.Events = append(o.Events, ev)
	}
	return o, nil
}

// Verdicts returns the verdicts of the hours holding from through to.
func (m *Memory) Verdicts(_ context.Context, from, to time.Time) (*store.Tally, error) {
	w := m.tally.Window(from, to)
	w.Merge(m.rejected)
	return w, nil
}

// Hygiene counts users and accounts missing best-practice traits.
func (m *Memory) Hygiene(_ context.Context, nameTrait string) (store.Hygiene, error) {
	has := func(traits map[store.TraitKey]store.TraitValue, id string, names ...string) bool {
		for _, n := range names {
			if v, ok := traits[store.TraitKey{ID: id, Name: n}]; ok && string(v.Value) != "null" {
				return true
			}
		}
		return false
	}
	var h store.Hygiene
	for id := range m.users {
		h.Users++
		if !has(m.uTraits, id, "email") {
			h.UsersNoEmail++
		}
		if !has(m.uTraits, id, "name", "first_name") {
			h.UsersNoName++
		}
		if !has(m.uTraits, id, "created_at", "createdAt") {
			h.UsersNoCreatedAt++
		}
		if !m.members[id] {
			h.UsersNoAccount++
		}
	}
	for id := range m.accounts {
		h.Accounts++
		if !has(m.aTraits, id, nameTrait) {
			h.AccountsNoName++
		}
	}
	return h, nil
}
