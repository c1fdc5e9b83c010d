package planimport

import (
	"bytes"
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/trackplan/trackplan"
)

// rudder-cli references: #property:<id> (rudder/v1) or
// #/properties/<group>/<id> (rudder/v0.1); the same for events, custom
// types and categories.
var rudderRef = regexp.MustCompile(`^#(?:(property|event|custom-type|category):|/(properties|events|custom-types|categories)/[A-Za-z0-9_-]+/)([A-Za-z0-9_-]+)$`)

type rudderDef struct {
	file string
	n    *node
}

type rudderProject struct {
	im          *importer
	properties  map[string]rudderDef
	events      map[string]rudderDef
	customTypes map[string]rudderDef
	categories  map[string]string
	eventOrder  []string
	plans       []rudderDef
	ruled       map[string]bool // event ids some rule covers
}

// rudderstack reads a rudder-cli data catalog project: YAML files of kinds
// properties, events, custom-types, categories and tracking-plan
// (rudder/v1) or tp (rudder/v0.1), in any layout. Like rudder-cli, it
// reads the first document of each file. Rules of every tracking plan are
// imported; events of the catalog that no rule covers are imported as
// deprecated, without properties (trackplan's RudderStack export leaves
// deprecated events out of the rules).
func (im *importer) rudderstack(files []File) {
	pr := &rudderProject{im: im, properties: map[string]rudderDef{}, events: map[string]rudderDef{},
		customTypes: map[string]rudderDef{}, categories: map[string]string{}, ruled: map[string]bool{}}
	for _, f := range files {
		pr.load(f)
	}
	for _, tp := range pr.plans {
		pr.plan(tp)
	}
	for _, id := range pr.eventOrder {
		if pr.ruled[id] {
			continue
		}
		def := pr.events[id]
		e := pr.event(def)
		if e == nil {
			continue
		}
		im.lose(def.file, def.n.line, def.n.path, "event %q has no rule in any tracking plan: imported as deprecated, without properties", e.Name)
		im.add(e, trackplan.StatusDeprecated, Note{File: def.file, Line: def.n.line, Path: def.n.path})
	}
}

func (pr *rudderProject) load(f File) {
	im := pr.im
	root, err := parseYAML(f.Data)
	if err != nil {
		im.bad(f.Name, yamlLine(err), "", "%v", err)
		return
	}
	if bytes.Contains(f.Data, []byte("\n---")) && hasSecondDocument(f.Data) {
		im.lose(f.Name, 0, "", "documents after the first are not read (rudder-cli reads one spec per file); left out")
	}
	if root.kind != kObject {
		im.bad(f.Name, root.line, "", "want a rudder-cli spec (version, kind, metadata, spec), not %s", root.kind)
		return
	}
	version, _ := root.get("version").str()
	switch version {
	case "rudder/v1", "rudder/v0.1", "rudder/0.1":
	default:
		im.bad(f.Name, root.line, "version", "unknown spec version %q (want rudder/v1 or rudder/v0.1)", version)
		return
	}
	kind, _ := root.get("kind").str()
	spec := root.get("spec")
	if spec == nil || spec.kind != kObject {
		im.bad(f.Name, root.line, "spec", "no spec")
		return
	}
	list := func(key string) []*node {
		l := spec.get(key)
		if l == nil || l.kind != kArray {
			im.bad(f.Name, spec.line, "spec."+key, "want a list of %s", key)
			return nil
		}
		return l.arr
	}
	register := func(m map[string]rudderDef, n *node, what string) string {
		id, ok := n.get("id").str()
		if !ok || id == "" {
			im.bad(f.Name, n.line, n.path, "%s without an id", what)
			return ""
		}
		if first, dup := m[id]; dup {
			im.bad(f.Name, n.line, n.path+".id", "duplicate %s id %q (also at %s:%d)", what, id, first.file, first.n.line)
			return ""
		}
		m[id] = rudderDef{file: f.Name, n: n}
		return id
	}
	switch kind {
	case "properties":
		for _, n := range list("properties") {
			register(pr.properties, n, "property")
		}
	case "events":
		for _, n := range list("events") {
			if id := register(pr.events, n, "event"); id != "" {
				pr.eventOrder = append(pr.eventOrder, id)
			}
		}
	case "custom-types":
		for _, n := range list("types") {
			register(pr.customTypes, n, "custom type")
		}
	case "categories":
		for _, n := range list("categories") {
			id, _ := n.get("id").str()
			name, _ := n.get("name").str()
			pr.categories[id] = name
		}
	case "tracking-plan", "tp":
		pr.plans = append(pr.plans, rudderDef{file: f.Name, n: spec})
	default:
		im.lose(f.Name, root.line, "kind", "kind %q is not part of a tracking plan; left out", kind)
	}
}

// ref resolves a reference of the given kind ("property", "event",
// "custom-type") to its id.
func (pr *rudderProject) ref(file string, n *node, want string) (string, bool) {
	s, ok := n.str()
	if !ok {
		if r := n.get("$ref"); r != nil { // rudder/v0.1: {$ref: ...}
			s, ok = r.str()
		}
	}
	m := rudderRef.FindStringSubmatch(s)
	if !ok || m == nil {
		pr.im.bad(file, n.line, n.path, "%q is not a reference (#%s:<id>)", s, want)
		return "", false
	}
	kind := m[1]
	if kind == "" {
		kind = map[string]string{"properties": "property", "events": "event", "custom-types": "custom-type", "categories": "category"}[m[2]]
	}
	if kind != want {
		pr.im.bad(file, n.line, n.path, "%q refers to a %s, want a %s", s, kind, want)
		return "", false
	}
	return m[3], true
}

// event reads an event definition into an event without properties.
func (pr *rudderProject) event(def rudderDef) *trackplan.Event {
	n := def.n
	typ, _ := n.get("event_type").str()
	e := &trackplan.Event{Type: trackplan.CallType(typ)}
	switch e.Type {
	case trackplan.Track:
		e.Name, _ = n.get("name").str()
		if e.Name == "" {
			pr.im.bad(def.file, n.line, n.path, "track event without a name")
			return nil
		}
	case trackplan.Identify, trackplan.Group:
		e.Name = typ
	case trackplan.Page:
		e.Name = trackplan.PageViewed
	case trackplan.Screen:
		e.Name = trackplan.ScreenViewed
	default:
		pr.im.bad(def.file, n.line, n.path+".event_type", "unknown event_type %q (want track, identify, group, page or screen)", typ)
		return nil
	}
	e.Description, _ = n.get("description").str()
	if c := n.get("category"); c != nil {
		if id, ok := pr.ref(def.file, c, "category"); ok {
			e.Tags = append(e.Tags, cmp.Or(pr.categories[id], id))
		}
	}
	return e
}

// plan reads the rules of one tracking plan.
func (pr *rudderProject) plan(tp rudderDef) {
	im := pr.im
	rules := tp.n.get("rules")
	if rules == nil {
		return
	}
	if rules.kind != kArray {
		im.bad(tp.file, rules.line, rules.path, "rules must be a list")
		return
	}
	for _, rule := range rules.arr {
		evn := rule.get("event")
		if evn == nil {
			im.bad(tp.file, rule.line, rule.path, "rule without an event")
			continue
		}
		if evn.kind == kObject && evn.get("$ref") == nil {
			im.bad(tp.file, evn.line, evn.path, "event must be a reference")
			continue
		}
		if evn.kind == kObject { // rudder/v0.1: {$ref, allow_unplanned}
			if au := evn.get("allow_unplanned"); au != nil && au.kind == kBool && !au.b {
				im.lose(tp.file, au.line, au.path, "allow_unplanned: false is not in the plan model: trackplan allows unplanned properties and reports them (UNPLANNED_PROPERTY, a warning)")
			}
		}
		id, ok := pr.ref(tp.file, evn, "event")
		if !ok {
			continue
		}
		def, ok := pr.events[id]
		if !ok {
			im.bad(tp.file, evn.line, evn.path, "event %q is not defined in any events spec", id)
			continue
		}
		if pr.ruled[id] {
			im.lose(tp.file, rule.line, rule.path, "event %q has a rule in an earlier tracking plan too; this one is left out", id)
			continue
		}
		pr.ruled[id] = true
		e := pr.event(def)
		if e == nil {
			continue
		}
		if ap := rule.get("additional_properties"); ap != nil && ap.kind == kBool && !ap.b {
			im.lose(tp.file, ap.line, ap.path, "additional_properties: false is not in the plan model: trackplan allows unplanned properties and reports them (UNPLANNED_PROPERTY, a warning)")
		}
		if e.Type == trackplan.Identify || e.Type == trackplan.Group {
			section, _ := rule.get("identity_section").str()
			if section != "traits" {
				at := rule
				if s := rule.get("identity_section"); s != nil {
					at = s
				}
				im.lose(tp.file, at.line, at.path, "identity_section %s: trackplan plans the %s traits; the rule's properties are imported as traits", cmp.Or(section, "properties (the default)"), e.Type)
			}
		}
		for _, k := range []string{"variants", "includes"} {
			if v := rule.get(k); v != nil {
				im.lose(tp.file, v.line, v.path, "%s are not in the plan model; left out", k)
			}
		}
		if props := rule.get("properties"); props != nil {
			pr.ruleProperties(tp.file, props, "", nil, &e.Properties)
		}
		im.add(e, "", Note{File: tp.file, Line: rule.line, Path: rule.path})
	}
}

// ruleProperties reads a rule's (or a nested property's) list of
// properties under the parent path prefix.
func (pr *rudderProject) ruleProperties(file string, list *node, prefix string, parent *trackplan.Property, out *[]*trackplan.Property) {
	if list.kind != kArray {
		pr.im.bad(file, list.line, list.path, "properties must be a list")
		return
	}
	if parent != nil && parent.Type == trackplan.PropArray {
		prefix += "[]"
	}
	for _, item := range list.arr {
		refNode := item.get("property")
		if refNode == nil {
			refNode = item.get("$ref")
		}
		if refNode == nil {
			pr.im.bad(file, item.line, item.path, "rule property without a property reference")
			continue
		}
		id, ok := pr.ref(file, refNode, "property")
		if !ok {
			continue
		}
		def, ok := pr.properties[id]
		if !ok {
			pr.im.bad(file, refNode.line, refNode.path, "property %q is not defined in any properties spec", id)
			continue
		}
		req := item.get("required")
		p := pr.property(def, prefix, req != nil && req.kind == kBool && req.b, out)
		if p == nil {
			continue
		}
		if ap := item.get("additional_properties"); ap != nil && ap.kind == kBool && !ap.b {
			pr.im.lose(file, ap.line, ap.path, "additional_properties: false is not in the plan model: trackplan allows unplanned properties and reports them (UNPLANNED_PROPERTY, a warning)")
		}
		if nested := item.get("properties"); nested != nil {
			pr.ruleProperties(file, nested, p.Name, p, out)
		}
	}
}

var rudderTypes = []string{"string", "number", "integer", "boolean", "object", "array", "null"}

// property reads a catalog property (or custom type) definition as the
// property at prefix.name, appends it (and its array items, and a custom
// object type's properties) and returns it.
func (pr *rudderProject) property(def rudderDef, prefix string, required bool, out *[]*trackplan.Property) *trackplan.Property {
	im, file, n := pr.im, def.file, def.n
	name, _ := n.get("name").str()
	if name == "" || strings.Contains(name, ".") || strings.Contains(name, "[]") {
		im.bad(file, n.line, n.path+".name", "property name %q cannot be a plan path (empty, or with dots or [])", name)
		return nil
	}
	path := name
	if prefix != "" {
		path = prefix + "." + name
	}
	p := &trackplan.Property{Name: path, Required: required}
	p.Description, _ = n.get("description").str()
	*out = append(*out, p)
	pr.typed(def, p, out, 0)
	return p
}

// typed sets p's type and constraints from a property or custom type
// definition.
func (pr *rudderProject) typed(def rudderDef, p *trackplan.Property, out *[]*trackplan.Property, depth int) {
	im, file, n := pr.im, def.file, def.n
	var types []string
	if t := n.get("types"); t != nil {
		for _, tn := range t.arr {
			s, _ := tn.str()
			types = append(types, s)
		}
	} else if t, ok := n.get("type").str(); ok {
		if strings.HasPrefix(t, "#") {
			id, ok := pr.ref(file, n.get("type"), "custom-type")
			if !ok {
				return
			}
			ct, ok := pr.customTypes[id]
			if !ok || depth > 10 {
				im.bad(file, n.get("type").line, n.get("type").path, "custom type %q is not defined in any custom-types spec", id)
				return
			}
			pr.typed(ct, p, out, depth+1)
			if props := ct.n.get("properties"); props != nil {
				pr.ruleProperties(ct.file, props, p.Name, p, out)
			}
			if v := ct.n.get("variants"); v != nil {
				im.lose(ct.file, v.line, v.path, "variants are not in the plan model; left out")
			}
			return
		}
		for s := range strings.SplitSeq(t, ",") { // rudder/v0.1 lists types comma-separated
			types = append(types, strings.TrimSpace(s))
		}
	}
	var concrete []string
	for _, t := range types {
		switch {
		case t == "null":
			p.Nullable = true
		case slices.Contains(rudderTypes, t):
			concrete = append(concrete, t)
		default:
			at := n.get("type")
			if at == nil {
				at = n.get("types")
			}
			im.bad(file, at.line, at.path, "unknown type %q (want string, number, integer, boolean, object, array, null or #custom-type:<id>)", t)
			return
		}
	}
	switch {
	case len(concrete) == 1:
		p.Type = trackplan.PropertyType(concrete[0])
	case len(concrete) == 6:
		p.Type, p.Nullable = trackplan.PropAny, false // every type: any
	case len(concrete) > 1:
		im.lose(file, n.line, n.path, "several types %v: the plan has one type per property; imported as any", concrete)
		p.Type = trackplan.PropAny
	default:
		p.Type = trackplan.PropAny
		if p.Nullable {
			im.lose(file, n.line, n.path, "only null is allowed: imported as any, nullable")
		}
	}

	cfg := n.get("config")
	if cfg == nil {
		cfg = n.get("propConfig") // rudder/v0.1
	}
	var elem *trackplan.Property
	itemType, _ := n.get("item_type").str()
	if its := n.get("item_types"); its != nil {
		if len(its.arr) == 1 {
			itemType, _ = its.arr[0].str()
		} else {
			im.lose(file, its.line, its.path, "several item types: the plan has one type per array element; elements are any")
		}
	}
	if cfg != nil {
		if its := cfg.get("itemTypes"); its != nil && len(its.arr) == 1 { // rudder/v0.1
			itemType, _ = its.arr[0].str()
		}
	}
	if p.Type == trackplan.PropArray && itemType != "" && itemType != "object" {
		elem = &trackplan.Property{Name: p.Name + "[]"}
		if strings.HasPrefix(itemType, "#") {
			im.lose(file, n.line, n.path, "custom item type %s: elements are imported as any", itemType)
			elem.Type = trackplan.PropAny
		} else if slices.Contains(rudderTypes, itemType) && itemType != "null" {
			elem.Type = trackplan.PropertyType(itemType)
		} else {
			im.bad(file, n.line, n.path, "unknown item type %q", itemType)
			return
		}
	}
	target := p
	if elem != nil {
		*out = append(*out, elem)
		target = elem // an array's constraints apply to its items
	}
	if cfg != nil {
		pr.config(file, cfg, target)
	}
}

// config reads a property's config: enum, pattern, format date-time,
// minimum, maximum. The rest is reported.
func (pr *rudderProject) config(file string, cfg *node, p *trackplan.Property) {
	im := pr.im
	for _, k := range cfg.keys {
		v := cfg.obj[k]
		switch k {
		case "enum":
			for _, e := range v.arr {
				if e.kind == kNull {
					p.Nullable = true
					continue
				}
				if s, ok := e.scalar(); ok {
					p.Enum = append(p.Enum, s)
				}
			}
		case "pattern":
			p.Pattern, _ = v.str()
		case "format":
			f, _ := v.str()
			if f == "date-time" && (p.Type == trackplan.PropString || p.Type == trackplan.PropAny) {
				p.Type = trackplan.PropDatetime
			} else {
				im.lose(file, v.line, v.path, "format %q is not in the plan model (only date-time is: a datetime)", f)
			}
		case "minimum", "maximum":
			f, ok := v.number()
			if !ok {
				im.bad(file, v.line, v.path, "%s must be a number", k)
				continue
			}
			if !p.Type.Numeric() {
				im.lose(file, v.line, v.path, "%s on a %s property is not in the plan model; left out", k, p.Type)
				continue
			}
			if k == "minimum" {
				p.Min = &f
			} else {
				p.Max = &f
			}
		case "itemTypes":
		default:
			im.lose(file, v.line, v.path, "config %s is not in the plan model; left out", k)
		}
	}
}

// yamlLine finds the line a YAML error names, or 0.
func yamlLine(err error) int {
	var line int
	if i := strings.Index(err.Error(), "line "); i >= 0 {
		fmt.Sscanf(err.Error()[i:], "line %d", &line)
	}
	return line
}

// hasSecondDocument reports whether data holds a YAML document after the
// first one.
func hasSecondDocument(data []byte) bool {
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if i > 0 && strings.TrimRight(l, " \r") == "---" {
			for _, rest := range lines[i+1:] {
				if t := strings.TrimSpace(rest); t != "" && !strings.HasPrefix(t, "#") {
					return true
				}
			}
		}
	}
	return false
}
