package codegen

import (
	"math"
	"slices"
	"strconv"

	"github.com/trackplan/trackplan"
)

// call is one planned call the generated code sends: a track, page or
// screen event, or the identify or group traits.
type call struct {
	event *trackplan.Event
	kind  trackplan.CallType
	root  *node // the properties or traits, an object
}

// node is one value of a call's payload, built from the plan's flat
// property paths the way the checker reads them: declared properties,
// and undeclared parents of nested ones (optional, typed by how their
// children use them).
type node struct {
	key      string // the key under the parent object; "" for the payload and array elements
	path     string // the plan path, e.g. products[].sku
	prop     *trackplan.Property
	typ      trackplan.PropertyType
	required bool
	nullable bool
	kids     []*node // object members, in plan order
	elem     *node   // array elements
}

// declared reports whether the plan declares the node (rather than
// implying it as the parent of a nested property).
func (n *node) declared() bool { return n.prop != nil }

// enum returns the node's allowed values, nil when it has none.
func (n *node) enum() []string {
	if n.prop == nil {
		return nil
	}
	return n.prop.Enum
}

// numericEnum reports whether the enum's values are numbers.
func (n *node) numericEnum() bool { return len(n.enum()) > 0 && n.typ.Numeric() }

// isObject reports whether the node is an object with declared members
// (a typed structure); an object without members is an open map.
func (n *node) isObject() bool { return n.typ == trackplan.PropObject && len(n.kids) > 0 }

// child returns the node for step s under n, creating it.
func (n *node) child(s trackplan.PathStep) *node {
	if s.Elem {
		if n.elem == nil {
			n.elem = &node{path: n.path + "[]", typ: trackplan.PropAny, nullable: true}
		}
		return n.elem
	}
	for _, k := range n.kids {
		if k.key == s.Key {
			return k
		}
	}
	path := s.Key
	if n.path != "" {
		path = n.path + "." + s.Key
	}
	k := &node{key: s.Key, path: path, typ: trackplan.PropAny, nullable: true}
	n.kids = append(n.kids, k)
	return k
}

// buildCalls returns the calls of p the generated code offers, in plan
// order: every event but the proposed ones (unless includeProposed).
// Alias entries cannot be planned; of duplicates the first wins, as in
// the checker.
func buildCalls(p *trackplan.Plan, includeProposed bool) []*call {
	var out []*call
	seen := map[[2]string]bool{}
	for _, e := range p.Events {
		if e == nil || (e.Status == trackplan.StatusProposed && !includeProposed) {
			continue
		}
		kind := e.CallType()
		key := [2]string{string(kind), e.Name}
		switch kind {
		case trackplan.Identify, trackplan.Group:
			key[1] = ""
		case trackplan.Track, trackplan.Page, trackplan.Screen:
		default:
			continue
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, &call{event: e, kind: kind, root: buildTree(e)})
	}
	return out
}

// buildTree turns an event's flat property paths into a tree.
func buildTree(e *trackplan.Event) *node {
	root := &node{typ: trackplan.PropObject}
	for _, pr := range e.Properties {
		if pr == nil {
			continue
		}
		steps, err := trackplan.ParsePath(pr.Name)
		if err != nil {
			continue
		}
		n := root
		for i, s := range steps {
			n = n.child(s)
			if i < len(steps)-1 && !n.declared() {
				want := trackplan.PropObject
				if steps[i+1].Elem {
					want = trackplan.PropArray
				}
				switch {
				case n.typ == trackplan.PropAny && n.kids == nil && n.elem == nil:
					n.typ = want
				case n.typ != want:
					n.typ = trackplan.PropAny
				}
			}
		}
		if n.declared() {
			continue // a duplicate path: the first declaration wins
		}
		n.prop = pr
		n.typ = pr.EffectiveType()
		n.nullable = pr.Nullable || n.typ == trackplan.PropAny
		n.required = pr.Required && !steps[len(steps)-1].Elem
	}
	settle(root)
	return root
}

// settle drops what a node's type cannot hold: members of a node that
// ended up any or array, elements of one that ended up any or object.
func settle(n *node) {
	switch n.typ {
	case trackplan.PropObject:
		n.elem = nil
	case trackplan.PropArray:
		n.kids = nil
	default:
		n.kids, n.elem = nil, nil
	}
	for _, k := range n.kids {
		settle(k)
	}
	if n.elem != nil {
		settle(n.elem)
	}
}

// rule is a constraint the types cannot express, checked at run time
// when the code is generated with runtime validation.
type rule struct {
	Path    string
	Pattern string
	Min     *float64
	Max     *float64
	Integer bool // the value must be integral (for languages without integers)
}

// rules returns the runtime rules of a call, in path order.
func (c *call) rules(integers bool) []rule {
	var out []rule
	var walk func(n *node)
	walk = func(n *node) {
		if p := n.prop; p != nil {
			r := rule{Path: n.path, Pattern: p.Pattern, Min: p.Min, Max: p.Max}
			if integers && n.typ == trackplan.PropInteger && len(p.Enum) == 0 {
				r.Integer = true
			}
			if r.Pattern != "" && n.typ != trackplan.PropString && n.typ != trackplan.PropDatetime && n.typ != trackplan.PropAny {
				r.Pattern = ""
			}
			if !n.typ.Numeric() && n.typ != trackplan.PropAny {
				r.Min, r.Max = nil, nil
			}
			if len(p.Enum) > 0 && n.typ.Numeric() {
				r.Min, r.Max = nil, nil // the enum already pins the value
			}
			if r.Pattern != "" || r.Min != nil || r.Max != nil || r.Integer {
				out = append(out, r)
			}
		}
		for _, k := range n.kids {
			walk(k)
		}
		if n.elem != nil {
			walk(n.elem)
		}
	}
	walk(c.root)
	slices.SortStableFunc(out, func(a, b rule) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	return out
}

// formatNumber writes a bound or a numeric enum value the shortest way
// that reads back the same.
func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// parseNumber reads a numeric enum value; false when it is not a finite
// number.
func parseNumber(v string) (float64, bool) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}
