package planfile

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/trackplan/trackplan"
)

// The keys of each mapping of the format, in the order Write emits them.
var (
	planKeys     = []string{"version", "events"}
	eventKeys    = []string{"name", "type", "description", "why", "status", "owner", "tags", "platforms", "weight", "properties"}
	propertyKeys = []string{"name", "type", "required", "nullable", "enum", "pattern", "min", "max", "pii", "description"}
)

// decoder turns a node tree into a plan, collecting every problem with the
// field and line it concerns, and remembering the line of every field so
// that validation errors can point at it too.
type decoder struct {
	errs  trackplan.ValidationError
	lines map[string]int
}

func (d *decoder) problem(field string, line int, format string, args ...any) {
	d.errs.Add(field, fmt.Sprintf(format, args...)+fmt.Sprintf(" (line %d)", line))
}

// withLines returns verr with the line of each problem's field appended.
func (d *decoder) withLines(verr *trackplan.ValidationError) *trackplan.ValidationError {
	out := &trackplan.ValidationError{}
	for _, p := range verr.Problems {
		msg := p.Message
		if line, ok := d.lineOf(p.Field); ok {
			msg += fmt.Sprintf(" (line %d)", line)
		}
		out.Problems = append(out.Problems, trackplan.FieldError{Field: p.Field, Message: msg})
	}
	return out
}

// lineOf finds the line of field, or of the closest enclosing field.
func (d *decoder) lineOf(field string) (int, bool) {
	for field != "" {
		if line, ok := d.lines[field]; ok {
			return line, true
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			break
		}
		field = field[:i]
	}
	return 0, false
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func describe(n *node) string {
	switch n.kind {
	case mappingNode:
		return "a mapping"
	case sequenceNode:
		return "a list"
	}
	if n.tag == tagNull {
		return "null"
	}
	v := n.value
	if len(v) > 40 {
		v = strings.ToValidUTF8(v[:40], "") + "…"
	}
	return fmt.Sprintf("%q", v)
}

// fields calls fn for each key of mapping n, rejecting keys not in known and
// keys given twice.
func (d *decoder) fields(n *node, prefix, what string, known []string, fn func(key string, v *node, field string)) {
	seen := map[string]int{}
	for i, k := range n.keys {
		v := n.vals[i]
		if k.kind != scalarNode {
			d.problem(prefix, k.line, "%s has a key that is %s, not a name", what, describe(k))
			continue
		}
		field := join(prefix, k.value)
		switch {
		case k.tag == tagMerge:
			d.problem(prefix, k.line, "merge keys (<<) are not supported")
			continue
		case !contains(known, k.value):
			d.problem(field, k.line, "unknown key %q in %s%s", k.value, what, suggest(k.value, known))
			continue
		}
		if line, dup := seen[k.value]; dup {
			d.problem(field, k.line, "key %q given twice in %s (first at line %d)", k.value, what, line)
			continue
		}
		seen[k.value] = k.line
		d.lines[field] = v.line
		fn(k.value, v, field)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest proposes the known key s is likely a misspelling of, or lists the
// known keys.
func suggest(s string, known []string) string {
	fold := func(x string) string {
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(x))
	}
	for _, k := range known {
		if fold(k) == fold(s) {
			return fmt.Sprintf("; did you mean %q?", k)
		}
	}
	return "; known keys: " + strings.Join(known, ", ")
}

func (d *decoder) plan(n *node) *trackplan.Plan {
	p := &trackplan.Plan{}
	if n.kind != mappingNode {
		d.problem("", n.line, "a plan is a mapping with version and events, not %s", describe(n))
		return p
	}
	hasVersion := false
	d.fields(n, "", "the plan", planKeys, func(key string, v *node, field string) {
		switch key {
		case "version":
			hasVersion = true
			var ok bool
			if p.Version, ok = d.int(v, field); ok && p.Version != trackplan.PlanVersion {
				d.problem(field, v.line, "unsupported version %d (want %d)", p.Version, trackplan.PlanVersion)
			}
		case "events":
			p.Events = d.events(v, field)
		}
	})
	if !hasVersion {
		d.problem("version", n.line, "version is missing (want version: %d)", trackplan.PlanVersion)
	}
	return p
}

func (d *decoder) events(n *node, field string) []*trackplan.Event {
	if !d.list(n, field) {
		return nil
	}
	var out []*trackplan.Event
	for i, it := range n.items {
		f := fmt.Sprintf("%s[%d]", field, i)
		d.lines[f] = it.line
		if it.kind != mappingNode {
			d.problem(f, it.line, "an event is a mapping, not %s", describe(it))
			continue
		}
		out = append(out, d.event(it, f))
	}
	return out
}

func (d *decoder) event(n *node, prefix string) *trackplan.Event {
	e := &trackplan.Event{}
	d.fields(n, prefix, "an event", eventKeys, func(key string, v *node, field string) {
		switch key {
		case "name":
			e.Name = d.str(v, field)
		case "type":
			e.Type = trackplan.CallType(d.str(v, field))
		case "description":
			e.Description = d.str(v, field)
		case "why":
			e.Why = d.str(v, field)
		case "status":
			e.Status = trackplan.Status(d.str(v, field))
		case "owner":
			e.Owner = d.str(v, field)
		case "tags":
			e.Tags = d.strs(v, field)
		case "platforms":
			e.Platforms = d.strs(v, field)
		case "weight":
			e.Weight, _ = d.int(v, field)
		case "properties":
			e.Properties = d.properties(v, field)
		}
	})
	return e
}

func (d *decoder) properties(n *node, field string) []*trackplan.Property {
	if !d.list(n, field) {
		return nil
	}
	var out []*trackplan.Property
	for i, it := range n.items {
		f := fmt.Sprintf("%s[%d]", field, i)
		d.lines[f] = it.line
		if it.kind != mappingNode {
			d.problem(f, it.line, "a property is a mapping, not %s", describe(it))
			continue
		}
		out = append(out, d.property(it, f))
	}
	return out
}

func (d *decoder) property(n *node, prefix string) *trackplan.Property {
	p := &trackplan.Property{}
	d.fields(n, prefix, "a property", propertyKeys, func(key string, v *node, field string) {
		switch key {
		case "name":
			p.Name = d.str(v, field)
		case "type":
			p.Type = trackplan.PropertyType(d.str(v, field))
		case "required":
			p.Required = d.bool(v, field)
		case "nullable":
			p.Nullable = d.bool(v, field)
		case "enum":
			p.Enum = d.strs(v, field)
		case "pattern":
			p.Pattern = d.str(v, field)
		case "min":
			p.Min = d.float(v, field)
		case "max":
			p.Max = d.float(v, field)
		case "pii":
			p.PII = d.bool(v, field)
		case "description":
			p.Description = d.str(v, field)
		}
	})
	return p
}

// list reports whether n is a list with items; null and [] are empty, any
// other kind is a problem.
func (d *decoder) list(n *node, field string) bool {
	switch {
	case n.kind == sequenceNode:
		return len(n.items) > 0
	case n.kind == scalarNode && n.tag == tagNull:
		return false
	}
	d.problem(field, n.line, "must be a list, not %s", describe(n))
	return false
}

// str returns a scalar's text; null is the empty string.
func (d *decoder) str(n *node, field string) string {
	if n.kind != scalarNode {
		d.problem(field, n.line, "must be a string, not %s", describe(n))
		return ""
	}
	if n.tag == tagNull {
		return ""
	}
	return n.value
}

// strs returns a list of strings; null and [] are nil.
func (d *decoder) strs(n *node, field string) []string {
	if !d.list(n, field) {
		return nil
	}
	out := make([]string, 0, len(n.items))
	for i, it := range n.items {
		f := fmt.Sprintf("%s[%d]", field, i)
		d.lines[f] = it.line
		if it.kind != scalarNode || it.tag == tagNull {
			d.problem(f, it.line, "must be a string, not %s", describe(it))
			continue
		}
		out = append(out, it.value)
	}
	return out
}

// int returns an integer scalar, reporting whether it was one; null is 0.
func (d *decoder) int(n *node, field string) (int, bool) {
	if n.kind == scalarNode {
		switch n.tag {
		case tagNull:
			return 0, true
		case tagInt:
			var i int
			if n.yaml != nil {
				if err := n.yaml.Decode(&i); err == nil {
					return i, true
				}
			} else if v, err := strconv.Atoi(n.value); err == nil {
				return v, true
			}
		case tagFloat:
			if f, err := strconv.ParseFloat(n.value, 64); err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<31 {
				return int(f), true
			}
		}
	}
	d.problem(field, n.line, "must be an integer, not %s", describe(n))
	return 0, false
}

func (d *decoder) float(n *node, field string) *float64 {
	if n.kind == scalarNode {
		switch n.tag {
		case tagNull:
			return nil
		case tagInt, tagFloat:
			f, err := strconv.ParseFloat(n.value, 64)
			if err != nil && n.yaml != nil {
				err = n.yaml.Decode(&f)
			}
			switch {
			case err != nil:
			case math.IsNaN(f) || math.IsInf(f, 0):
				d.problem(field, n.line, "must be a finite number, not %s", describe(n))
				return nil
			default:
				return &f
			}
		}
	}
	d.problem(field, n.line, "must be a number, not %s", describe(n))
	return nil
}

func (d *decoder) bool(n *node, field string) bool {
	if n.kind == scalarNode {
		switch n.tag {
		case tagNull:
			return false
		case tagBool:
			var b bool
			if n.yaml != nil {
				if err := n.yaml.Decode(&b); err == nil {
					return b
				}
			} else {
				return n.value == "true"
			}
		}
	}
	d.problem(field, n.line, "must be true or false, not %s", describe(n))
	return false
}
