package store

import "github.com/trackplan/trackplan"

// PlanNames tells the guard what a plan names: the events it plans and
// their property paths, which the guard always lets through and never
// counts towards its limits. *trackplan.Checker implements it. Values are
// compared with == to tell plans apart: use a pointer type.
type PlanNames interface {
	// PlansEvent reports whether the plan has an entry for the events of
	// call type t named name (an EventKey's Type and Name).
	PlansEvent(t trackplan.CallType, name string) bool
	// PlansPath reports whether that entry names the property path, as
	// trackplan.Flatten writes it.
	PlansPath(t trackplan.CallType, name, path string) bool
}

// Guard applies the cardinality limits: at most Limits.MaxEventsPerSource
// events per source and Limits.MaxPathsPerEvent property paths per event
// that the plan does not name. Planned events and their planned paths
// always pass and take no slot, so junk cannot crowd them out; a source's
// junk takes only that source's slots. Stores keep one per process, loaded
// with what they already hold (and loaded again once prune dropped the
// events that left retention, freeing their slots); it is not safe for
// concurrent use and is used under the store's ingest lock.
type Guard struct {
	limits  Limits
	sources map[string]*sourceSlots
	values  map[valueKey]map[string]struct{} // distinct observed values of a violation

	// plan is what the counts were taken under; counted is false when
	// they must be taken again (a new plan, Know, Forget).
	plan    PlanNames
	counted bool
}

// sourceSlots are the events known of one source.
type sourceSlots struct {
	events    map[EventKey]*eventSlots
	unplanned int // events the plan does not name
}

// eventSlots are the property paths known of one event.
type eventSlots struct {
	planned   bool // the plan names the event
	paths     map[string]struct{}
	unplanned int // paths the plan does not name
}

// valueKey identifies a violation whose observed value varies (an enum).
type valueKey struct {
	Event EventKey
	Code  trackplan.Code
	Path  string
}

// MaxObservedValues bounds how many distinct observed values a violation
// of one (event, code, path) keeps; the rest are counted together.
const MaxObservedValues = 20

// OtherValues is the observed value that stands for the values past
// MaxObservedValues.
const OtherValues = "(other values)"

// GuardAdds lists what one Aggregate added to a guard, so a store whose
// transaction failed can take it back.
type GuardAdds struct {
	events []EventKey
	paths  []eventPath
	values []valueAdd
}

type eventPath struct {
	key  EventKey
	path string
}

type valueAdd struct {
	key   valueKey
	value string
}

// NewGuard returns a guard with nothing known yet.
func NewGuard(l Limits) *Guard {
	return &Guard{limits: l, sources: map[string]*sourceSlots{}, values: map[valueKey]map[string]struct{}{}}
}

// Know records an event (and a path, when path is not empty) the store
// already holds.
func (g *Guard) Know(k EventKey, path string) {
	g.counted = false
	ev := g.event(k)
	if path != "" {
		ev.paths[path] = struct{}{}
	}
}

// event returns k's slots, adding them (uncounted) when k is new.
func (g *Guard) event(k EventKey) *eventSlots {
	src := g.sources[k.Source]
	if src == nil {
		src = &sourceSlots{events: map[EventKey]*eventSlots{}}
		g.sources[k.Source] = src
	}
	ev := src.events[k]
	if ev == nil {
		ev = &eventSlots{paths: map[string]struct{}{}}
		src.events[k] = ev
	}
	return ev
}

// Forget takes back what an Aggregate added, after its transaction failed.
func (g *Guard) Forget(a GuardAdds) {
	g.counted = false
	for _, v := range a.values {
		delete(g.values[v.key], v.value)
	}
	for _, p := range a.paths {
		if ev := g.sources[p.key.Source].lookup(p.key); ev != nil {
			delete(ev.paths, p.path)
		}
	}
	for _, k := range a.events {
		if src := g.sources[k.Source]; src != nil {
			delete(src.events, k)
		}
	}
}

func (s *sourceSlots) lookup(k EventKey) *eventSlots {
	if s == nil {
		return nil
	}
	return s.events[k]
}

// use makes p the plan the guard counts against, counting the known events
// and paths again when it differs from the last one (or they changed).
func (g *Guard) use(p PlanNames) {
	if g.counted && g.plan == p {
		return
	}
	g.plan, g.counted = p, true
	for _, src := range g.sources {
		src.unplanned = 0
		for k, ev := range src.events {
			ev.planned = g.plansEvent(k)
			if !ev.planned {
				src.unplanned++
			}
			ev.unplanned = 0
			for path := range ev.paths {
				if !ev.planned || !g.plan.PlansPath(k.Type, k.Name, path) {
					ev.unplanned++
				}
			}
		}
	}
}

func (g *Guard) plansEvent(k EventKey) bool {
	return g.plan != nil && g.plan.PlansEvent(k.Type, k.Name)
}

// allowEvent reports whether the event may be stored, and its slots when it
// may: a known or planned event always, a new unplanned one while its
// source has fewer than MaxEventsPerSource unplanned events.
func (g *Guard) allowEvent(k EventKey, adds *GuardAdds) (*eventSlots, bool) {
	src := g.sources[k.Source]
	if ev := src.lookup(k); ev != nil {
		return ev, true
	}
	planned := g.plansEvent(k)
	if !planned && src != nil && src.unplanned >= g.limits.MaxEventsPerSource {
		return nil, false
	}
	ev := g.event(k)
	ev.planned = planned
	if !planned {
		g.sources[k.Source].unplanned++
	}
	adds.events = append(adds.events, k)
	return ev, true
}

// allowPath reports whether a property path of an allowed event may be
// stored: a known or planned path always, a new unplanned one while the
// event has fewer than MaxPathsPerEvent unplanned paths.
func (g *Guard) allowPath(k EventKey, ev *eventSlots, path string, adds *GuardAdds) bool {
	if _, ok := ev.paths[path]; ok {
		return true
	}
	planned := ev.planned && g.plan.PlansPath(k.Type, k.Name, path)
	if !planned {
		if ev.unplanned >= g.limits.MaxPathsPerEvent {
			return false
		}
		ev.unplanned++
	}
	ev.paths[path] = struct{}{}
	adds.paths = append(adds.paths, eventPath{k, path})
	return true
}

// observedValue bounds the distinct values a violation keeps.
func (g *Guard) observedValue(k valueKey, value string, adds *GuardAdds) string {
	vals := g.values[k]
	if _, ok := vals[value]; ok {
		return value
	}
	if len(vals) >= MaxObservedValues {
		return OtherValues
	}
	if vals == nil {
		vals = map[string]struct{}{}
		g.values[k] = vals
	}
	vals[value] = struct{}{}
	adds.values = append(adds.values, valueAdd{k, value})
	return value
}
