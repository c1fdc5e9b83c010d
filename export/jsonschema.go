// Package export renders a tracking plan in the formats other pipelines
// read, so that one plan can drive them all: JSON Schema (draft-07, in the
// shape of Segment Protocols rules), Segment Protocols rules as the Public
// API holds them, RudderStack's rudder-cli data catalog YAML, and
// Amplitude Data's CSV import files.
//
// Exports are deterministic: the same plan gives the same bytes.
package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/trackplan/trackplan"
)

// SchemaDraft is the $schema of every exported JSON Schema.
const SchemaDraft = "http://json-schema.org/draft-07/schema#"

// Schema is a JSON Schema (draft-07) document or subschema, reduced to the
// keywords a tracking plan uses.
type Schema struct {
	Schema      string `json:"$schema,omitempty"`
	Description string `json:"description,omitempty"`
	// Deprecated marks a deprecated event's schema (an annotation from
	// draft 2019-09, which draft-07 validators ignore).
	Deprecated bool               `json:"deprecated,omitempty"`
	Type       Types              `json:"type,omitempty"`
	Format     string             `json:"format,omitempty"`
	Properties map[string]*Schema `json:"properties,omitempty"`
	Required   []string           `json:"required,omitempty"`
	Items      *Schema            `json:"items,omitempty"`
	Enum       []any              `json:"enum,omitempty"`
	Pattern    string             `json:"pattern,omitempty"`
	Minimum    *float64           `json:"minimum,omitempty"`
	Maximum    *float64           `json:"maximum,omitempty"`
}

// Types is the value of a schema's "type": one type name, or several (a
// nullable property is ["string", "null"]).
type Types []string

// MarshalJSON writes a single type as a string and several as an array.
func (t Types) MarshalJSON() ([]byte, error) {
	if len(t) == 1 {
		return json.Marshal(t[0])
	}
	return json.Marshal([]string(t))
}

// EventSchema is the JSON Schema of one planned event.
type EventSchema struct {
	Name   string             `json:"name"`
	Type   trackplan.CallType `json:"type"`
	Schema *Schema            `json:"schema"`
}

// JSONSchema returns one draft-07 JSON Schema per event of p, in plan order.
// Each describes a whole message the way Segment Protocols rules do: the
// event's properties sit under properties.properties (track, page and
// screen), the identify and group traits under properties.traits. Nested
// paths become nested object schemas and "[]" array items.
//
// Unplanned properties are allowed (no additionalProperties: false), as
// drift allows them and reports them (UNPLANNED_PROPERTY, a warning); the
// RudderStack export says the same. Deprecated events are exported, marked
// "deprecated": true; proposed and planned ones are exported like the
// others (they are what code generators build from).
func JSONSchema(p *trackplan.Plan) []EventSchema {
	var out []EventSchema
	for _, e := range events(p) {
		out = append(out, EventSchema{Name: e.Name, Type: e.CallType(), Schema: eventSchema(e)})
	}
	return out
}

// WriteJSONSchema writes JSONSchema(p) as an indented JSON array of
// {name, type, schema} objects.
func WriteJSONSchema(w io.Writer, p *trackplan.Plan) error {
	schemas := JSONSchema(p)
	if schemas == nil {
		schemas = []EventSchema{}
	}
	return writeJSON(w, schemas)
}

// events lists the non-nil events of p.
func events(p *trackplan.Plan) []*trackplan.Event {
	if p == nil {
		return nil
	}
	var out []*trackplan.Event
	for _, e := range p.Events {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// payloadKey is the message field holding the event's payload.
func payloadKey(e *trackplan.Event) string {
	switch e.CallType() {
	case trackplan.Identify, trackplan.Group:
		return "traits"
	}
	return "properties"
}

func eventSchema(e *trackplan.Event) *Schema {
	inner := payloadSchema(e)
	outer := &Schema{
		Schema:      SchemaDraft,
		Description: e.Description,
		Deprecated:  e.Status == trackplan.StatusDeprecated,
		Type:        Types{"object"},
		Properties:  map[string]*Schema{payloadKey(e): inner},
	}
	if len(inner.Required) > 0 {
		outer.Required = []string{payloadKey(e)}
	}
	return outer
}

// payloadSchema builds the object schema of the event's properties or
// traits from their flat paths.
func payloadSchema(e *trackplan.Event) *Schema {
	root := &Schema{Type: Types{"object"}, Properties: map[string]*Schema{}}
	declared := map[*Schema]bool{}
	for _, pr := range e.Properties {
		if pr == nil {
			continue
		}
		steps, err := trackplan.ParsePath(pr.Name)
		if err != nil {
			continue
		}
		parent, s := (*Schema)(nil), root
		for i, st := range steps {
			parent = s
			s = childSchema(parent, st)
			if i < len(steps)-1 && !declared[s] && s.Type == nil {
				s.Type = Types{"object"}
				if steps[i+1].Elem {
					s.Type = Types{"array"}
				}
			}
		}
		if declared[s] {
			continue // a duplicate path: the first declaration wins
		}
		declared[s] = true
		fillSchema(s, pr)
		if last := steps[len(steps)-1]; pr.Required && !last.Elem {
			parent.Required = append(parent.Required, last.Key)
		}
	}
	return root
}

func childSchema(parent *Schema, st trackplan.PathStep) *Schema {
	if st.Elem {
		if parent.Items == nil {
			parent.Items = &Schema{}
		}
		return parent.Items
	}
	if parent.Properties == nil {
		parent.Properties = map[string]*Schema{}
	}
	s := parent.Properties[st.Key]
	if s == nil {
		s = &Schema{}
		parent.Properties[st.Key] = s
	}
	return s
}

// fillSchema sets the keywords of one declared property.
func fillSchema(s *Schema, pr *trackplan.Property) {
	s.Description = pr.Description
	t := pr.EffectiveType()
	s.Type = nil
	if name := jsonType(t); name != "" {
		s.Type = Types{name}
		if pr.Nullable {
			s.Type = append(s.Type, "null")
		}
	}
	if t == trackplan.PropDatetime {
		s.Format = "date-time"
	}
	s.Enum = enumValues(pr)
	s.Pattern = pr.Pattern
	s.Minimum, s.Maximum = pr.Min, pr.Max
}

// jsonType is the JSON Schema type of a property type, "" for any.
func jsonType(t trackplan.PropertyType) string {
	switch t {
	case trackplan.PropDatetime:
		return "string"
	case trackplan.PropAny:
		return ""
	}
	return string(t)
}

// enumValues returns the enum as typed values: numbers for numeric
// properties, strings otherwise, and null when the property is nullable.
func enumValues(pr *trackplan.Property) []any {
	if len(pr.Enum) == 0 {
		return nil
	}
	out := make([]any, 0, len(pr.Enum)+1)
	for _, v := range pr.Enum {
		out = append(out, enumValue(pr.EffectiveType(), v))
	}
	if pr.Nullable {
		out = append(out, nil)
	}
	return out
}

func enumValue(t trackplan.PropertyType, v string) any {
	if t.Numeric() {
		if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	}
	return v
}

func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode export: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	return nil
}
