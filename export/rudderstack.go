package export

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/trackplan/trackplan"
)

// RudderStackVersion is the rudder-cli spec version the export writes.
const RudderStackVersion = "rudder/v1"

// WriteRudderStack writes p as a rudder-cli data catalog project: three
// YAML documents, separated by "---", of kinds properties, events and
// tracking-plan (rudder-cli reads any file layout, so they can be kept in
// one file or split). planID names the tracking plan ("tracking_plan" when
// empty).
//
// Catalog ids are snake_case forms of the names; a property path planned
// differently in different events gets one catalog property per
// definition, suffixed with the event's id. Nested paths become nested
// rule properties. Datetimes are strings with format date-time, any is every
// JSON type, and rules set additional_properties: false, as trackplan
// reports unplanned properties. Identify, group, page and screen events
// carry no name, as rudder-cli requires.
func WriteRudderStack(w io.Writer, p *trackplan.Plan, planID string) error {
	if planID == "" {
		planID = "tracking_plan"
	}
	c := newRudderCatalog(p)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	docs := []rsDoc{
		{Version: RudderStackVersion, Kind: "properties", Metadata: rsMetadata{Name: planID + "_properties"},
			Spec: rsPropertiesSpec{Properties: c.properties}},
		{Version: RudderStackVersion, Kind: "events", Metadata: rsMetadata{Name: planID + "_events"},
			Spec: rsEventsSpec{Events: c.events}},
		{Version: RudderStackVersion, Kind: "tracking-plan", Metadata: rsMetadata{Name: planID},
			Spec: rsPlanSpec{ID: planID, DisplayName: planID, Rules: c.rules}},
	}
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return fmt.Errorf("encode rudderstack export: %w", err)
		}
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("encode rudderstack export: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write rudderstack export: %w", err)
	}
	return nil
}

type rsDoc struct {
	Version  string     `yaml:"version"`
	Kind     string     `yaml:"kind"`
	Metadata rsMetadata `yaml:"metadata"`
	Spec     any        `yaml:"spec"`
}

type rsMetadata struct {
	Name string `yaml:"name"`
}

type rsPropertiesSpec struct {
	Properties []*rsProperty `yaml:"properties"`
}

type rsProperty struct {
	ID          string    `yaml:"id"`
	Name        string    `yaml:"name"`
	Type        string    `yaml:"type,omitempty"`
	Types       []string  `yaml:"types,flow,omitempty"`
	ItemType    string    `yaml:"item_type,omitempty"`
	Description string    `yaml:"description,omitempty"`
	Config      *rsConfig `yaml:"config,omitempty"`
}

type rsConfig struct {
	Enum    []any    `yaml:"enum,flow,omitempty"`
	Pattern string   `yaml:"pattern,omitempty"`
	Format  string   `yaml:"format,omitempty"`
	Minimum *float64 `yaml:"minimum,omitempty"`
	Maximum *float64 `yaml:"maximum,omitempty"`
}

type rsEventsSpec struct {
	Events []rsEvent `yaml:"events"`
}

type rsEvent struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name,omitempty"`
	EventType   string `yaml:"event_type"`
	Description string `yaml:"description,omitempty"`
}

type rsPlanSpec struct {
	ID          string   `yaml:"id"`
	DisplayName string   `yaml:"display_name"`
	Rules       []rsRule `yaml:"rules"`
}

type rsRule struct {
	Type                 string            `yaml:"type"`
	ID                   string            `yaml:"id"`
	Event                string            `yaml:"event"`
	AdditionalProperties bool              `yaml:"additional_properties"`
	Properties           []*rsRuleProperty `yaml:"properties,omitempty"`
}

type rsRuleProperty struct {
	Property   string            `yaml:"property"`
	Required   bool              `yaml:"required"`
	Properties []*rsRuleProperty `yaml:"properties,omitempty"`
}

// rudderCatalog is the plan turned into catalog entries and rules.
type rudderCatalog struct {
	properties []*rsProperty
	events     []rsEvent
	rules      []rsRule
}

// rsDef is one catalog property: a property path with one definition.
type rsDef struct {
	prop *rsProperty
	sig  string
}

func newRudderCatalog(p *trackplan.Plan) *rudderCatalog {
	c := &rudderCatalog{}
	evs := events(p)
	eventIDs := uniqueIDs(evs, func(e *trackplan.Event) string {
		switch e.CallType() {
		case trackplan.Identify, trackplan.Group:
			return string(e.CallType())
		}
		return e.Name
	})

	// Catalog properties: one per path and definition, in plan order.
	defs := map[string][]*rsDef{} // by path
	used := map[string]bool{}     // ids taken
	propID := func(eventID, path string, def *rsProperty) string {
		sig := signature(def)
		for _, d := range defs[path] {
			if d.sig == sig {
				return d.prop.ID
			}
		}
		id := snakeID(path)
		if len(defs[path]) > 0 || used[id] {
			id += "_" + eventID
		}
		for base, n := id, 2; used[id]; n++ {
			id = base + "_" + strconv.Itoa(n)
		}
		used[id] = true
		def.ID = id
		defs[path] = append(defs[path], &rsDef{prop: def, sig: sig})
		c.properties = append(c.properties, def)
		return id
	}

	for i, e := range evs {
		id := eventIDs[i]
		ev := rsEvent{ID: id, EventType: string(e.CallType()), Description: e.Description}
		if e.CallType() == trackplan.Track {
			ev.Name = e.Name
		}
		c.events = append(c.events, ev)

		rule := rsRule{Type: "event_rule", ID: id + "_rule", Event: "#event:" + id}
		nodes := map[string]*rsRuleProperty{} // by path
		declared := map[string]*trackplan.Property{}
		for _, pr := range e.Properties {
			if pr != nil {
				if _, dup := declared[pr.Name]; !dup {
					declared[pr.Name] = pr
				}
			}
		}
		var ensure func(path string) *rsRuleProperty
		ensure = func(path string) *rsRuleProperty {
			if n := nodes[path]; n != nil {
				return n
			}
			parentPath, nested := trackplan.ParentPath(path)
			for nested && strings.HasSuffix(parentPath, "[]") {
				parentPath, nested = trackplan.ParentPath(parentPath) // array items live under the array
			}
			var parent *rsRuleProperty // defined first, so catalogs list parents first
			if nested {
				parent = ensure(parentPath)
			}
			def := rudderProperty(path, declared[path], declared[path+"[]"], hasPrefix(declared, path+"[]"))
			n := &rsRuleProperty{Property: "#property:" + propID(id, path, def)}
			if pr := declared[path]; pr != nil {
				n.Required = pr.Required
			}
			nodes[path] = n
			if parent != nil {
				parent.Properties = append(parent.Properties, n)
			} else {
				rule.Properties = append(rule.Properties, n)
			}
			return n
		}
		for _, pr := range e.Properties {
			if pr == nil || strings.HasSuffix(pr.Name, "[]") {
				continue // element types are carried by their array
			}
			if _, err := trackplan.ParsePath(pr.Name); err == nil {
				ensure(pr.Name)
			}
		}
		c.rules = append(c.rules, rule)
	}
	return c
}

// hasPrefix reports whether a declared path starts with prefix.
func hasPrefix(declared map[string]*trackplan.Property, prefix string) bool {
	for path := range declared {
		if strings.HasPrefix(path, prefix) {
			return true
		}
	}
	return false
}

// rudderProperty is the catalog definition of path. pr is nil for an
// undeclared parent, which is an object, or an array when array is set.
// elem is the declaration of the array's items, if any.
func rudderProperty(path string, pr, elem *trackplan.Property, array bool) *rsProperty {
	name := path // the last key of the path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		name = path[i+1:]
	}
	def := &rsProperty{Name: strings.TrimRight(name, "[]")}
	if elem != nil {
		def.ItemType = jsonType(elem.EffectiveType())
	}
	if pr == nil {
		def.Type = "object"
		if array {
			def.Type = "array"
		}
		return def
	}
	def.Description = pr.Description
	t := pr.EffectiveType()
	switch {
	case t == trackplan.PropAny:
		def.Types = []string{"string", "number", "integer", "boolean", "object", "array", "null"}
	case pr.Nullable:
		def.Types = []string{jsonType(t), "null"}
	default:
		def.Type = jsonType(t)
	}
	cfg := &rsConfig{Enum: enumValues(pr), Pattern: pr.Pattern, Minimum: pr.Min, Maximum: pr.Max}
	if t == trackplan.PropDatetime {
		cfg.Format = "date-time"
	}
	if len(cfg.Enum) > 0 || cfg.Pattern != "" || cfg.Format != "" || cfg.Minimum != nil || cfg.Maximum != nil {
		def.Config = cfg
	}
	return def
}

// signature identifies a catalog definition, ignoring its description.
func signature(p *rsProperty) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%v|%s", p.Name, p.Type, p.Types, p.ItemType)
	if c := p.Config; c != nil {
		fmt.Fprintf(&b, "|%v|%s|%s", c.Enum, c.Pattern, c.Format)
		if c.Minimum != nil {
			fmt.Fprintf(&b, "|min%v", *c.Minimum)
		}
		if c.Maximum != nil {
			fmt.Fprintf(&b, "|max%v", *c.Maximum)
		}
	}
	return b.String()
}

// uniqueIDs gives each item a distinct snake_case id derived from its name.
func uniqueIDs[T any](items []T, name func(T) string) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		id := snakeID(name(it))
		for base, n := id, 2; slices.Contains(ids[:i], id); n++ {
			id = base + "_" + strconv.Itoa(n)
		}
		ids[i] = id
	}
	return ids
}

// snakeID turns a name or path into a snake_case identifier: "Report
// Exported" is report_exported, "products[].sku" is products_sku.
func snakeID(s string) string {
	var b strings.Builder
	sep := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			sep = false
			b.WriteRune(unicode.ToLower(r))
		} else {
			sep = true
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}
