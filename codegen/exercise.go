package codegen

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"github.com/trackplan/trackplan"
)

// Exercise returns a program that sends every call the generated code
// offers once, through the generated code, with every property set to a
// value the plan allows (a required nullable property to null): for trying
// the code against a collector such as trackplan serve, whose drift report
// on that traffic should then hold no error. The program reads
// SEGMENT_WRITE_KEY and SEGMENT_ENDPOINT, counts the values runtime
// validation reports, and exits non-zero when a call or a delivery failed
// or a value was reported.
//
// TypeScript: exercise.ts, beside tracking.ts, over @segment/analytics-node.
// Go: a main package importing the generated package from importPath.
func Exercise(p *trackplan.Plan, o Options, importPath string) (File, error) {
	if p == nil {
		return File{}, fmt.Errorf("exercise: no plan")
	}
	calls := buildCalls(p, o.IncludeProposed)
	switch o.Lang {
	case TypeScript:
		_, methods := generateTypeScript(calls, o)
		return File{Name: "exercise.ts", Data: tsExercise(calls, methods, o)}, nil
	case Go:
		pkg := o.Package
		if pkg == "" {
			pkg = DefaultGoPackage
		}
		_, g, err := generateGo(calls, pkg, o)
		if err != nil {
			return File{}, err
		}
		return File{Name: "main.go", Data: goExercise(calls, g, pkg, importPath, o)}, nil
	}
	return File{}, fmt.Errorf("exercise: unknown language %q", o.Lang)
}

// exerciseDate is the datetime every exercised datetime property holds.
const exerciseDate = "2026-11-20T10:00:00Z"

func tsExercise(calls []*call, methods map[*call]string, o Options) []byte {
	var b bytes.Buffer
	b.WriteString(`import { Analytics } from "@segment/analytics-node";
import { forNode } from "./tracking";

const endpoint = process.env["SEGMENT_ENDPOINT"];
const analytics = new Analytics({
  writeKey: process.env["SEGMENT_WRITE_KEY"] ?? "",
  ...(endpoint ? { host: endpoint } : {}),
  maxEventsInBatch: 50,
  flushInterval: 100,
});
let failures = 0;
analytics.on("error", (err) => {
  failures++;
  console.error("delivery failed:", err);
});
let violations = 0;
`)
	if o.RuntimeValidation {
		b.WriteString(`const t = forNode(analytics, {
  onViolation: (v) => {
    violations++;
    console.error("violation:", v);
  },
});
`)
	} else {
		b.WriteString("const t = forNode(analytics);\n")
	}
	b.WriteString(`const options = { userId: "exercise-user" };
let sent = 0;
`)
	for _, c := range calls {
		var args []string
		if c.kind == trackplan.Group {
			args = append(args, `"exercise-account"`)
		}
		payload := "{}"
		if len(c.root.kids) > 0 {
			payload = tsSample(c.root, 0)
		}
		args = append(args, payload, "options")
		fmt.Fprintf(&b, "t.%s(%s);\nsent++;\n", methods[c], strings.Join(args, ", "))
	}
	b.WriteString(`analytics.closeAndFlush({ timeout: 20000 }).then(() => {
  console.log("sent " + sent + " calls");
  if (failures > 0 || violations > 0) process.exitCode = 1;
});
`)
	return b.Bytes()
}

// tsSample is a TypeScript expression of a value the plan allows for n.
func tsSample(n *node, depth int) string {
	if n.declared() && n.nullable && n.required && n.typ != trackplan.PropAny {
		return "null"
	}
	if enum := n.enum(); len(enum) > 0 {
		if n.numericEnum() {
			return tsNumber(enum[0])
		}
		return tsQuote(enum[0])
	}
	switch n.typ {
	case trackplan.PropString:
		return tsQuote(sampleString(n))
	case trackplan.PropNumber, trackplan.PropInteger:
		return sampleNumber(n)
	case trackplan.PropBoolean:
		return "true"
	case trackplan.PropDatetime:
		return `new Date("` + exerciseDate + `")`
	case trackplan.PropObject:
		if len(n.kids) == 0 {
			return `{ sample: "value" }`
		}
		var parts []string
		for _, k := range n.kids {
			parts = append(parts, tsKey(k.key)+": "+tsSample(k, depth+1))
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case trackplan.PropArray:
		if n.elem == nil {
			return `["value"]`
		}
		return "[" + tsSample(n.elem, depth+1) + "]"
	}
	return `"value"`
}

func goExercise(calls []*call, g *goGen, pkg, importPath string, o Options) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `// Command exercise sends every planned call once through the generated
// package %s.
package main

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/segmentio/analytics-go/v3"

	%s %s
)

type callback struct{ failed atomic.Int64 }

func (*callback) Success(analytics.Message) {}

func (c *callback) Failure(_ analytics.Message, err error) {
	c.failed.Add(1)
	fmt.Fprintln(os.Stderr, "delivery failed:", err)
}

func main() {
	cb := &callback{}
	client, err := analytics.NewWithConfig(os.Getenv("SEGMENT_WRITE_KEY"), analytics.Config{
		Endpoint:  os.Getenv("SEGMENT_ENDPOINT"),
		BatchSize: 50,
		Interval:  100 * time.Millisecond,
		Callback:  cb,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	violations := 0
`, pkg, pkg, strconv.Quote(importPath))
	if o.RuntimeValidation {
		fmt.Fprintf(&b, `	t := %s.New(client, func(v %s.Violation) {
		violations++
		fmt.Fprintf(os.Stderr, "violation: %%+v\n", v)
	})
`, pkg, pkg)
	} else {
		fmt.Fprintf(&b, "\tt := %s.New(client)\n", pkg)
	}
	fmt.Fprintf(&b, `	call := %s.Call{UserID: "exercise-user"}
	sent := 0
	send := func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		sent++
	}
`, pkg)
	x := goSampler{g: g, pkg: pkg}
	for _, c := range calls {
		args := []string{"call"}
		if c.kind == trackplan.Group {
			args = append(args, `"exercise-account"`)
		}
		obj := g.objects[c.root]
		args = append(args, x.members(obj)...)
		fmt.Fprintf(&b, "\tsend(t.%s(%s))\n", g.methodOf[c], strings.Join(args, ", "))
	}
	b.WriteString(`	if err := client.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("sent %d calls\n", sent)
	if cb.failed.Load() > 0 || violations > 0 {
		os.Exit(1)
	}
}
`)
	return b.Bytes()
}

// goSampler writes Go expressions of values the plan allows, in terms of
// the generated package.
type goSampler struct {
	g   *goGen
	pkg string
}

// members returns the arguments that make an object: its required members,
// then its Optional struct with every field set.
func (x goSampler) members(obj *goObject) []string {
	var args []string
	for _, p := range obj.req {
		args = append(args, x.value(p.n, p.typ))
	}
	if obj.optName != "" {
		var fields []string
		for _, p := range obj.opt {
			typ := strings.TrimPrefix(p.typ, "*")
			fields = append(fields, fmt.Sprintf("%s: %s.Ptr[%s](%s)", p.name, x.pkg, x.qualify(typ), x.value(p.n, typ)))
		}
		args = append(args, x.pkg+"."+obj.optName+"{"+strings.Join(fields, ", ")+"}")
	}
	return args
}

// qualify puts the package's name before the generated types in typ.
func (x goSampler) qualify(typ string) string {
	var b strings.Builder
	for i := 0; i < len(typ); {
		c := typ[i]
		if c >= 'A' && c <= 'Z' && (i == 0 || !isIdentByte(typ[i-1]) && typ[i-1] != '.') {
			j := i
			for j < len(typ) && isIdentByte(typ[j]) {
				j++
			}
			b.WriteString(x.pkg + "." + typ[i:j])
			i = j
			continue
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// value is a Go expression of type typ holding a value the plan allows for n.
func (x goSampler) value(n *node, typ string) string {
	if inner, ok := strings.CutPrefix(typ, "Nullable["); ok {
		inner = strings.TrimSuffix(inner, "]")
		if n.required {
			return fmt.Sprintf("%s.Null[%s]()", x.pkg, x.qualify(inner))
		}
		return fmt.Sprintf("%s.Value[%s](%s)", x.pkg, x.qualify(inner), x.value(n, inner))
	}
	if names := x.g.enumValues[n]; len(names) > 0 {
		return x.pkg + "." + names[0]
	}
	switch n.typ {
	case trackplan.PropString:
		return strconv.Quote(sampleString(n))
	case trackplan.PropNumber, trackplan.PropInteger:
		return sampleNumber(n)
	case trackplan.PropBoolean:
		return "true"
	case trackplan.PropDatetime:
		return "time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)"
	case trackplan.PropObject:
		if len(n.kids) == 0 {
			return `map[string]any{"sample": "value"}`
		}
		obj := x.g.objects[n]
		return x.pkg + "." + obj.ctor + "(" + strings.Join(x.members(obj), ", ") + ")"
	case trackplan.PropArray:
		if n.elem == nil {
			return `[]any{"value"}`
		}
		elem := strings.TrimPrefix(typ, "[]")
		return x.qualify(typ) + "{" + x.value(n.elem, elem) + "}"
	}
	return `"value"`
}

// sampleString is a string the plan allows for n: one its pattern
// matches, else a plain word.
func sampleString(n *node) string {
	if n.prop != nil && n.prop.Pattern != "" {
		if s, ok := matchingString(n.prop.Pattern); ok {
			return s
		}
	}
	return strings.TrimSpace("sample " + n.key)
}

// sampleNumber is a number within n's bounds, integral for an integer.
func sampleNumber(n *node) string {
	v := 1.0
	if n.typ == trackplan.PropNumber {
		v = 2.5
	}
	if p := n.prop; p != nil {
		switch {
		case p.Min != nil:
			v = *p.Min
			if n.typ == trackplan.PropInteger {
				v = math.Ceil(v)
			}
		case p.Max != nil && *p.Max < v:
			v = *p.Max
			if n.typ == trackplan.PropInteger {
				v = math.Floor(v)
			}
		}
	}
	return formatNumber(v)
}

// matchingString returns a short string pattern matches: the regular
// expression walked taking the first way at every choice.
func matchingString(pattern string) (string, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	writeMatch(&b, re.Simplify())
	s := b.String()
	if ok, _ := regexp.MatchString(pattern, s); !ok {
		return "", false
	}
	return s, true
}

func writeMatch(b *strings.Builder, re *syntax.Regexp) {
	switch re.Op {
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
	case syntax.OpCharClass:
		b.WriteRune(classRune(re.Rune))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte('a')
	case syntax.OpCapture, syntax.OpPlus, syntax.OpAlternate:
		writeMatch(b, re.Sub[0])
	case syntax.OpRepeat:
		for range re.Min {
			writeMatch(b, re.Sub[0])
		}
	case syntax.OpConcat:
		for _, s := range re.Sub {
			writeMatch(b, s)
		}
	}
}

// classRune picks a readable rune of a character class (pairs of ranges):
// a lower-case letter, a digit or an upper-case letter when it has one.
func classRune(ranges []rune) rune {
	for _, want := range [][2]rune{{'a', 'z'}, {'0', '9'}, {'A', 'Z'}, {'!', '~'}} {
		for i := 0; i+1 < len(ranges); i += 2 {
			lo, hi := max(ranges[i], want[0]), min(ranges[i+1], want[1])
			if lo <= hi {
				return lo
			}
		}
	}
	if len(ranges) > 0 {
		return ranges[0]
	}
	return 'a'
}
