package sync

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// Memory is a DriftReader held in memory: what a store would derive from
// the same checked messages, built by the same aggregation, so `drift
// --events FILE` needs no store and agrees with `drift` on one.
type Memory struct {
	limits   store.Limits
	guard    *store.Guard
	delta    *store.Delta // everything added, as one run
	rejected *store.Tally // rejections, counted in every window
	totals   store.Totals
}

// hygieneTraits are the user traits the best-practice checks look at.
var hygieneTraits = map[string]bool{"email": true, "name": true, "first_name": true, "created_at": true, "createdAt": true}

// NewMemory returns an empty Memory applying the limits l; nameTrait is
// the account display-name trait the best-practice check looks for
// (default "name").
func NewMemory(l store.Limits, nameTrait string) *Memory {
	traits := store.ReportTraits{User: hygieneTraits,
		Account: map[string]bool{cmp.Or(nameTrait, trackplan.DefaultAccountNameTrait): true}}
	return &Memory{limits: l, guard: store.NewGuard(l), delta: store.NewReportDelta(traits),
		rejected: store.NewTally()}
}

// Add aggregates a run of checked messages and rejections, in order.
// Rejections have no event time of their own (only the time they were
// read), so they count in every window: a bad line of a file is drift
// whatever the window.
func (m *Memory) Add(b *store.Batch) {
	for i := range b.Rejections {
		m.rejected.AddRejection(&b.Rejections[i])
	}
	m.totals.Messages += int64(len(b.Messages))
	m.totals.Rejected += int64(len(b.Rejections))
	m.delta.AddReport(&store.Batch{Messages: b.Messages, Planned: b.Planned}, m.guard, m.limits)
}

// Span is the event time of the earliest and the latest message added.
func (m *Memory) Span() (first, last time.Time) { return m.delta.Span() }

// Observed returns what was seen, as a store's Observed would (without
// examples).
func (m *Memory) Observed(context.Context) (*store.Observed, error) {
	d := m.delta
	o := &store.Observed{Totals: m.totals}
	o.Totals.Users, o.Totals.Accounts = int64(len(d.Users)), int64(len(d.Accounts))
	for _, k := range slices.SortedFunc(maps.Keys(d.Events), func(a, b store.EventKey) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Name, b.Name))
	}) {
		e := d.Events[k]
		ev := store.ObservedEvent{Source: k.Source, Type: k.Type, Name: k.Name, Count: e.Count,
			FirstSeen: e.First, LastSeen: e.Last}
		for _, path := range slices.Sorted(maps.Keys(e.Props)) {
			p := e.Props[path]
			ev.Properties = append(ev.Properties, store.ObservedProperty{Path: path, Types: maps.Clone(p.Types),
				Present: p.Count, FirstSeen: p.First, LastSeen: p.Last})
		}
		o.Events = append(o.Events, ev)
	}
	return o, nil
}

// Verdicts returns the verdicts of the hours holding from through to, and
// every rejection.
func (m *Memory) Verdicts(_ context.Context, from, to time.Time) (*store.Tally, error) {
	w := m.delta.Window(from, to)
	w.Merge(m.rejected)
	return w, nil
}

// Hygiene counts users and accounts missing best-practice traits.
func (m *Memory) Hygiene(_ context.Context, nameTrait string) (store.Hygiene, error) {
	d := m.delta
	has := func(traits map[store.TraitKey]store.TraitValue, id string, names ...string) bool {
		for _, n := range names {
			if v, ok := traits[store.TraitKey{ID: id, Name: n}]; ok && !v.Null() {
				return true
			}
		}
		return false
	}
	members := map[string]bool{}
	for k := range d.Memberships {
		members[k.UserID] = true
	}
	var h store.Hygiene
	for id := range d.Users {
		h.Users++
		if !has(d.UserTraits, id, "email") {
			h.UsersNoEmail++
		}
		if !has(d.UserTraits, id, "name", "first_name") {
			h.UsersNoName++
		}
		if !has(d.UserTraits, id, "created_at", "createdAt") {
			h.UsersNoCreatedAt++
		}
		if !members[id] {
			h.UsersNoAccount++
		}
	}
	for id := range d.Accounts {
		h.Accounts++
		if !has(d.AcctTraits, id, cmp.Or(nameTrait, trackplan.DefaultAccountNameTrait)) {
			h.AccountsNoName++
		}
	}
	return h, nil
}
