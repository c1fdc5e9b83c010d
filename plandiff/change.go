package plandiff

import (
	"cmp"
	"slices"
	"strings"

	"github.com/trackplan/trackplan"
)

// Kind names a kind of change. The values are stable: scripts may match on
// them in the JSON form.
type Kind string

// Kinds of event changes.
const (
	EventAdded           Kind = "event_added"
	EventRemoved         Kind = "event_removed"
	EventRenamed         Kind = "event_renamed"
	EventTypeChanged     Kind = "event_type_changed"
	EventStatusChanged   Kind = "event_status_changed"
	EventMetadataChanged Kind = "event_metadata_changed"
)

// Kinds of property changes.
const (
	PropertyAdded           Kind = "property_added"
	PropertyRemoved         Kind = "property_removed"
	PropertyRenamed         Kind = "property_renamed"
	PropertyTypeChanged     Kind = "property_type_changed"
	PropertyMadeRequired    Kind = "property_made_required"
	PropertyMadeOptional    Kind = "property_made_optional"
	NullableAdded           Kind = "nullable_added"
	NullableRemoved         Kind = "nullable_removed"
	EnumAdded               Kind = "enum_added"
	EnumRemoved             Kind = "enum_removed"
	EnumValuesAdded         Kind = "enum_values_added"
	EnumValuesRemoved       Kind = "enum_values_removed"
	PatternAdded            Kind = "pattern_added"
	PatternChanged          Kind = "pattern_changed"
	PatternRemoved          Kind = "pattern_removed"
	RangeNarrowed           Kind = "range_narrowed"
	RangeWidened            Kind = "range_widened"
	PropertyMetadataChanged Kind = "property_metadata_changed"
)

// Kinds returns every kind of change, events first.
func Kinds() []Kind {
	return []Kind{
		EventAdded, EventRemoved, EventRenamed, EventTypeChanged, EventStatusChanged, EventMetadataChanged,
		PropertyAdded, PropertyRemoved, PropertyRenamed, PropertyTypeChanged, PropertyMadeRequired, PropertyMadeOptional,
		NullableAdded, NullableRemoved, EnumAdded, EnumRemoved, EnumValuesAdded, EnumValuesRemoved,
		PatternAdded, PatternChanged, PatternRemoved, RangeNarrowed, RangeWidened, PropertyMetadataChanged,
	}
}

// Change is one difference between two plans.
type Change struct {
	// Kind is what changed.
	Kind Kind `json:"kind"`
	// Event is the event's name: in the new plan, or in the old one when
	// the event was removed. For a renamed event it is the new name.
	Event string `json:"event"`
	// CallType is the event's call type, in the new plan when it has one.
	CallType trackplan.CallType `json:"call_type"`
	// Property is the property's path; empty for changes of the event
	// itself. For a renamed property it is the new path.
	Property string `json:"property"`
	// Field names the field of a metadata change (description, owner,
	// tags, pii, ...); empty for other kinds.
	Field string `json:"field"`
	// Before and After describe the old and the new state in a few words;
	// empty when there is none (Before of an addition, After of a removal).
	Before string `json:"before"`
	After  string `json:"after"`
	// Values lists the enum values an enum change added or removed.
	Values []string `json:"values"`
	// Breaking reports whether a message valid under the old plan can get
	// an error or a warning under the new one.
	Breaking bool `json:"breaking"`
}

// Result is the list of changes from one plan to another, in order, as
// Diff returns it.
type Result struct {
	Changes []Change `json:"changes"`
}

// Summary counts the changes of a Result.
type Summary struct {
	// Changes is the number of changes; Breaking of those breaking.
	Changes     int `json:"changes"`
	Breaking    int `json:"breaking"`
	NonBreaking int `json:"non_breaking"`
	// EventsAdded, EventsRemoved and EventsRenamed count the events added,
	// removed and renamed; EventsChanged the other events with changes.
	EventsAdded   int `json:"events_added"`
	EventsRemoved int `json:"events_removed"`
	EventsRenamed int `json:"events_renamed"`
	EventsChanged int `json:"events_changed"`
	// ByKind counts the changes of each kind present.
	ByKind map[Kind]int `json:"by_kind"`
}

// Summary counts r's changes.
func (r *Result) Summary() Summary {
	s := Summary{ByKind: map[Kind]int{}}
	type key struct {
		name string
		t    trackplan.CallType
	}
	changed := map[key]bool{}
	for _, c := range r.Changes {
		s.Changes++
		if c.Breaking {
			s.Breaking++
		} else {
			s.NonBreaking++
		}
		s.ByKind[c.Kind]++
		switch c.Kind {
		case EventAdded:
			s.EventsAdded++
		case EventRemoved:
			s.EventsRemoved++
		case EventRenamed:
			s.EventsRenamed++
		}
		changed[key{c.Event, c.CallType}] = true
	}
	s.EventsChanged = len(changed) - s.EventsAdded - s.EventsRemoved - s.EventsRenamed
	return s
}

// HasBreaking reports whether any change is breaking.
func (r *Result) HasBreaking() bool {
	return slices.ContainsFunc(r.Changes, func(c Change) bool { return c.Breaking })
}

// sortChanges puts changes in the documented order: event, call type,
// property, kind, then the remaining fields so that the order is total.
func sortChanges(cs []Change) {
	slices.SortStableFunc(cs, func(a, b Change) int {
		return cmp.Or(
			strings.Compare(a.Event, b.Event),
			strings.Compare(string(a.CallType), string(b.CallType)),
			strings.Compare(a.Property, b.Property),
			strings.Compare(string(a.Kind), string(b.Kind)),
			strings.Compare(a.Field, b.Field),
			strings.Compare(a.Before, b.Before),
			strings.Compare(a.After, b.After),
		)
	})
}
