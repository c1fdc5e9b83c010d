package plandiff

import (
	"slices"
	"strconv"
	"strings"

	"github.com/trackplan/trackplan"
)

// Diff returns every change from the old plan to the new one, in the
// documented order. A nil plan is an empty one. Of duplicate entries (an
// invalid plan) the first wins, as in (*trackplan.Plan).Lookup.
func Diff(oldPlan, newPlan *trackplan.Plan) *Result {
	var d differ
	olds, news := events(oldPlan), events(newPlan)
	newByKey := make(map[eventKey]*trackplan.Event, len(news))
	for _, n := range news {
		newByKey[keyOf(n)] = n
	}
	matched := map[eventKey]bool{}
	var removed, added []*trackplan.Event
	for _, o := range olds {
		k := keyOf(o)
		if n := newByKey[k]; n != nil {
			matched[k] = true
			if o.Name != n.Name { // identify and group entries match by type alone
				d.add(Change{Kind: EventMetadataChanged, Event: n.Name, CallType: n.CallType(), Field: "name",
					Before: o.Name, After: n.Name})
			}
			d.event(o, n)
			continue
		}
		removed = append(removed, o)
	}
	for _, n := range news {
		if !matched[keyOf(n)] {
			added = append(added, n)
		}
	}

	pairs, removed, added := pairUnique(removed, added, typeChangeKey)
	for _, p := range pairs {
		o, n := p[0], p[1]
		d.add(Change{Kind: EventTypeChanged, Event: n.Name, CallType: n.CallType(),
			Before: string(o.CallType()), After: string(n.CallType()),
			Breaking: !(n.CallType() == trackplan.Track && (o.CallType() == trackplan.Page || o.CallType() == trackplan.Screen))})
		d.event(o, n)
	}
	pairs, removed, added = pairUnique(removed, added, eventSignature)
	for _, p := range pairs {
		o, n := p[0], p[1]
		d.add(Change{Kind: EventRenamed, Event: n.Name, CallType: n.CallType(), Before: o.Name, After: n.Name, Breaking: true})
		d.event(o, n)
	}
	for _, o := range removed {
		d.add(Change{Kind: EventRemoved, Event: o.Name, CallType: o.CallType(), Before: countProperties(o),
			Breaking: !traitsEntry(o)})
	}
	for _, n := range added {
		d.add(Change{Kind: EventAdded, Event: n.Name, CallType: n.CallType(), After: countProperties(n),
			Breaking: traitsEntry(n)})
	}
	sortChanges(d.changes)
	if d.changes == nil {
		d.changes = []Change{}
	}
	return &Result{Changes: d.changes}
}

// differ collects changes.
type differ struct {
	changes []Change
}

func (d *differ) add(c Change) {
	if c.Values == nil {
		c.Values = []string{}
	}
	d.changes = append(d.changes, c)
}

// eventKey identifies an event across plans: call type and name, or call
// type alone for identify and group entries.
type eventKey struct {
	t    trackplan.CallType
	name string
}

func keyOf(e *trackplan.Event) eventKey {
	if traitsEntry(e) {
		return eventKey{t: e.CallType()}
	}
	return eventKey{e.CallType(), e.Name}
}

// traitsEntry reports whether e is an identify or group entry.
func traitsEntry(e *trackplan.Event) bool {
	t := e.CallType()
	return t == trackplan.Identify || t == trackplan.Group
}

// events returns p's entries without nil entries and duplicates (the first
// wins), in plan order.
func events(p *trackplan.Plan) []*trackplan.Event {
	if p == nil {
		return nil
	}
	seen := map[eventKey]bool{}
	out := make([]*trackplan.Event, 0, len(p.Events))
	for _, e := range p.Events {
		if e == nil || seen[keyOf(e)] {
			continue
		}
		seen[keyOf(e)] = true
		out = append(out, e)
	}
	return out
}

// typeChangeKey pairs a removed and an added track, page or screen entry of
// the same name: the entry's call type changed.
func typeChangeKey(e *trackplan.Event) (string, bool) {
	return e.Name, !traitsEntry(e)
}

// eventSignature pairs a removed and an added event of the same call type
// and the same non-empty set of property paths and types: a rename.
func eventSignature(e *trackplan.Event) (string, bool) {
	props := properties(e)
	if len(props) == 0 {
		return "", false
	}
	parts := make([]string, 0, len(props))
	for _, p := range props {
		parts = append(parts, strconv.Quote(p.Name)+":"+string(p.EffectiveType()))
	}
	slices.Sort(parts)
	return string(e.CallType()) + "\x00" + strings.Join(parts, "\x00"), true
}

// pairUnique pairs the items of a and b whose keys are equal, when exactly
// one item of a and one of b have that key; items whose key function says
// false are never paired. It returns the pairs in a's order and the
// unpaired items in their original order.
func pairUnique[T any](a, b []T, key func(T) (string, bool)) (pairs [][2]T, restA, restB []T) {
	count := func(items []T) (keys []string, n map[string]int) {
		keys, n = make([]string, len(items)), map[string]int{}
		for i, it := range items {
			if k, ok := key(it); ok {
				keys[i] = "=" + k // never empty, unlike the key of an unpaired item
				n[keys[i]]++
			}
		}
		return keys, n
	}
	keysA, nA := count(a)
	keysB, nB := count(b)
	pairedB := map[string]int{}
	for i, k := range keysB {
		if k != "" && nA[k] == 1 && nB[k] == 1 {
			pairedB[k] = i
		}
	}
	taken := make([]bool, len(b))
	for i, it := range a {
		if j, ok := pairedB[keysA[i]]; ok {
			pairs = append(pairs, [2]T{it, b[j]})
			taken[j] = true
			continue
		}
		restA = append(restA, it)
	}
	for j, it := range b {
		if !taken[j] {
			restB = append(restB, it)
		}
	}
	return pairs, restA, restB
}

// event adds the changes between two entries taken as the same event: its
// status, metadata and properties. Changes are filed under n's name and call
// type.
func (d *differ) event(o, n *trackplan.Event) {
	base := Change{Event: n.Name, CallType: n.CallType()}
	if o.Status != n.Status {
		c := base
		c.Kind, c.Before, c.After = EventStatusChanged, string(o.Status), string(n.Status)
		c.Breaking = n.Status == trackplan.StatusDeprecated
		d.add(c)
	}
	meta := func(field, before, after string) {
		if before != after {
			c := base
			c.Kind, c.Field, c.Before, c.After = EventMetadataChanged, field, short(before), short(after)
			d.add(c)
		}
	}
	meta("description", o.Description, n.Description)
	meta("why", o.Why, n.Why)
	meta("owner", o.Owner, n.Owner)
	if !sameSet(o.Tags, n.Tags) {
		meta("tags", strings.Join(o.Tags, ", "), strings.Join(n.Tags, ", "))
	}
	if !sameSet(o.Platforms, n.Platforms) {
		meta("platforms", strings.Join(o.Platforms, ", "), strings.Join(n.Platforms, ", "))
	}
	meta("weight", strconv.Itoa(o.Weight), strconv.Itoa(n.Weight))
	d.properties(o, n, base)
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// countProperties describes the size of an entry, for the Before of a
// removal and the After of an addition.
func countProperties(e *trackplan.Event) string {
	one, many := "property", "properties"
	if traitsEntry(e) {
		one, many = "trait", "traits"
	}
	switch n := len(properties(e)); n {
	case 0:
		return "no " + many
	case 1:
		return "1 " + one
	default:
		return strconv.Itoa(n) + " " + many
	}
}
