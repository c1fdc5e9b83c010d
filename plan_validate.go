package trackplan

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// propertyTypeList is the list of property types for error messages.
const propertyTypeList = "string, number, integer, boolean, object, array, datetime or any"

// Validate checks that the plan is well formed and returns a
// *ValidationError whose problems name the offending field, for example
// `events[3].properties[0].min`. It reports entries without a name, unknown
// call types, statuses and property types, weights outside 0–10, duplicate
// events (per call type) and duplicate properties, more than one identify or
// group entry, malformed property paths, constraints that do not fit the
// property's type (min/max on non-numeric types, enum on types other than
// string, number, integer and any, pattern on non-string types), min greater
// than max, non-finite bounds, invalid regular expressions and enum values
// that do not fit a numeric type.
//
// An empty call type means track, an empty property type means any and an
// empty status is allowed. Version 0 is taken as the current version.
func (p *Plan) Validate() error {
	var v ValidationError
	if p == nil {
		v.Add("", "no plan")
		return v.Err()
	}
	if p.Version != 0 && p.Version != PlanVersion {
		v.Add("version", fmt.Sprintf("unsupported version %d (want %d)", p.Version, PlanVersion))
	}
	type key struct {
		t    CallType
		name string
	}
	first := map[key]int{}
	for i, e := range p.Events {
		f := fmt.Sprintf("events[%d]", i)
		if e == nil {
			v.Add(f, "empty entry")
			continue
		}
		label := eventLabel(e)
		switch {
		case e.Name == "" || strings.TrimSpace(e.Name) == "":
			v.Add(f+".name", "event name is missing")
		case strings.TrimSpace(e.Name) != e.Name:
			v.Add(f+".name", label+": name has leading or trailing spaces")
		}
		switch e.Type {
		case "", Track, Page, Screen, Identify, Group:
		case Alias:
			v.Add(f+".type", label+": alias calls cannot be planned")
		default:
			v.Add(f+".type", fmt.Sprintf("%s: unknown call type %q (want track, identify, group, page or screen)", label, e.Type))
		}
		if e.Status != "" && !e.Status.Valid() {
			v.Add(f+".status", fmt.Sprintf("%s: unknown status %q (want proposed, planned, implemented, live or deprecated)", label, e.Status))
		}
		if e.Weight < 0 || e.Weight > 10 {
			v.Add(f+".weight", fmt.Sprintf("%s: weight %d is outside 0–10", label, e.Weight))
		}
		k := key{e.CallType(), e.Name}
		if k.t == Identify || k.t == Group {
			k.name = "" // one identify and one group entry, whatever their names
		}
		if j, dup := first[k]; dup {
			switch k.t {
			case Identify, Group:
				v.Add(f+".type", fmt.Sprintf("%s: more than one %s entry (also events[%d])", label, k.t, j))
			default:
				if e.Name != "" {
					v.Add(f+".name", fmt.Sprintf("%s: duplicate %s event (also events[%d])", label, k.t, j))
				}
			}
		} else {
			first[k] = i
		}
		validateProperties(&v, f, label, e.Properties)
	}
	return v.Err()
}

func eventLabel(e *Event) string {
	if e.Name == "" {
		return "event"
	}
	return fmt.Sprintf("event %q", e.Name)
}

// validateProperties checks the properties of one event; f is the event's
// field path and label names it in messages.
func validateProperties(v *ValidationError, f, label string, props []*Property) {
	index := map[string]int{}
	for j, pr := range props {
		if pr != nil && pr.Name != "" {
			if _, dup := index[pr.Name]; !dup {
				index[pr.Name] = j
			}
		}
	}
	// kinds records how undeclared parents are used: as an object (a key
	// follows) or as an array ([] follows).
	type use struct{ object, array bool }
	implicit := map[string]*use{}

	for j, pr := range props {
		pf := fmt.Sprintf("%s.properties[%d]", f, j)
		if pr == nil {
			v.Add(pf, label+": empty property entry")
			continue
		}
		pl := label + ", property"
		if pr.Name != "" {
			pl = fmt.Sprintf("%s, property %q", label, pr.Name)
		}
		add := func(field, msg string) { v.Add(pf+field, pl+": "+msg) }

		if pr.Name == "" {
			add(".name", "name is missing")
		} else if steps, err := ParsePath(pr.Name); err != nil {
			add(".name", "invalid path: "+err.Error())
		} else {
			if j0 := index[pr.Name]; j0 != j {
				add(".name", fmt.Sprintf("duplicate property (also properties[%d])", j0))
			}
			// The parent of a nested path must be able to hold it.
			path := ""
			for i, s := range steps[:len(steps)-1] {
				if s.Elem {
					path += "[]"
				} else if path == "" {
					path = s.Key
				} else {
					path += "." + s.Key
				}
				next := steps[i+1]
				if k, ok := index[path]; ok {
					pt := props[k].EffectiveType()
					switch {
					case pt == PropAny:
					case next.Elem && pt != PropArray:
						add(".name", fmt.Sprintf("parent %q is declared as %s, not array", path, pt))
					case !next.Elem && pt != PropObject:
						add(".name", fmt.Sprintf("parent %q is declared as %s, not object", path, pt))
					}
					continue
				}
				u := implicit[path]
				if u == nil {
					u = &use{}
					implicit[path] = u
				}
				if next.Elem {
					u.array = true
				} else {
					u.object = true
				}
				if u.array && u.object {
					add(".name", fmt.Sprintf("parent %q is used both as an object and as an array", path))
				}
			}
		}

		t := pr.Type
		if t != "" && !t.Valid() {
			add(".type", fmt.Sprintf("unknown type %q (want %s)", t, propertyTypeList))
			continue // constraint checks below depend on the type
		}
		et := pr.EffectiveType()

		for _, b := range []struct {
			field string
			val   *float64
		}{{".min", pr.Min}, {".max", pr.Max}} {
			switch {
			case b.val == nil:
			case math.IsNaN(*b.val) || math.IsInf(*b.val, 0):
				add(b.field, "must be a finite number")
			case !et.Numeric():
				add(b.field, fmt.Sprintf("%s applies to number and integer properties, not %s", b.field[1:], et))
			}
		}
		if pr.Min != nil && pr.Max != nil && *pr.Min > *pr.Max {
			add(".min", fmt.Sprintf("min %s is greater than max %s", formatFloat(*pr.Min), formatFloat(*pr.Max)))
		}

		if pr.Pattern != "" {
			switch et {
			case PropString, PropDatetime, PropAny:
				if _, err := regexp.Compile(pr.Pattern); err != nil {
					add(".pattern", "invalid regular expression: "+err.Error())
				}
			default:
				add(".pattern", fmt.Sprintf("pattern applies to string properties, not %s", et))
			}
		}

		if len(pr.Enum) > 0 {
			switch et {
			case PropString, PropNumber, PropInteger, PropAny:
			default:
				add(".enum", fmt.Sprintf("enum applies to string, number, integer and any properties, not %s", et))
				continue
			}
			seen := make(map[string]bool, len(pr.Enum))
			for k, val := range pr.Enum {
				ef := fmt.Sprintf(".enum[%d]", k)
				if seen[val] {
					add(ef, fmt.Sprintf("duplicate value %q", val))
				}
				seen[val] = true
				if !et.Numeric() {
					continue
				}
				n, err := strconv.ParseFloat(val, 64)
				switch {
				case err != nil || math.IsNaN(n) || math.IsInf(n, 0):
					add(ef, fmt.Sprintf("%q is not a number", val))
				case et == PropInteger && n != math.Trunc(n):
					add(ef, fmt.Sprintf("%q is not an integer", val))
				}
			}
		}
	}
}

// formatFloat renders a bound the shortest way that reads back the same.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
