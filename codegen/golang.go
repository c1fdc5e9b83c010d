package codegen

import (
	"bytes"
	"errors"
	"fmt"
	"go/format"
	"go/token"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/trackplan/trackplan"
)

// goReserved are the names a generated identifier must not take: Go's
// keywords and predeclared identifiers (a parameter named string would
// hide the type), the imports, and the generated code's own names.
var goReserved = []string{
	"break", "case", "chan", "const", "continue", "default", "defer", "else", "fallthrough", "for", "func",
	"go", "goto", "if", "import", "interface", "map", "package", "range", "return", "select", "struct",
	"switch", "type", "var",
	"any", "bool", "byte", "comparable", "complex64", "complex128", "error", "float32", "float64", "int",
	"int8", "int16", "int32", "int64", "rune", "string", "uint", "uint8", "uint16", "uint32", "uint64",
	"uintptr", "true", "false", "iota", "nil", "append", "cap", "clear", "close", "complex", "copy",
	"delete", "imag", "len", "make", "max", "min", "new", "panic", "print", "println", "real", "recover",
	"analytics", "fmt", "regexp", "time",
}

// goPackageNames are the package-level names of the prelude.
var goPackageNames = []string{
	"Call", "Tracker", "New", "Nullable", "Null", "Value", "Ptr", "Violation", "encoder", "rule", "bound",
	"nullableValue", "sliceValue", "mapValue", "valuesAt", "number", "pageName",
}

// goParamReserved are the names a parameter or an unexported field must
// not take: the reserved names, the package's own, and the locals of the
// generated methods.
var goParamReserved = reservedSet(goReserved, goPackageNames,
	[]string{"t", "call", "opt", "enc", "props", "traits", "groupID", "o", "m", "set", "e", "v", "value"})

const goPrelude = `
// Call says who a call is about and carries the message fields it may
// have besides its properties or traits. A call needs a UserID or an
// AnonymousID.
type Call struct {
	UserID      string
	AnonymousID string
	// Context is the message's context; Extra["groupId"] ties a track
	// call to an account.
	Context      *analytics.Context
	Integrations analytics.Integrations
	// Timestamp is when the call happened; the client's clock when zero.
	Timestamp time.Time
	// MessageID is the dedupe key; the client makes one when empty.
	MessageID string
}

// Nullable is the value of a property the plan allows to be null: Null
// or Value(v).
type Nullable[T any] struct {
	value T
	valid bool
}

// Null returns null, for a nullable property.
func Null[T any]() Nullable[T] { return Nullable[T]{} }

// Value returns v, for a nullable property.
func Value[T any](v T) Nullable[T] { return Nullable[T]{value: v, valid: true} }

// Ptr returns a pointer to v, for the fields of optional properties.
func Ptr[T any](v T) *T { return &v }

// encoder keeps the first value that could not be encoded.
type encoder struct{ err error }

func (e *encoder) fail(format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf(format, args...)
	}
}

func nullableValue[T any](n Nullable[T], f func(T) any) any {
	if !n.valid {
		return nil
	}
	return f(n.value)
}

func sliceValue[T any](s []T, f func(T) any) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

func pageName(props analytics.Properties) string {
	name, _ := props["name"].(string)
	return name
}

func mapValue(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
`

const goValidationPrelude = `
// Violation is a value the plan does not allow that the types could not
// rule out, found by runtime validation. The call is sent all the same.
type Violation struct {
	// Event is the event's name, or identify / group.
	Event string
	// Property is the property's path in the plan, e.g. products[].price.
	Property string
	// Expected is what the plan expects: "pattern …", ">= n" or "<= n".
	Expected string
	// Value is the value sent.
	Value any
}

type rule struct {
	path     []string
	name     string
	pattern  *regexp.Regexp
	min, max *float64
}

func bound(f float64) *float64 { return &f }

func (t *Tracker) check(event string, rules []rule, payload map[string]any) {
	if t.onViolation == nil {
		return
	}
	for _, r := range rules {
		for _, v := range valuesAt(payload, r.path) {
			report := func(expected string) {
				t.onViolation(Violation{Event: event, Property: r.name, Expected: expected, Value: v})
			}
			if s, ok := v.(string); ok && r.pattern != nil && !r.pattern.MatchString(s) {
				report("pattern " + r.pattern.String())
			}
			if f, ok := number(v); ok {
				if r.min != nil && f < *r.min {
					report(">= " + strconv.FormatFloat(*r.min, 'g', -1, 64))
				}
				if r.max != nil && f > *r.max {
					report("<= " + strconv.FormatFloat(*r.max, 'g', -1, 64))
				}
			}
		}
	}
}

func valuesAt(v any, path []string) []any {
	values := []any{v}
	for _, step := range path {
		var next []any
		for _, v := range values {
			switch x := v.(type) {
			case map[string]any:
				if e, ok := x[step]; ok && step != "[]" {
					next = append(next, e)
				}
			case []any:
				if step == "[]" {
					next = append(next, x...)
				}
			}
		}
		values = next
	}
	return values
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case float32:
		return float64(x), true
	}
	return 0, false
}
`

// goGen writes one Go file.
type goGen struct {
	b          bytes.Buffer // the calls' methods
	decls      bytes.Buffer // the types they use
	names      *namer       // package-level identifiers
	methods    *namer       // Tracker's methods
	typeNames  map[*node]string
	objects    map[*node]*goObject
	enumValues map[*node][]string
	methodOf   map[*call]string
	validation bool
}

func generateGo(calls []*call, pkg string, o Options) ([]byte, *goGen, error) {
	g := &goGen{
		names:      newNamer(append(append([]string{}, goReserved...), goPackageNames...)...),
		methods:    newNamer("Identify", "Group", "check"),
		typeNames:  map[*node]string{},
		objects:    map[*node]*goObject{},
		enumValues: map[*node][]string{},
		methodOf:   map[*call]string{},
		validation: o.RuntimeValidation,
	}
	for _, c := range calls {
		g.call(c)
	}

	var out bytes.Buffer
	out.Grow(len(goPrelude) + len(goValidationPrelude) + g.b.Len() + g.decls.Len() + 4096)
	fmt.Fprintf(&out, "// Package %s sends the calls of the tracking plan through analytics-go,\n", pkg)
	out.WriteString("// one typed method per planned call. Make a Tracker with New.\n")
	fmt.Fprintf(&out, "package %s\n\nimport (\n\t\"fmt\"\n", pkg)
	if g.validation {
		out.WriteString("\t\"regexp\"\n\t\"strconv\"\n")
	}
	out.WriteString("\t\"time\"\n\n\t\"github.com/segmentio/analytics-go/v3\"\n)\n")
	out.WriteString(goPrelude)
	out.WriteString("\n// Tracker sends the calls of the tracking plan through an analytics-go\n")
	out.WriteString("// client, typed by the plan. Required properties are parameters; optional\n")
	out.WriteString("// ones are fields of the call's Optional struct, left out when nil. A\n")
	out.WriteString("// method returns the client's Enqueue error, or the error of a value that\n")
	out.WriteString("// was not made with its constructor (a zero enum or object), unsent.\n")
	out.WriteString("type Tracker struct {\n\tclient analytics.Client\n")
	if g.validation {
		out.WriteString("\tonViolation func(Violation)\n}\n\n")
		out.WriteString("// New returns a Tracker that sends through client. onViolation, unless\n")
		out.WriteString("// nil, is called for each value that breaks a rule of the plan the\n")
		out.WriteString("// types cannot express (patterns and ranges); the call is sent anyway.\n")
		out.WriteString("func New(client analytics.Client, onViolation func(Violation)) *Tracker {\n")
		out.WriteString("\treturn &Tracker{client: client, onViolation: onViolation}\n}\n")
		out.WriteString(goValidationPrelude)
	} else {
		out.WriteString("}\n\n// New returns a Tracker that sends through client.\n")
		out.WriteString("func New(client analytics.Client) *Tracker { return &Tracker{client: client} }\n")
	}
	out.Write(g.b.Bytes())
	out.Write(g.decls.Bytes())
	src, err := formatGo(out.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("generate go: format: %w", err)
	}
	return src, g, nil
}

// formatGo is go/format.Source on the whole file, done in parts on every
// CPU: gofmt lays out each top-level declaration on its own, so the file is
// cut at the blank lines between them (a blank line followed by a line at
// column 0) into runs of declarations formatted apart.
func formatGo(src []byte) ([]byte, error) {
	var cuts []int
	for i := 0; i+2 < len(src); i++ {
		if src[i] == '\n' && src[i+1] == '\n' && src[i+2] != '\t' && src[i+2] != '\n' && src[i+2] != ')' && src[i+2] != '}' {
			cuts = append(cuts, i+1)
		}
	}
	workers := runtime.GOMAXPROCS(0)
	parts := 4 * workers
	if len(src) < 64<<10 || parts < 2 {
		return format.Source(src)
	}
	// Cut into parts of about the same size; the first holds the package
	// clause and the imports.
	var bounds []int
	next := len(src) / parts
	for _, c := range cuts {
		if c >= next {
			bounds = append(bounds, c)
			next = c + len(src)/parts
		}
	}
	bounds = append(bounds, len(src))
	out := make([][]byte, len(bounds))
	errs := make([]error, len(bounds))
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	start := 0
	for i, end := range bounds {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, part []byte) {
			defer wg.Done()
			out[i], errs[i] = format.Source(part)
			<-sem
		}(i, src[start:end])
		start = end
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return bytes.Join(out, nil), nil
}

// comment writes lines as a Go comment into b.
func comment(b *bytes.Buffer, lines []string) {
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		if l == "" {
			b.WriteString("//\n")
		} else {
			b.WriteString("// " + l + "\n")
		}
	}
}

// goParam is one required property of an object as a parameter (or an
// unexported field), or one optional property as a field of its Optional
// struct.
type goParam struct {
	n    *node
	name string
	typ  string
}

// goObject is how the generated code takes an object's members: the
// required ones as parameters, the optional ones in an Optional struct.
type goObject struct {
	req, opt []goParam
	optName  string // the Optional struct, "" when there are no optional members
	ctor     string // the constructor of a nested object
}

// object returns how the members of object n are taken, declaring the
// types they use; base is the name n's own type takes.
func (g *goGen) object(n *node, base string) *goObject {
	if o, ok := g.objects[n]; ok {
		return o
	}
	o := &goObject{}
	g.objects[n] = o
	params := newScopedNamer(goParamReserved)
	fields := newNamer()
	for _, k := range n.kids {
		typ := g.goType(k, base+pascalOr(k.key, "Value"))
		if k.required {
			o.req = append(o.req, goParam{n: k, name: params.name(camel(k.key), "value", "p"), typ: typ})
		} else {
			o.opt = append(o.opt, goParam{n: k, name: fields.name(pascal(k.key), "Value", "P"), typ: "*" + typ})
		}
	}
	if len(o.opt) > 0 {
		o.optName = g.optionalType(n, base, o.opt)
	}
	return o
}

func pascalOr(s, fallback string) string {
	if p := pascal(s); p != "" {
		return p
	}
	return fallback
}

// goType returns the Go type of n's values, declaring the named types it
// needs; base is the name n's own type would take.
func (g *goGen) goType(n *node, base string) string {
	if n.declared() && n.nullable && n.typ != trackplan.PropAny {
		return "Nullable[" + g.plainType(n, base) + "]"
	}
	return g.plainType(n, base)
}

func (g *goGen) plainType(n *node, base string) string {
	if len(n.enum()) > 0 {
		return g.enumType(n, base)
	}
	switch n.typ {
	case trackplan.PropString:
		return "string"
	case trackplan.PropNumber:
		return "float64"
	case trackplan.PropInteger:
		return "int64"
	case trackplan.PropBoolean:
		return "bool"
	case trackplan.PropDatetime:
		return "time.Time"
	case trackplan.PropObject:
		if len(n.kids) == 0 {
			return "map[string]any"
		}
		return g.objectType(n, base)
	case trackplan.PropArray:
		if n.elem == nil {
			return "[]any"
		}
		return "[]" + g.goType(n.elem, base+"Item")
	}
	return "any"
}

// enumType declares the opaque type of an enum and its values.
func (g *goGen) enumType(n *node, base string) string {
	if name, ok := g.typeNames[n]; ok {
		return name
	}
	name := g.names.name(base, "Enum", "E")
	g.typeNames[n] = name
	vt, lit := "string", func(v string) string { return strconv.Quote(v) }
	if n.numericEnum() {
		vt = "float64"
		if n.typ == trackplan.PropInteger {
			vt = "int64"
		}
		lit = func(v string) string {
			f, _ := parseNumber(v)
			if f < 0 {
				return "-" + formatNumber(-f)
			}
			return formatNumber(f)
		}
	}
	b := &g.decls
	b.WriteString("\n")
	doc := []string{fmt.Sprintf("%s is an allowed value of %s: one of the values below. A bare literal is", name, strconv.Quote(n.path)),
		"not one; the zero value is an error when sent."}
	if pd := propDoc(n, Go); len(pd) > 0 {
		doc = append(append(doc, ""), pd...)
	}
	comment(b, doc)
	fmt.Fprintf(b, "type %s struct {\n\tv   %s\n\tset bool\n}\n\n", name, vt)
	fmt.Fprintf(b, "// The allowed values of %s.\nvar (\n", name)
	for _, v := range n.enum() {
		vn := g.names.name(name+pascal(v), name+"Value", "V")
		g.enumValues[n] = append(g.enumValues[n], vn)
		fmt.Fprintf(b, "\t%s = %s{%s, true}\n", vn, name, lit(v))
	}
	b.WriteString(")\n\n")
	fmt.Fprintf(b, "// String returns the value as sent.\nfunc (e %s) String() string { return fmt.Sprint(e.v) }\n\n", name)
	fmt.Fprintf(b, "func (e %s) value(enc *encoder) any {\n\tif !e.set {\n\t\tenc.fail(%q)\n\t}\n\treturn e.v\n}\n",
		name, name+" has no value: use one of its values")
	return name
}

// objectType declares the struct of an object with declared members: its
// required members are unexported fields set by its constructor, its
// optional ones the fields of its Optional struct.
func (g *goGen) objectType(n *node, base string) string {
	if name, ok := g.typeNames[n]; ok {
		return name
	}
	name := g.names.name(base, "Object", "O")
	g.typeNames[n] = name
	obj := g.object(n, name)
	req, opt, optName := obj.req, obj.opt, obj.optName
	b := &g.decls
	b.WriteString("\n")
	doc := []string{fmt.Sprintf("%s is the object %s. Make one with New%s; the zero value is an", name, strconv.Quote(n.path), name),
		"error when sent."}
	if pd := propDoc(n, Go); len(pd) > 0 {
		doc = append(append(doc, ""), pd...)
	}
	comment(b, doc)
	fmt.Fprintf(b, "type %s struct {\n\tset bool\n", name)
	for _, p := range req {
		fmt.Fprintf(b, "\t%s %s\n", p.name, p.typ)
	}
	if optName != "" {
		fmt.Fprintf(b, "\topt %s\n", optName)
	}
	b.WriteString("}\n\n")
	var params, inits []string
	for _, p := range req {
		params = append(params, p.name+" "+p.typ)
		inits = append(inits, p.name+": "+p.name)
	}
	if optName != "" {
		params = append(params, "opt "+optName)
		inits = append(inits, "opt: opt")
	}
	ctor := g.names.name("New"+name, "", "")
	obj.ctor = ctor
	fmt.Fprintf(b, "// %s returns the object %s with its required members", ctor, strconv.Quote(n.path))
	if optName != "" {
		b.WriteString(" and the\n// optional ones set in opt")
	}
	b.WriteString(".\n")
	fmt.Fprintf(b, "func %s(%s) %s {\n\treturn %s{%s}\n}\n\n", ctor, strings.Join(params, ", "), name, name,
		strings.Join(append([]string{"set: true"}, inits...), ", "))
	fmt.Fprintf(b, "func (o %s) value(enc *encoder) map[string]any {\n", name)
	fmt.Fprintf(b, "\tif !o.set {\n\t\tenc.fail(%q)\n\t}\n\tm := map[string]any{}\n", name+" was not made with "+ctor)
	g.fill(b, "m", req, opt, "o.", "o.opt.")
	b.WriteString("\treturn m\n}\n")
	return name
}

// optionalType declares the struct of an object's optional members.
func (g *goGen) optionalType(n *node, base string, opt []goParam) string {
	name := g.names.name(base+"Optional", "", "")
	b := &g.decls
	b.WriteString("\n")
	what := "object " + strconv.Quote(n.path)
	if n.path == "" {
		what = base
	}
	comment(b, []string{fmt.Sprintf("%s holds the optional members of %s; nil fields are left out.", name, what)})
	fmt.Fprintf(b, "type %s struct {\n", name)
	for i, p := range opt {
		if i > 0 {
			b.WriteString("\n")
		}
		doc := propDoc(p.n, Go)
		if len(doc) > 0 {
			doc[0] = p.name + ": " + doc[0]
		}
		for len(doc) > 0 && doc[len(doc)-1] == "" {
			doc = doc[:len(doc)-1]
		}
		for _, l := range doc {
			if l == "" {
				b.WriteString("\t//\n")
			} else {
				b.WriteString("\t// " + l + "\n")
			}
		}
		fmt.Fprintf(b, "\t%s %s\n", p.name, p.typ)
	}
	b.WriteString("}\n")
	return name
}

// fill writes the statements that put an object's members into the map m.
func (g *goGen) fill(b *bytes.Buffer, m string, req, opt []goParam, reqPrefix, optPrefix string) {
	for _, p := range req {
		fmt.Fprintf(b, "\t%s[%s] = %s\n", m, strconv.Quote(p.n.key), g.valueExpr(p.n, reqPrefix+p.name, strings.TrimPrefix(p.typ, "*")))
	}
	for _, p := range opt {
		x := "(*" + optPrefix + p.name + ")"
		expr := g.valueExpr(p.n, x, strings.TrimPrefix(p.typ, "*"))
		if expr == x {
			expr = "*" + optPrefix + p.name
		}
		fmt.Fprintf(b, "\tif %s != nil {\n\t\t%s[%s] = %s\n\t}\n", optPrefix+p.name, m, strconv.Quote(p.n.key), expr)
	}
}

// valueExpr is the expression that turns x, of type typ, into the JSON
// value sent for n.
func (g *goGen) valueExpr(n *node, x, typ string) string {
	if inner, ok := strings.CutPrefix(typ, "Nullable["); ok {
		inner = strings.TrimSuffix(inner, "]")
		return fmt.Sprintf("nullableValue(%s, func(v %s) any { return %s })", x, inner, g.plainExpr(n, "v", inner))
	}
	return g.plainExpr(n, x, typ)
}

func (g *goGen) plainExpr(n *node, x, typ string) string {
	if len(n.enum()) > 0 {
		return x + ".value(enc)"
	}
	switch n.typ {
	case trackplan.PropDatetime:
		return x + ".Format(time.RFC3339Nano)"
	case trackplan.PropObject:
		if len(n.kids) == 0 {
			return "mapValue(" + x + ")"
		}
		return x + ".value(enc)"
	case trackplan.PropArray:
		elem := strings.TrimPrefix(typ, "[]")
		if n.elem == nil {
			return fmt.Sprintf("sliceValue(%s, func(e any) any { return e })", x)
		}
		return fmt.Sprintf("sliceValue(%s, func(e %s) any { return %s })", x, elem, g.valueExpr(n.elem, "e", elem))
	}
	return x
}

// call writes the Tracker method of one planned call.
func (g *goGen) call(c *call) {
	var base, method string
	switch c.kind {
	case trackplan.Identify:
		base, method = "Identify", "Identify"
	case trackplan.Group:
		base, method = "Group", "Group"
	default:
		base = pascalOr(c.event.Name, "Event")
		if base[0] >= '0' && base[0] <= '9' {
			base = "Event" + base
		}
		method = g.methods.name(base, "Event", "Event")
	}
	g.methodOf[c] = method
	obj := g.object(c.root, base)
	req, opt, optName := obj.req, obj.opt, obj.optName

	b := &g.b
	b.WriteString("\n")
	doc := []string{fmt.Sprintf("%s sends %s.", method, g.what(c))}
	if ed := eventDoc(c); len(ed) > 0 {
		doc = append(append(doc, ""), ed...)
	}
	if len(req) > 0 {
		var names []string
		for _, p := range req {
			names = append(names, p.name)
		}
		doc = append(doc, "", "Required: "+strings.Join(names, ", ")+".")
	}
	if c.deprecated() {
		doc = append(doc, "", "Deprecated: the tracking plan marks this event deprecated.")
	}
	comment(b, doc)
	params := []string{"call Call"}
	if c.kind == trackplan.Group {
		params = append(params, "groupID string")
	}
	for _, p := range req {
		params = append(params, p.name+" "+p.typ)
	}
	if optName != "" {
		params = append(params, "opt "+optName)
	}
	fmt.Fprintf(b, "func (t *Tracker) %s(%s) error {\n", method, strings.Join(params, ", "))
	payload, mapType := "props", "analytics.Properties"
	if c.kind == trackplan.Identify || c.kind == trackplan.Group {
		payload, mapType = "traits", "analytics.Traits"
	}
	b.WriteString("\tenc := &encoder{}\n")
	fmt.Fprintf(b, "\t%s := %s{}\n", payload, mapType)
	g.fill(b, payload, req, opt, "", "opt.")
	fmt.Fprintf(b, "\tif enc.err != nil {\n\t\treturn fmt.Errorf(\"%s %%q: %%w\", %s, enc.err)\n\t}\n", c.kind, strconv.Quote(c.label()))
	if g.validation {
		if rules := c.rules(false); len(rules) > 0 {
			rv := g.rulesVar(method, rules)
			fmt.Fprintf(b, "\tt.check(%s, %s, map[string]any(%s))\n", strconv.Quote(c.label()), rv, payload)
		}
	}
	common := "UserId: call.UserID, AnonymousId: call.AnonymousID, Context: call.Context, Integrations: call.Integrations, Timestamp: call.Timestamp, MessageId: call.MessageID"
	switch c.kind {
	case trackplan.Identify:
		fmt.Fprintf(b, "\treturn t.client.Enqueue(analytics.Identify{%s, Traits: traits})\n", common)
	case trackplan.Group:
		fmt.Fprintf(b, "\treturn t.client.Enqueue(analytics.Group{%s, GroupId: groupID, Traits: traits})\n", common)
	case trackplan.Page, trackplan.Screen:
		typ := "Page"
		if c.kind == trackplan.Screen {
			typ = "Screen"
		}
		fmt.Fprintf(b, "\treturn t.client.Enqueue(analytics.%s{%s, Name: pageName(props), Properties: props})\n", typ, common)
	default:
		fmt.Fprintf(b, "\treturn t.client.Enqueue(analytics.Track{%s, Event: %s, Properties: props})\n", common, strconv.Quote(c.event.Name))
	}
	b.WriteString("}\n")
}

func (g *goGen) what(c *call) string {
	switch c.kind {
	case trackplan.Identify:
		return "an identify call with the user's traits"
	case trackplan.Group:
		return "a group call with the account's traits"
	case trackplan.Page:
		return fmt.Sprintf("a page call, observed as %s", strconv.Quote(c.event.Name))
	case trackplan.Screen:
		return fmt.Sprintf("a screen call, observed as %s", strconv.Quote(c.event.Name))
	}
	return "the track event " + strconv.Quote(c.event.Name)
}

// rulesVar declares the runtime rules of a call.
func (g *goGen) rulesVar(method string, rules []rule) string {
	// An underscore keeps the name apart from every parameter (camelCase).
	name := g.names.name("rules_"+method, "rules", "r")
	b := &g.decls
	fmt.Fprintf(b, "\nvar %s = []rule{\n", name)
	for _, r := range rules {
		steps, _ := trackplan.ParsePath(r.Path)
		var path []string
		for _, s := range steps {
			if s.Elem {
				path = append(path, `"[]"`)
			} else {
				path = append(path, strconv.Quote(s.Key))
			}
		}
		parts := []string{"path: []string{" + strings.Join(path, ", ") + "}", "name: " + strconv.Quote(r.Path)}
		if r.Pattern != "" {
			parts = append(parts, "pattern: regexp.MustCompile("+strconv.Quote(r.Pattern)+")")
		}
		if r.Min != nil {
			parts = append(parts, "min: bound("+formatNumber(*r.Min)+")")
		}
		if r.Max != nil {
			parts = append(parts, "max: bound("+formatNumber(*r.Max)+")")
		}
		fmt.Fprintf(b, "\t{%s},\n", strings.Join(parts, ", "))
	}
	b.WriteString("}\n")
	return name
}

// validGoPackage reports whether name can name a Go package.
func validGoPackage(name string) bool {
	return token.IsIdentifier(name) && !token.IsKeyword(name) && name != "_" && name != "main"
}
