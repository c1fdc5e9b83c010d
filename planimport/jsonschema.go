package planimport

import (
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/trackplan/trackplan"
)

// schemaReader turns JSON Schemas of one file into plan properties.
type schemaReader struct {
	im   *importer
	file string
	root *node // the document, for local $ref
}

// Keywords read into the plan, and annotations with nothing to keep.
var (
	schemaKeywords = []string{"type", "format", "properties", "required", "items", "enum", "pattern",
		"minimum", "maximum", "description", "$ref", "additionalProperties"}
	schemaAnnotations = []string{"$schema", "$id", "id", "title", "$comment", "examples", "default",
		"readOnly", "writeOnly", "deprecated", "definitions", "$defs", "labels", "eventMetadata"}
)

func (r *schemaReader) lose(n *node, format string, args ...any) {
	r.im.lose(r.file, n.line, n.path, format, args...)
}

func (r *schemaReader) bad(n *node, format string, args ...any) {
	r.im.bad(r.file, n.line, n.path, format, args...)
}

// resolve follows a local $ref ("#/definitions/x", "#/$defs/x"); other
// references are reported and read as any.
func (r *schemaReader) resolve(s *node) *node {
	for depth := 0; s != nil && s.kind == kObject; depth++ {
		ref, ok := s.get("$ref").str()
		if !ok {
			return s
		}
		if depth > 20 {
			r.bad(s, "$ref %q: references loop", ref)
			return nil
		}
		target := r.pointer(ref)
		if target == nil {
			r.lose(s.get("$ref"), "$ref %q is not a reference inside this file; the property is imported as any", ref)
			return nil
		}
		if len(s.keys) > 1 {
			r.lose(s, "keywords beside $ref are not read (draft-07 ignores them)")
		}
		s = target
	}
	return s
}

// pointer finds a local JSON pointer ("#/a/b") in the file.
func (r *schemaReader) pointer(ref string) *node {
	rest, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil
	}
	n := r.root
	for part := range strings.SplitSeq(strings.TrimPrefix(rest, "/"), "/") {
		if rest == "" {
			break
		}
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		switch n.kind {
		case kObject:
			n = n.obj[part]
		case kArray:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(n.arr) {
				return nil
			}
			n = n.arr[i]
		default:
			return nil
		}
		if n == nil {
			return nil
		}
	}
	return n
}

// object reads the properties of an object schema, their paths under
// prefix.
func (r *schemaReader) object(s *node, prefix string, out *[]*trackplan.Property) {
	required := map[string]bool{}
	if req := s.get("required"); req != nil {
		if req.kind != kArray {
			r.bad(req, "required must be an array of property names, not %s", req.kind)
		}
		for _, n := range req.arr {
			if name, ok := n.str(); ok {
				required[name] = true
			} else {
				r.bad(n, "required must hold property names, not %s", n.kind)
			}
		}
	}
	props := s.get("properties")
	if props != nil && props.kind != kObject {
		r.bad(props, "properties must be an object, not %s", props.kind)
		return
	}
	if props != nil {
		for _, key := range props.keys {
			v := props.obj[key]
			if key == "" || strings.Contains(key, ".") || strings.Contains(key, "[]") {
				r.lose(v, "property name %q cannot be a plan path (dots and [] nest); left out", key)
				continue
			}
			path := key
			if prefix != "" {
				path = prefix + "." + key
			}
			r.property(v, path, required[key], out)
			delete(required, key)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(required)) {
		r.lose(s.get("required"), "%q is required but not among the properties; the plan cannot require an undeclared property", name)
	}
}

// property reads the schema of one property at path.
func (r *schemaReader) property(s *node, path string, required bool, out *[]*trackplan.Property) {
	if s != nil && s.kind == kBool {
		if !s.b {
			r.lose(s, "false (the property is forbidden) is not in the plan model; imported as any")
		}
		*out = append(*out, &trackplan.Property{Name: path, Required: required})
		return
	}
	at := s
	s = r.resolve(s)
	if s == nil {
		*out = append(*out, &trackplan.Property{Name: path, Required: required})
		return
	}
	if s.kind != kObject {
		r.bad(at, "a schema must be an object, not %s", s.kind)
		return
	}
	p := &trackplan.Property{Name: path, Required: required}
	*out = append(*out, p)
	r.keywords(s)
	if d, ok := s.get("description").str(); ok {
		p.Description = d
	}

	var types []string
	if t := s.get("type"); t != nil {
		list := []*node{t}
		if t.kind == kArray {
			list = t.arr
		}
		for _, n := range list {
			name, ok := n.str()
			switch {
			case !ok:
				r.bad(n, "type must be a type name or a list of them, not %s", n.kind)
			case name == "null":
				p.Nullable = true
			case slices.Contains([]string{"string", "number", "integer", "boolean", "object", "array"}, name):
				types = append(types, name)
			default:
				r.bad(n, "unknown type %q (want string, number, integer, boolean, object, array or null)", name)
			}
		}
	}
	switch {
	case len(types) == 1:
		p.Type = trackplan.PropertyType(types[0])
	case len(types) > 1:
		r.lose(s.get("type"), "several types %v: the plan has one type per property; imported as any", types)
	case s.get("properties") != nil:
		p.Type = trackplan.PropObject
	case s.get("items") != nil:
		p.Type = trackplan.PropArray
	case p.Nullable:
		r.lose(s.get("type"), "only null is allowed: imported as any, nullable")
	}
	if p.Type == "" {
		p.Type = trackplan.PropAny
	}

	if f := s.get("format"); f != nil {
		name, _ := f.str()
		switch {
		case name == "date-time" && (p.Type == trackplan.PropString || p.Type == trackplan.PropAny):
			p.Type = trackplan.PropDatetime
		default:
			r.lose(f, "format %q is not in the plan model (only date-time is: a datetime)", name)
		}
	}
	if e := s.get("enum"); e != nil {
		if e.kind != kArray {
			r.bad(e, "enum must be an array, not %s", e.kind)
		}
		for _, v := range e.arr {
			if v.kind == kNull {
				p.Nullable = true
				continue
			}
			text, ok := v.scalar()
			if !ok {
				r.lose(v, "enum value of type %s is not in the plan model; left out", v.kind)
				continue
			}
			if !slices.Contains(p.Enum, text) {
				p.Enum = append(p.Enum, text)
			}
		}
		switch p.Type {
		case trackplan.PropString, trackplan.PropNumber, trackplan.PropInteger, trackplan.PropAny:
		default:
			r.lose(e, "enum on a %s property is not in the plan model; left out", p.Type)
			p.Enum = nil
		}
	}
	if pat := s.get("pattern"); pat != nil {
		text, _ := pat.str()
		switch p.Type {
		case trackplan.PropString, trackplan.PropDatetime, trackplan.PropAny:
			p.Pattern = text
		default:
			r.lose(pat, "pattern on a %s property is not in the plan model; left out", p.Type)
		}
	}
	for _, b := range []struct {
		key string
		dst **float64
	}{{"minimum", &p.Min}, {"maximum", &p.Max}} {
		n := s.get(b.key)
		if n == nil {
			continue
		}
		f, ok := n.number()
		switch {
		case !ok:
			r.bad(n, "%s must be a number, not %s", b.key, n.kind)
		case !p.Type.Numeric():
			r.lose(n, "%s on a %s property is not in the plan model; left out", b.key, p.Type)
		default:
			*b.dst = &f
		}
	}
	if ap := s.get("additionalProperties"); ap != nil && !(ap.kind == kBool && ap.b) {
		r.lose(ap, "additionalProperties is not in the plan model: trackplan allows unplanned properties and reports them (UNPLANNED_PROPERTY, a warning)")
	}

	switch p.Type {
	case trackplan.PropObject:
		r.object(s, path, out)
	case trackplan.PropArray:
		items := s.get("items")
		switch {
		case items == nil:
		case items.kind == kArray:
			r.lose(items, "tuple items (one schema per position) are not in the plan model; left out")
		default:
			r.items(items, path+"[]", out)
		}
	}
}

// items reads the schema of an array's elements at path ("tags[]"). An
// object element is not declared itself unless it says something of its
// own (a description, null allowed): its properties are.
func (r *schemaReader) items(s *node, path string, out *[]*trackplan.Property) {
	at := s
	if s.kind == kBool {
		return
	}
	if s = r.resolve(s); s == nil {
		return
	}
	if len(s.keys) == 0 {
		return
	}
	t, _ := s.get("type").str()
	_, described := s.get("description").str()
	if (t == "object" || (t == "" && s.get("properties") != nil)) && !described {
		r.keywords(s)
		if ap := s.get("additionalProperties"); ap != nil && !(ap.kind == kBool && ap.b) {
			r.lose(ap, "additionalProperties is not in the plan model: trackplan allows unplanned properties and reports them (UNPLANNED_PROPERTY, a warning)")
		}
		r.object(s, path, out)
		return
	}
	r.property(at, path, false, out)
}

// keywords reports the keywords of s that the plan model has no place for.
func (r *schemaReader) keywords(s *node) {
	for _, k := range s.keys {
		if slices.Contains(schemaKeywords, k) || slices.Contains(schemaAnnotations, k) {
			continue
		}
		r.lose(s.obj[k], "keyword %s is not in the plan model; left out", k)
	}
}

// payloadOf finds the payload schema of an event schema: the
// properties.properties (or properties.traits) of a message schema, as
// Segment and trackplan write them, or the schema itself when it is not
// wrapped. key is the wrapper found ("properties", "traits" or "").
func (r *schemaReader) payloadOf(s *node) (payload *node, key string) {
	props := s.get("properties")
	for _, k := range []string{"properties", "traits"} {
		inner := props.get(k)
		if inner == nil || inner.kind != kObject {
			continue
		}
		for _, other := range props.keys {
			v := props.obj[other]
			switch {
			case other == k:
			case other == "context" && len(v.keys) == 0:
			case other == "properties" || other == "traits":
				if len(v.keys) > 0 && !(len(v.keys) == 1 && v.keys[0] == "type") {
					r.lose(v, "rules on the message's %s beside its %s are not in the plan model; left out", other, k)
				}
			default:
				r.lose(v, "rules on the message's %s are not in the plan model; left out", other)
			}
		}
		return r.resolve(inner), k
	}
	return s, ""
}

// jsonSchemaFile reads a JSON Schema file: trackplan's export (an array of
// {name, type, schema}), or one schema for one event, named by its title
// or else by the file's name. A lone schema is a track event, or identify
// or group when so named.
func (im *importer) jsonSchemaFile(f File) {
	root, err := parseJSON(f.Data)
	if err != nil {
		im.bad(f.Name, lineOfErr(err), "", "%v", trimLine(err))
		return
	}
	r := &schemaReader{im: im, file: f.Name, root: root}
	switch root.kind {
	case kArray:
		for _, item := range root.arr {
			name, ok := item.get("name").str()
			schema := item.get("schema")
			if !ok || schema == nil || schema.kind != kObject {
				r.bad(item, "want {\"name\": ..., \"type\": ..., \"schema\": {...}} (trackplan's JSON Schema export)")
				continue
			}
			t := trackplan.Track
			if tn := item.get("type"); tn != nil {
				s, _ := tn.str()
				t = trackplan.CallType(s)
				switch t {
				case trackplan.Track, trackplan.Page, trackplan.Screen, trackplan.Identify, trackplan.Group:
				default:
					r.bad(tn, "unknown call type %q (want track, page, screen, identify or group)", s)
					continue
				}
			}
			r.event(schema, name, t, Note{File: f.Name, Line: item.line, Path: item.path})
		}
	case kObject:
		name, ok := root.get("title").str()
		if !ok || name == "" {
			name = strings.TrimSuffix(filepath.Base(f.Name), filepath.Ext(f.Name))
		}
		_, key := r.payloadOf(root)
		t := trackplan.Track
		switch {
		case strings.EqualFold(name, "identify"):
			t = trackplan.Identify
		case strings.EqualFold(name, "group"):
			t = trackplan.Group
		case key == "traits":
			t = trackplan.Identify
		}
		r.event(root, name, t, Note{File: f.Name, Line: root.line, Path: root.path})
	default:
		r.bad(root, "want a JSON Schema (an object) or trackplan's export (an array), not %s", root.kind)
	}
}

// event reads one event's schema.
func (r *schemaReader) event(s *node, name string, t trackplan.CallType, at Note) {
	if v, ok := s.get("$schema").str(); ok && !strings.Contains(v, "draft-07") && !strings.Contains(v, "2020-12") && !strings.Contains(v, "2019-09") {
		r.lose(s.get("$schema"), "$schema %q: read as draft-07", v)
	}
	e := &trackplan.Event{Name: name, Type: t}
	if d, ok := s.get("description").str(); ok {
		e.Description = d
	}
	var status trackplan.Status
	if d := s.get("deprecated"); d != nil && d.kind == kBool && d.b {
		status = trackplan.StatusDeprecated
	}
	for _, k := range s.keys {
		switch k {
		case "properties", "required", "type", "description", "deprecated", "$schema", "$id", "id", "title", "$comment",
			"definitions", "$defs", "labels", "eventMetadata", "additionalProperties", "examples":
		default:
			r.lose(s.obj[k], "keyword %s on the whole message is not in the plan model; left out", k)
		}
	}
	payload, _ := r.payloadOf(s)
	if payload != nil {
		if payload.kind != kObject {
			r.bad(payload, "the payload schema must be an object, not %s", payload.kind)
		} else {
			if ap := payload.get("additionalProperties"); ap != nil && !(ap.kind == kBool && ap.b) {
				r.lose(ap, "additionalProperties is not in the plan model: trackplan allows unplanned properties and reports them (UNPLANNED_PROPERTY, a warning)")
			}
			r.object(payload, "", &e.Properties)
		}
	}
	r.im.add(e, status, at)
}
