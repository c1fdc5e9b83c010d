package trackplan

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

// Plan is a tracking plan: the events a team means to send, with their
// properties (for track/page/screen) or traits (for identify/group).
type Plan struct {
	Version int      `json:"version" yaml:"version"`
	Events  []*Event `json:"events" yaml:"events"`
}

// Event is one planned call. Identify and group entries hold the user and
// account traits as their Properties.
type Event struct {
	Name        string      `json:"name" yaml:"name"`
	Type        CallType    `json:"type" yaml:"type"`
	Description string      `json:"description,omitempty" yaml:"description,omitempty"`
	Why         string      `json:"why,omitempty" yaml:"why,omitempty"`
	Status      Status      `json:"status,omitempty" yaml:"status,omitempty"`
	Owner       string      `json:"owner,omitempty" yaml:"owner,omitempty"`
	Tags        []string    `json:"tags,omitempty" yaml:"tags,omitempty"`
	Platforms   []string    `json:"platforms,omitempty" yaml:"platforms,omitempty"`
	Weight      int         `json:"weight,omitempty" yaml:"weight,omitempty"` // 0–10; 0 = not scored
	Properties  []*Property `json:"properties,omitempty" yaml:"properties,omitempty"`
}

// Property is one planned property or trait. Name is a dot path for nested
// values, with "[]" for array elements (products[].sku).
type Property struct {
	Name        string       `json:"name" yaml:"name"`
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

// Lookup returns the planned event observed under name for call type t
// (identify and group entries are found by type alone), or nil.
func (p *Plan) Lookup(t CallType, name string) *Event {
	if p == nil {
		return nil
	}
	for _, e := range p.Events {
		switch t {
		case Identify, Group:
			if e.Type == t {
				return e
			}
		default:
			if e.Name == name && (e.Type == t || e.Type == "" || (t == Page && name == PageViewed) || (t == Screen && name == ScreenViewed)) {
				return e
			}
		}
	}
	return nil
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
