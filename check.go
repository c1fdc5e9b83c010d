package trackplan

import (
	"cmp"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxObservedValue bounds, in bytes, the offending value an ENUM_VIOLATION
// reports as observed.
const MaxObservedValue = 64

// Checker checks messages against one plan. NewChecker compiles the plan
// once (events and properties indexed by name, patterns compiled, bounds and
// enum sets prepared) so that Check does no more than walk the payload. A
// Checker is immutable and safe for concurrent use.
type Checker struct {
	events   map[checkKey]*rule // track/page/screen entries
	identify *rule
	group    *rule
}

// PlansEvent reports whether the plan has an entry for the events of call
// type t named name, as Check looks them up: a page or screen call is named
// "Page Viewed" or "Screen Viewed" (see Message.EventName) and is planned by
// a page, screen or track entry of that name; identify and group calls are
// planned by the plan's identify and group entries whatever name is given;
// alias calls never are.
func (c *Checker) PlansEvent(t CallType, name string) bool { return c.lookup(t, name) != nil }

// PlansPath reports whether the plan's entry for the event (see PlansEvent)
// names the property path, written as Flatten writes it ("products[].sku"),
// either declared or as the parent of a declared path ("products[]",
// "products"). Paths that only an open property (an any, an object without
// declared members) lets through are not named.
func (c *Checker) PlansPath(t CallType, name, path string) bool {
	r := c.lookup(t, name)
	if r == nil {
		return false
	}
	_, ok := r.paths[path]
	return ok
}

// lookup returns the rule of the plan entry for events of call type t named
// name, nil when the plan has none.
func (c *Checker) lookup(t CallType, name string) *rule {
	switch t {
	case Identify:
		return c.identify
	case Group:
		return c.group
	case Track:
		return c.events[checkKey{Track, name}]
	case Page, Screen:
		if r := c.events[checkKey{t, name}]; r != nil {
			return r
		}
		return c.events[checkKey{Track, name}]
	}
	return nil
}

type checkKey struct {
	t    CallType
	name string
}

// rule is the compiled form of one node of an event's property tree: the
// event's payload itself, a declared property, or an undeclared parent of a
// declared nested property.
type rule struct {
	path     string       // plan path, e.g. products[].sku; "" for the payload
	key      string       // the key under the parent object
	typ      PropertyType // planned type; object/array for undeclared parents
	expected string       // typ as reported in violations
	declared bool
	nullable bool
	// open means sub-paths that are not declared are covered by this node:
	// a declared any, a declared object without declared members, or a
	// declared array without declared elements.
	open     bool
	kids     map[string]*rule
	elem     *rule
	required []*rule // required kids
	// paths, on the payload's node only, are the paths of every node
	// below it (see Checker.PlansPath).
	paths map[string]struct{}

	enumStr      map[string]struct{}
	enumNum      []float64
	hasEnum      bool
	enumExpected string

	re      *regexp.Regexp
	pattern string

	hasMin, hasMax           bool
	min, max                 float64
	minExpected, maxExpected string
	minObserved, maxObserved string
}

// NewChecker compiles p for checking. p should pass Validate: constraints
// that do not compile (an invalid pattern, a non-numeric enum value of a
// numeric property) are ignored, and of duplicate entries the first wins.
func NewChecker(p *Plan) *Checker {
	c := &Checker{events: map[checkKey]*rule{}}
	if p == nil {
		return c
	}
	for _, e := range p.Events {
		if e == nil {
			continue
		}
		switch t := e.CallType(); t {
		case Identify:
			if c.identify == nil {
				c.identify = compileEvent(e)
			}
		case Group:
			if c.group == nil {
				c.group = compileEvent(e)
			}
		default:
			k := checkKey{t, e.Name}
			if _, dup := c.events[k]; !dup {
				c.events[k] = compileEvent(e)
			}
		}
	}
	return c
}

func compileEvent(e *Event) *rule {
	root := &rule{typ: PropObject, expected: TypeObject}
	for _, pr := range e.Properties {
		if pr == nil {
			continue
		}
		steps, err := ParsePath(pr.Name)
		if err != nil {
			continue
		}
		n, parent := root, (*rule)(nil)
		for i, s := range steps {
			parent = n
			n = parent.child(s)
			if i < len(steps)-1 && !n.declared {
				n.implicitFor(steps[i+1])
			}
		}
		if n.declared {
			continue // a duplicate path: the first declaration wins
		}
		n.declare(pr)
		if pr.Required && !steps[len(steps)-1].Elem {
			parent.required = append(parent.required, n)
		}
	}
	root.finish()
	root.paths = map[string]struct{}{}
	root.collectPaths(root.paths)
	return root
}

// collectPaths adds the paths of n's descendants to into.
func (n *rule) collectPaths(into map[string]struct{}) {
	for _, k := range n.kids {
		into[k.path] = struct{}{}
		k.collectPaths(into)
	}
	if n.elem != nil {
		into[n.elem.path] = struct{}{}
		n.elem.collectPaths(into)
	}
}

// child returns the node for step s under n, creating it.
func (n *rule) child(s PathStep) *rule {
	if s.Elem {
		if n.elem == nil {
			n.elem = &rule{path: n.path + "[]", typ: PropAny, nullable: true}
		}
		return n.elem
	}
	if k := n.kids[s.Key]; k != nil {
		return k
	}
	if n.kids == nil {
		n.kids = map[string]*rule{}
	}
	path := s.Key
	if n.path != "" {
		path = n.path + "." + s.Key
	}
	k := &rule{path: path, key: s.Key, typ: PropAny, nullable: true}
	n.kids[s.Key] = k
	return k
}

// implicitFor types an undeclared parent by the step below it: an object
// when a key follows, an array when [] follows, any when it is used both
// ways.
func (n *rule) implicitFor(next PathStep) {
	want := PropObject
	if next.Elem {
		want = PropArray
	}
	switch {
	case n.typ == PropAny && n.kids == nil && n.elem == nil:
		n.typ = want
	case n.typ != want:
		n.typ = PropAny
	}
}

func (n *rule) declare(pr *Property) {
	n.declared = true
	n.typ = pr.EffectiveType()
	n.nullable = pr.Nullable || n.typ == PropAny
	if len(pr.Enum) > 0 {
		n.hasEnum = true
		n.enumStr = make(map[string]struct{}, len(pr.Enum))
		for _, v := range pr.Enum {
			if n.typ != PropNumber && n.typ != PropInteger {
				n.enumStr[v] = struct{}{}
			}
			if n.typ == PropString {
				continue
			}
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				n.enumNum = append(n.enumNum, f)
			}
		}
		n.enumExpected = truncate("one of "+strings.Join(pr.Enum, ", "), 2*MaxObservedValue)
	}
	if pr.Pattern != "" {
		if re, err := regexp.Compile(pr.Pattern); err == nil {
			n.re, n.pattern = re, truncate("pattern "+pr.Pattern, 2*MaxObservedValue)
		}
	}
	if pr.Min != nil {
		n.hasMin, n.min = true, *pr.Min
		n.minExpected, n.minObserved = ">= "+formatFloat(n.min), "< "+formatFloat(n.min)
	}
	if pr.Max != nil {
		n.hasMax, n.max = true, *pr.Max
		n.maxExpected, n.maxObserved = "<= "+formatFloat(n.max), "> "+formatFloat(n.max)
	}
}

// finish sets the derived fields of n and its descendants once the tree is
// complete.
func (n *rule) finish() {
	n.expected = string(n.typ)
	if n.declared {
		n.open = n.typ == PropAny ||
			(n.typ == PropObject && len(n.kids) == 0) ||
			(n.typ == PropArray && n.elem == nil)
	} else {
		n.open = n.typ == PropAny
	}
	for _, k := range n.kids {
		k.finish()
	}
	if n.elem != nil {
		n.elem.finish()
	}
}

// Check returns the violations of m against the plan, nil when there are
// none. Track, page and screen calls without a plan entry are
// UNPLANNED_EVENT (page and screen calls are looked up as "Page Viewed" and
// "Screen Viewed"); identify and group traits are checked against the plan's
// identify and group entries, if it has them; alias calls are not checked.
//
// Each distinct violation is reported once per message, however many array
// elements show it, ordered by path and code. Observed values are kept
// low-cardinality: the JSON type, the bound crossed, or for an enum the
// offending value truncated to MaxObservedValue bytes.
func (c *Checker) Check(m *Message) []Violation {
	r := c.lookup(m.Type, m.EventName())
	if r == nil {
		if m.Type == Track || m.Type == Page || m.Type == Screen {
			return []Violation{{Code: UnplannedEvent}}
		}
		return nil
	}
	out := r.checkObject(nil, m.Payload())
	if len(out) > 1 {
		slices.SortFunc(out, compareViolations)
	}
	return out
}

func compareViolations(a, b Violation) int {
	return cmp.Or(
		strings.Compare(a.Path, b.Path),
		strings.Compare(string(a.Code), string(b.Code)),
		strings.Compare(a.Expected, b.Expected),
		strings.Compare(a.Observed, b.Observed),
	)
}

// add appends v unless out already holds it.
func add(out []Violation, v Violation) []Violation {
	if slices.Contains(out, v) {
		return out
	}
	return append(out, v)
}

// checkObject checks the members of obj against n's members.
func (n *rule) checkObject(out []Violation, obj map[string]any) []Violation {
	for k, v := range obj {
		kid := n.kids[k]
		if kid == nil {
			if !n.open {
				path := EscapeKey(k)
				if n.path != "" {
					path = n.path + "." + path
				}
				out = add(out, Violation{Code: UnplannedProperty, Path: path, Observed: JSONType(v)})
			}
			continue
		}
		out = kid.checkValue(out, v)
	}
	for _, req := range n.required {
		if _, ok := obj[req.key]; !ok {
			out = add(out, Violation{Code: RequiredMissing, Path: req.path, Expected: req.expected, Observed: "missing"})
		}
	}
	return out
}

// checkValue checks one value found at n's path.
func (n *rule) checkValue(out []Violation, v any) []Violation {
	if v == nil {
		if !n.nullable {
			out = add(out, Violation{Code: NullNotAllowed, Path: n.path, Expected: n.expected, Observed: TypeNull})
		}
		return out
	}
	var (
		s     string
		num   float64
		isStr bool
		isNum bool
		isInt bool
	)
	switch x := v.(type) {
	case string:
		s, isStr = x, true
	case float64:
		num, isNum, isInt = x, true, x == math.Trunc(x) && !math.IsInf(x, 0)
	case int:
		num, isNum, isInt = float64(x), true, true
	case int64:
		num, isNum, isInt = float64(x), true, true
	}

	ok := true
	switch n.typ {
	case PropString:
		ok = isStr
	case PropNumber:
		ok = isNum
	case PropInteger:
		ok = isInt
	case PropBoolean:
		_, ok = v.(bool)
	case PropObject:
		_, ok = v.(map[string]any)
	case PropArray:
		_, ok = v.([]any)
	case PropDatetime:
		ok = isStr && IsISO8601(s)
	}
	if !ok {
		return add(out, Violation{Code: TypeMismatch, Path: n.path, Expected: n.expected, Observed: JSONType(v)})
	}

	if n.hasEnum {
		switch {
		case isStr:
			if _, in := n.enumStr[s]; !in {
				out = add(out, Violation{Code: EnumViolation, Path: n.path, Expected: n.enumExpected, Observed: truncate(s, MaxObservedValue)})
			}
		case isNum:
			if !slices.Contains(n.enumNum, num) {
				out = add(out, Violation{Code: EnumViolation, Path: n.path, Expected: n.enumExpected, Observed: formatFloat(num)})
			}
		default:
			if b, isBool := v.(bool); isBool {
				if _, in := n.enumStr[strconv.FormatBool(b)]; !in {
					out = add(out, Violation{Code: EnumViolation, Path: n.path, Expected: n.enumExpected, Observed: strconv.FormatBool(b)})
				}
			}
		}
	}
	if n.re != nil && isStr && !n.re.MatchString(s) {
		out = add(out, Violation{Code: PatternViolation, Path: n.path, Expected: n.pattern, Observed: TypeString})
	}
	if isNum {
		if n.hasMin && num < n.min {
			out = add(out, Violation{Code: RangeViolation, Path: n.path, Expected: n.minExpected, Observed: n.minObserved})
		}
		if n.hasMax && num > n.max {
			out = add(out, Violation{Code: RangeViolation, Path: n.path, Expected: n.maxExpected, Observed: n.maxObserved})
		}
	}

	switch x := v.(type) {
	case map[string]any:
		if !n.open || len(n.kids) > 0 {
			out = n.checkObject(out, x)
		}
	case []any:
		if n.elem != nil {
			for _, e := range x {
				out = n.elem.checkValue(out, e)
			}
		}
	}
	return out
}

// truncate cuts s to at most max bytes at a rune boundary.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// IsISO8601 reports whether s is an ISO-8601 calendar date or date-time:
// YYYY-MM-DD, optionally followed by T (or a space) and hh:mm, optional
// seconds with an optional fraction, and an optional zone (Z, ±hh:mm, ±hhmm
// or ±hh). It does not allocate.
func IsISO8601(s string) bool {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return false
	}
	s = s[10:]
	if s == "" {
		return true
	}
	if s[0] != 'T' && s[0] != 't' && s[0] != ' ' {
		return false
	}
	s = s[1:]
	if len(s) < 5 || s[2] != ':' {
		return false
	}
	hour, ok1 := digits(s[0:2])
	minute, ok2 := digits(s[3:5])
	if !ok1 || !ok2 || hour > 23 || minute > 59 {
		return false
	}
	s = s[5:]
	if len(s) >= 3 && s[0] == ':' {
		sec, ok := digits(s[1:3])
		if !ok || sec > 60 {
			return false
		}
		s = s[3:]
		if len(s) >= 2 && (s[0] == '.' || s[0] == ',') {
			i := 1
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			if i == 1 {
				return false
			}
			s = s[i:]
		}
	}
	switch {
	case s == "", s == "Z", s == "z":
		return true
	case s[0] != '+' && s[0] != '-':
		return false
	}
	s = s[1:]
	var hh, mm string
	switch len(s) {
	case 2:
		hh = s
	case 4:
		hh, mm = s[:2], s[2:]
	case 5:
		if s[2] != ':' {
			return false
		}
		hh, mm = s[:2], s[3:]
	default:
		return false
	}
	h, ok := digits(hh)
	if !ok || h > 23 {
		return false
	}
	if mm != "" {
		m, ok := digits(mm)
		if !ok || m > 59 {
			return false
		}
	}
	return true
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
