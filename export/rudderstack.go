package export

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/trackplan/trackplan"
)

// RudderStackVersion is the rudder-cli spec version the export writes.
const RudderStackVersion = "rudder/v1"

// RudderStackFile is one file of a rudder-cli project.
type RudderStackFile struct {
	Name string // file name, without a directory
	Data []byte
}

// RudderStack files, one spec each: rudder-cli reads only the first YAML
// document of a file.
const (
	RudderStackPropertiesFile   = "properties.yaml"
	RudderStackEventsFile       = "events.yaml"
	RudderStackTrackingPlanFile = "tracking-plan.yaml"
)

// RudderStack renders p as a rudder-cli data catalog project: three files
// of one spec each (properties, events, tracking-plan). name is the
// tracking plan's display name; it is made to fit rudder-cli's pattern
// (a letter first, 3 to 65 letters, digits, spaces, commas, periods,
// hyphens or underscores), and its snake_case form is the plan's id. The
// notes say what the catalog could not hold exactly.
//
// Catalog properties are unique by name, type and item type, as rudder-cli
// requires: a property planned with different constraints under the same
// name and type (an email with a pattern in one event and without in
// another) becomes one catalog property holding only the constraints all
// of them share, and a note says which were dropped. Nested paths become
// nested rule properties; datetimes are strings with format date-time; any
// is every JSON type. Rules set additional_properties: true, as trackplan
// allows unplanned properties and reports them (UNPLANNED_PROPERTY, a
// warning). Identify and group rules check the traits (identity_section:
// traits). Deprecated events stay in the events catalog but get no rule,
// so RudderStack reports them as unplanned; rudder-cli has no status.
func RudderStack(p *trackplan.Plan, name string) ([]RudderStackFile, []string, error) {
	display := RudderStackDisplayName(name)
	planID := snakeID(display)
	c := newRudderCatalog(p)
	docs := []struct {
		file string
		doc  rsDoc
	}{
		{RudderStackPropertiesFile, rsDoc{Version: RudderStackVersion, Kind: "properties", Metadata: rsMetadata{Name: planID + "_properties"},
			Spec: rsPropertiesSpec{Properties: c.properties}}},
		{RudderStackEventsFile, rsDoc{Version: RudderStackVersion, Kind: "events", Metadata: rsMetadata{Name: planID + "_events"},
			Spec: rsEventsSpec{Events: c.events}}},
		{RudderStackTrackingPlanFile, rsDoc{Version: RudderStackVersion, Kind: "tracking-plan", Metadata: rsMetadata{Name: planID},
			Spec: rsPlanSpec{ID: planID, DisplayName: display, Rules: c.rules}}},
	}
	var files []RudderStackFile
	for _, d := range docs {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(d.doc); err != nil {
			return nil, nil, fmt.Errorf("encode rudderstack %s: %w", d.file, err)
		}
		if err := enc.Close(); err != nil {
			return nil, nil, fmt.Errorf("encode rudderstack %s: %w", d.file, err)
		}
		files = append(files, RudderStackFile{Name: d.file, Data: buf.Bytes()})
	}
	return files, c.notes, nil
}

// WriteRudderStackDir writes the files of RudderStack(p, name) into dir,
// creating it if needed, and returns the notes.
func WriteRudderStackDir(dir string, p *trackplan.Plan, name string) ([]string, error) {
	files, notes, err := RudderStack(p, name)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write rudderstack export: %w", err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			return nil, fmt.Errorf("write rudderstack export: %w", err)
		}
	}
	return notes, nil
}

// RudderStackDisplayName makes name fit rudder-cli's display name pattern
// (^[A-Z_a-z][ \w,.-]{1,63}[\w,.-]$): other characters become spaces, a
// name not starting with a letter or underscore gets "Plan " before it,
// and it is cut to 65 characters. An empty name is "Tracking Plan".
func RudderStackDisplayName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" _,.-", r)):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	s := strings.Join(strings.Fields(b.String()), " ")
	if s == "" {
		return "Tracking Plan"
	}
	if c := s[0]; !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
		s = "Plan " + s
	}
	if len(s) > 65 {
		s = strings.TrimRight(s[:65], " ")
	}
	for len(s) < 3 {
		s += "_"
	}
	return s
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

func (c *rsConfig) empty() bool {
	return c == nil || (len(c.Enum) == 0 && c.Pattern == "" && c.Format == "" && c.Minimum == nil && c.Maximum == nil)
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
	IdentitySection      string            `yaml:"identity_section,omitempty"`
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
	notes      []string
}

// rsDef is one catalog property: a name, type and item type, with the
// constraints every use of it shares.
type rsDef struct {
	prop  *rsProperty
	where string // the first event and path it was planned under
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

	defs := map[string]*rsDef{} // by name, type and item type
	used := map[string]bool{}   // ids taken
	propID := func(e *trackplan.Event, path string, def *rsProperty) string {
		key := fmt.Sprintf("%s|%s|%v|%s", def.Name, def.Type, def.Types, def.ItemType)
		if d := defs[key]; d != nil {
			if dropped := d.merge(def); len(dropped) > 0 {
				verb := "differs"
				if len(dropped) > 1 {
					verb = "differ"
				}
				c.notes = append(c.notes, fmt.Sprintf("property %q (%s): %s %s between %s and event %q %s; the catalog keeps only what they share",
					def.Name, rsTypeLabel(def), strings.Join(dropped, " and "), verb, d.where, e.Name, path))
			}
			return d.prop.ID
		}
		id := snakeID(path)
		for base, n := id, 2; used[id]; n++ {
			id = base + "_" + strconv.Itoa(n)
		}
		used[id] = true
		def.ID = id
		defs[key] = &rsDef{prop: def, where: fmt.Sprintf("event %q %s", e.Name, path)}
		c.properties = append(c.properties, def)
		return id
	}

	for i, e := range evs {
		id := eventIDs[i]
		ev := rsEvent{ID: id, EventType: string(e.CallType()), Description: rudderDescription(e.Description, true)}
		if e.CallType() == trackplan.Track {
			ev.Name = e.Name
		}
		c.events = append(c.events, ev)
		if e.Status == trackplan.StatusDeprecated {
			continue // no rule: RudderStack reports the event as unplanned
		}

		rule := rsRule{Type: "event_rule", ID: id + "_rule", Event: "#event:" + id, AdditionalProperties: true}
		switch e.CallType() {
		case trackplan.Identify, trackplan.Group:
			rule.IdentitySection = "traits"
		}
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
			n := &rsRuleProperty{Property: "#property:" + propID(e, path, def)}
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

// merge keeps in d only the constraints other shares with it, and returns
// the names of those dropped. A description differing is not a conflict:
// the first one is kept.
func (d *rsDef) merge(other *rsProperty) []string {
	a, b := d.prop.Config, other.Config
	if a.empty() && b.empty() {
		return nil
	}
	if a == nil {
		a = &rsConfig{}
	}
	if b == nil {
		b = &rsConfig{}
	}
	var dropped []string
	if !reflect.DeepEqual(a.Enum, b.Enum) {
		a.Enum, dropped = nil, append(dropped, "enum")
	}
	if a.Pattern != b.Pattern {
		a.Pattern, dropped = "", append(dropped, "pattern")
	}
	if a.Format != b.Format {
		a.Format, dropped = "", append(dropped, "format")
	}
	if !sameBound(a.Minimum, b.Minimum) {
		a.Minimum, dropped = nil, append(dropped, "minimum")
	}
	if !sameBound(a.Maximum, b.Maximum) {
		a.Maximum, dropped = nil, append(dropped, "maximum")
	}
	d.prop.Config = a
	if a.empty() {
		d.prop.Config = nil
	}
	return dropped
}

func sameBound(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func rsTypeLabel(p *rsProperty) string {
	t := p.Type
	if len(p.Types) > 0 {
		t = strings.Join(p.Types, ",")
	}
	if p.ItemType != "" {
		t += " of " + p.ItemType
	}
	return t
}

// rudderDescription returns s if rudder-cli accepts it as a description (3
// to 2,000 characters; for events, starting with a letter), else "".
func rudderDescription(s string, letterFirst bool) string {
	n := utf8.RuneCountInString(s)
	if n < 3 || n > 2000 {
		return ""
	}
	if r, _ := utf8.DecodeRuneInString(s); letterFirst && !(r < utf8.RuneSelf && unicode.IsLetter(r)) {
		return ""
	}
	return s
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
	if elem != nil && elem.EffectiveType() != trackplan.PropAny {
		def.ItemType = jsonType(elem.EffectiveType())
	}
	if pr == nil {
		def.Type = "object"
		if array {
			def.Type = "array"
		}
		return def
	}
	def.Description = rudderDescription(pr.Description, false)
	t := pr.EffectiveType()
	switch {
	case t == trackplan.PropAny:
		def.Types = []string{"string", "number", "integer", "boolean", "object", "array", "null"}
	case pr.Nullable:
		def.Types = []string{jsonType(t), "null"}
	default:
		def.Type = jsonType(t)
	}
	if elem != nil && t == trackplan.PropArray {
		pr = elem // an array's constraints are its items'
		t = elem.EffectiveType()
	}
	cfg := &rsConfig{Enum: enumValues(pr), Pattern: pr.Pattern, Minimum: pr.Min, Maximum: pr.Max}
	if t == trackplan.PropDatetime {
		cfg.Format = "date-time"
	}
	if !cfg.empty() {
		def.Config = cfg
	}
	return def
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
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
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
