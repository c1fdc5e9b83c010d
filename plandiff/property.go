package plandiff

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/trackplan/trackplan"
)

// properties returns e's properties without nil entries and duplicates (the
// first wins), in plan order.
func properties(e *trackplan.Event) []*trackplan.Property {
	seen := map[string]bool{}
	out := make([]*trackplan.Property, 0, len(e.Properties))
	for _, p := range e.Properties {
		if p == nil || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		out = append(out, p)
	}
	return out
}

// properties adds the changes between the properties of two entries taken
// as the same event; base carries the event's name and call type.
func (d *differ) properties(oe, ne *trackplan.Event, base Change) {
	olds, news := properties(oe), properties(ne)
	newByName := make(map[string]*trackplan.Property, len(news))
	for _, p := range news {
		newByName[p.Name] = p
	}
	oldByName := make(map[string]*trackplan.Property, len(olds))
	for _, p := range olds {
		oldByName[p.Name] = p
	}
	var removed, added []*trackplan.Property
	for _, op := range olds {
		if np := newByName[op.Name]; np != nil {
			d.property(op, np, base)
			continue
		}
		removed = append(removed, op)
	}
	for _, np := range news {
		if oldByName[np.Name] == nil {
			added = append(added, np)
		}
	}

	pairs, removed, added := pairUnique(removed, added, propertySignature)
	for _, p := range pairs {
		c := base
		c.Kind, c.Property, c.Before, c.After = PropertyRenamed, p[1].Name, p[0].Name, p[1].Name
		rb, _ := removalBreaking(news, p[0])
		ab, _ := additionBreaking(olds, news, p[1])
		c.Breaking = rb || ab
		d.add(c)
	}
	for _, op := range removed {
		c := base
		c.Kind, c.Property, c.Before = PropertyRemoved, op.Name, describeProperty(op)
		c.Breaking, c.After = removalBreaking(news, op)
		d.add(c)
	}
	for _, np := range added {
		c := base
		c.Kind, c.Property, c.After = PropertyAdded, np.Name, describeProperty(np)
		var why string
		if c.Breaking, why = additionBreaking(olds, news, np); why != "" {
			c.After += "; " + why
		}
		d.add(c)
	}
}

// propertySignature pairs a removed and an added property of one event that
// agree on everything but the name, and have a description: a rename.
func propertySignature(p *trackplan.Property) (string, bool) {
	if strings.TrimSpace(p.Description) == "" {
		return "", false
	}
	enum := slices.Clone(p.Enum)
	slices.Sort(enum)
	parts := []string{
		string(p.EffectiveType()),
		strconv.FormatBool(p.Required),
		strconv.FormatBool(p.Nullable),
		strconv.FormatBool(p.PII),
		strconv.Quote(p.Pattern),
		bound(p.Min),
		bound(p.Max),
		strconv.Quote(p.Description),
		strconv.Itoa(len(enum)),
	}
	for _, v := range enum {
		parts = append(parts, strconv.Quote(v))
	}
	return strings.Join(parts, "\x00"), true
}

// bound renders an optional bound; "" when unset.
func bound(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'g', -1, 64)
}

// property adds the changes of one property present in both entries.
func (d *differ) property(op, np *trackplan.Property, base Change) {
	base.Property = np.Name
	add := func(k Kind, before, after string, breaking bool) {
		c := base
		c.Kind, c.Before, c.After, c.Breaking = k, before, after, breaking
		d.add(c)
	}
	ot, nt := op.EffectiveType(), np.EffectiveType()
	if ot != nt {
		add(PropertyTypeChanged, string(ot), string(nt), typeBreaking(ot, nt))
	}
	switch {
	case !op.Required && np.Required:
		add(PropertyMadeRequired, "optional", "required", enforcedRequired(np))
	case op.Required && !np.Required:
		add(PropertyMadeOptional, "required", "optional", false)
	}
	// A property of type any accepts null whatever its nullable flag says.
	on, nn := op.Nullable || ot == trackplan.PropAny, np.Nullable || nt == trackplan.PropAny
	switch {
	case !on && nn:
		add(NullableAdded, "not nullable", "nullable", false)
	case on && !nn:
		add(NullableRemoved, "nullable", "not nullable", true)
	}
	d.enum(op, np, base)
	switch {
	case op.Pattern == "" && np.Pattern != "":
		add(PatternAdded, "", np.Pattern, true)
	case op.Pattern != "" && np.Pattern == "":
		add(PatternRemoved, op.Pattern, "", false)
	case op.Pattern != np.Pattern:
		add(PatternChanged, op.Pattern, np.Pattern, true)
	}
	if narrowed, widened := rangeChange(op, np); narrowed || widened {
		k := RangeWidened
		if narrowed {
			k = RangeNarrowed
		}
		add(k, describeRange(op), describeRange(np), narrowed)
	}
	if op.Description != np.Description {
		c := base
		c.Kind, c.Field, c.Before, c.After = PropertyMetadataChanged, "description", short(op.Description), short(np.Description)
		d.add(c)
	}
	if op.PII != np.PII {
		c := base
		c.Kind, c.Field, c.Before, c.After = PropertyMetadataChanged, "pii", strconv.FormatBool(op.PII), strconv.FormatBool(np.PII)
		d.add(c)
	}
}

// enum adds the enum changes of one property.
func (d *differ) enum(op, np *trackplan.Property, base Change) {
	add := func(k Kind, values []string, breaking bool) {
		c := base
		c.Kind, c.Values, c.Breaking = k, values, breaking
		c.Before, c.After = strings.Join(op.Enum, ", "), strings.Join(np.Enum, ", ")
		d.add(c)
	}
	switch {
	case len(op.Enum) == 0 && len(np.Enum) == 0:
	case len(op.Enum) == 0:
		add(EnumAdded, slices.Clone(np.Enum), true)
	case len(np.Enum) == 0:
		add(EnumRemoved, slices.Clone(op.Enum), false)
	default:
		if vs := missing(np.Enum, np.EffectiveType(), op.Enum, op.EffectiveType()); len(vs) > 0 {
			add(EnumValuesAdded, vs, false)
		}
		if vs := missing(op.Enum, op.EffectiveType(), np.Enum, np.EffectiveType()); len(vs) > 0 {
			add(EnumValuesRemoved, vs, true)
		}
	}
}

// missing returns the values of a (of type at) that b (of type bt) lacks,
// in a's order. Values of numeric properties compare as numbers: 1 and 1.0
// are the same value.
func missing(a []string, at trackplan.PropertyType, b []string, bt trackplan.PropertyType) []string {
	have := make(map[string]bool, len(b))
	for _, v := range b {
		have[enumKey(v, bt)] = true
	}
	out := []string{}
	for _, v := range a {
		if !have[enumKey(v, at)] {
			out = append(out, v)
		}
	}
	return out
}

func enumKey(v string, t trackplan.PropertyType) string {
	if t.Numeric() {
		if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
	}
	return v
}

// rangeChange reports whether the new bounds reject values the old ones
// accepted (narrowed) and whether they accept values the old ones rejected
// (widened).
func rangeChange(op, np *trackplan.Property) (narrowed, widened bool) {
	lower := func(a, b *float64) bool { return b != nil && (a == nil || *b > *a) } // b's minimum is stricter
	upper := func(a, b *float64) bool { return b != nil && (a == nil || *b < *a) } // b's maximum is stricter
	narrowed = lower(op.Min, np.Min) || upper(op.Max, np.Max)
	widened = lower(np.Min, op.Min) || upper(np.Max, op.Max)
	return narrowed, widened
}
