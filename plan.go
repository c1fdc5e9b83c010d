package trackplan

import (
	"errors"
	"fmt"
	"strings"
)

// PlanVersion is the version of the plan format this package reads and
// writes (the `version` key of a plan file).
const PlanVersion = 1

// Status is the lifecycle state of a planned event.
type Status string

// Event statuses, in lifecycle order.
const (
	StatusProposed    Status = "proposed"
	StatusPlanned     Status = "planned"
	StatusImplemented Status = "implemented"
	StatusLive        Status = "live"
	StatusDeprecated  Status = "deprecated"
)

// Valid reports whether s is one of the named statuses. The empty status is
// not valid here; a plan may leave it unset (see Plan.Validate).
func (s Status) Valid() bool {
	switch s {
	case StatusProposed, StatusPlanned, StatusImplemented, StatusLive, StatusDeprecated:
		return true
	}
	return false
}

// PropertyType is the planned type of a property or trait.
type PropertyType string

// Property types a plan may use. An integer value satisfies TypeNumber; 1.0
// satisfies TypeInteger; a datetime is an ISO-8601 string.
const (
	PropString   PropertyType = "string"
	PropNumber   PropertyType = "number"
	PropInteger  PropertyType = "integer"
	PropBoolean  PropertyType = "boolean"
	PropObject   PropertyType = "object"
	PropArray    PropertyType = "array"
	PropDatetime PropertyType = "datetime"
	PropAny      PropertyType = "any"
)

// Valid reports whether t is one of the named property types. The empty type
// is not valid here; a plan may leave it unset, which means PropAny.
func (t PropertyType) Valid() bool {
	switch t {
	case PropString, PropNumber, PropInteger, PropBoolean, PropObject, PropArray, PropDatetime, PropAny:
		return true
	}
	return false
}

// Numeric reports whether t is number or integer, the types min and max
// apply to.
func (t PropertyType) Numeric() bool { return t == PropNumber || t == PropInteger }

// Plan is a tracking plan: the events a team means to send, with their
// properties (for track/page/screen) or traits (for identify/group).
type Plan struct {
	Version int      `json:"version" yaml:"version"`
	Events  []*Event `json:"events" yaml:"events"`
}

// Event is one planned call. Identify and group entries hold the user and
// account traits as their Properties.
type Event struct {
	Name string `json:"name" yaml:"name"`
	// Type is the call type; empty means track.
	Type        CallType `json:"type" yaml:"type"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Why         string   `json:"why,omitempty" yaml:"why,omitempty"`
	Status      Status   `json:"status,omitempty" yaml:"status,omitempty"`
	Owner       string   `json:"owner,omitempty" yaml:"owner,omitempty"`
	Tags        []string `json:"tags,omitempty" yaml:"tags,omitempty"`
	Platforms   []string `json:"platforms,omitempty" yaml:"platforms,omitempty"`
	Weight      int      `json:"weight,omitempty" yaml:"weight,omitempty"` // 0–10; 0 = not scored
	// Properties are the event's properties, or the identify/group traits.
	Properties []*Property `json:"properties,omitempty" yaml:"properties,omitempty"`
}

// Property is one planned property or trait. Name is a dot path for nested
// values, with "[]" for array elements (products[].sku).
type Property struct {
	Name string `json:"name" yaml:"name"`
	// Type is the planned type; empty means any.
	Type        PropertyType `json:"type,omitempty" yaml:"type,omitempty"`
	Required    bool         `json:"required,omitempty" yaml:"required,omitempty"`
	Nullable    bool         `json:"nullable,omitempty" yaml:"nullable,omitempty"`
	Enum        []string     `json:"enum,omitempty" yaml:"enum,omitempty"`
	Pattern     string       `json:"pattern,omitempty" yaml:"pattern,omitempty"`
	Min         *float64     `json:"min,omitempty" yaml:"min,omitempty"`
	Max         *float64     `json:"max,omitempty" yaml:"max,omitempty"`
	PII         bool         `json:"pii,omitempty" yaml:"pii,omitempty"`
	Description string       `json:"description,omitempty" yaml:"description,omitempty"`
}

// CallType is the event's call type, track when Type is empty.
func (e *Event) CallType() CallType {
	if e.Type == "" {
		return Track
	}
	return e.Type
}

// Scored reports whether the event counts towards engagement scores.
func (e *Event) Scored() bool { return e.Weight > 0 }

// EffectiveType is the property's planned type, any when Type is empty.
func (p *Property) EffectiveType() PropertyType {
	if p.Type == "" {
		return PropAny
	}
	return p.Type
}

// Lookup returns the planned event observed under name for call type t, or
// nil. Identify and group entries are found by type alone; a track call
// matches a track entry of that name; a page or screen call (observed as
// "Page Viewed"/"Screen Viewed") matches an entry of that name and type, or
// a track entry of that name, as Segment Protocols plans sometimes hold them.
// The first matching entry wins.
func (p *Plan) Lookup(t CallType, name string) *Event {
	if p == nil {
		return nil
	}
	var fallback *Event
	for _, e := range p.Events {
		et := e.CallType()
		switch t {
		case Identify, Group:
			if et == t {
				return e
			}
		case Track:
			if et == Track && e.Name == name {
				return e
			}
		default:
			if e.Name != name {
				continue
			}
			if et == t {
				return e
			}
			if et == Track && fallback == nil {
				fallback = e
			}
		}
	}
	return fallback
}

// Property returns the event's property with the given path, or nil.
func (e *Event) Property(path string) *Property {
	for _, p := range e.Properties {
		if p.Name == path {
			return p
		}
	}
	return nil
}

// PathStep is one step of a property path: a key of an object, or, when
// Elem is set, the elements of an array.
type PathStep struct {
	Key  string
	Elem bool
}

// ParsePath splits a property path into its steps: "products[].sku" is the
// key products, its array elements, then the key sku. Keys are separated by
// dots; each key may be followed by one or more "[]". A key holds no
// backslash, the escape of observed paths (EscapeKey): a planned key is
// then spelled the same in the plan and in what is observed.
func ParsePath(path string) ([]PathStep, error) {
	if path == "" {
		return nil, errors.New("empty path")
	}
	var steps []PathStep
	for part := range strings.SplitSeq(path, ".") {
		key := part
		elems := 0
		for strings.HasSuffix(key, "[]") {
			key = key[:len(key)-2]
			elems++
		}
		switch {
		case key == "" && part == "":
			return nil, fmt.Errorf("empty key in %q", path)
		case key == "":
			return nil, fmt.Errorf("%q has [] without a key", path)
		case strings.ContainsAny(key, "[]"):
			return nil, fmt.Errorf("%q: only a trailing [] may follow a key", path)
		case strings.Contains(key, `\`):
			return nil, fmt.Errorf("%q: a key cannot hold a backslash", path)
		}
		steps = append(steps, PathStep{Key: key})
		for range elems {
			steps = append(steps, PathStep{Elem: true})
		}
	}
	return steps, nil
}

// ParentPath returns the path of the object or array holding path, and false
// for a top-level path: the parent of "products[].sku" is "products[]", whose
// parent is "products".
func ParentPath(path string) (string, bool) {
	if p, ok := strings.CutSuffix(path, "[]"); ok {
		return p, true
	}
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", false
	}
	return path[:i], true
}
