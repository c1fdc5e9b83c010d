package plandiff

import (
	"strings"

	"github.com/trackplan/trackplan"
)

// typeBreaking reports whether changing a property's type from o to n can
// reject a value o accepted. Any accepts everything; every integer is a
// number and every datetime a string.
func typeBreaking(o, n trackplan.PropertyType) bool {
	switch {
	case o == n, n == trackplan.PropAny:
		return false
	case o == trackplan.PropInteger && n == trackplan.PropNumber:
		return false
	case o == trackplan.PropDatetime && n == trackplan.PropString:
		return false
	}
	return true
}

// enforcedRequired reports whether p's required flag is checked: it is not
// for array elements (a path ending in []).
func enforcedRequired(p *trackplan.Property) bool {
	return p.Required && !strings.HasSuffix(p.Name, "[]")
}

// removalBreaking reports whether removing op from an event whose remaining
// properties are props can reject a message the old plan accepted, and when
// it does not, why.
func removalBreaking(props []*trackplan.Property, op *trackplan.Property) (bool, string) {
	if object, array := members(props, op.Name); object || array {
		// op stays as the undeclared parent of its members, an object, an
		// array, or any when used both ways.
		t := op.EffectiveType()
		if (object && array) || (object && t == trackplan.PropObject) || (array && t == trackplan.PropArray) {
			return false, "members still declared"
		}
		return true, ""
	}
	if a := openAncestor(props, op.Name); a != nil {
		return false, "accepted under open " + a.Name
	}
	return true, ""
}

// additionBreaking reports whether adding np to an event whose old
// properties are olds and new ones news can reject a message the old plan
// accepted, and why when the reason is not the required flag.
func additionBreaking(olds, news []*trackplan.Property, np *trackplan.Property) (bool, string) {
	if enforcedRequired(np) {
		return true, ""
	}
	t := np.EffectiveType()
	if object, array := members(olds, np.Name); object || array {
		// np was the undeclared parent of declared members: it accepted
		// null and any object, array, or both.
		switch {
		case t == trackplan.PropAny:
			return false, ""
		case !np.Nullable:
			return true, "no longer nullable"
		case (object && t != trackplan.PropObject) || (array && t != trackplan.PropArray):
			return true, ""
		}
		return false, ""
	}
	a := openAncestor(olds, np.Name)
	if a == nil {
		return false, "" // np's values were unplanned before
	}
	// The old plan accepted anything at np's path. The new one checks it
	// against np, and closes a unless a is still an any.
	why := a.Name + " was open"
	na := find(news, a.Name)
	if na == nil || na.EffectiveType() != trackplan.PropAny {
		return true, why
	}
	constrained := t != trackplan.PropAny || len(np.Enum) > 0 || np.Pattern != "" || np.Min != nil || np.Max != nil
	if constrained {
		return true, why
	}
	return false, ""
}

// openAncestor returns the nearest declared ancestor of path, among props,
// that accepts anything below it, or nil. A declared any is open; a
// declared object or array is open while nothing is declared below it. An
// undeclared parent of declared members is closed, as is the event itself.
func openAncestor(props []*trackplan.Property, path string) *trackplan.Property {
	for q, ok := trackplan.ParentPath(path); ok; q, ok = trackplan.ParentPath(q) {
		object, array := members(props, q)
		if p := find(props, q); p != nil {
			switch p.EffectiveType() {
			case trackplan.PropAny:
				return p
			case trackplan.PropObject, trackplan.PropArray:
				if !object && !array {
					return p
				}
			}
			return nil
		}
		if object || array {
			return nil
		}
	}
	return nil
}

// members reports whether props declare keys below path (object) or
// elements of it (array).
func members(props []*trackplan.Property, path string) (object, array bool) {
	for _, p := range props {
		object = object || strings.HasPrefix(p.Name, path+".")
		array = array || strings.HasPrefix(p.Name, path+"[]")
	}
	return object, array
}

// find returns the property of props with the given path, or nil.
func find(props []*trackplan.Property, path string) *trackplan.Property {
	for _, p := range props {
		if p.Name == path {
			return p
		}
	}
	return nil
}
