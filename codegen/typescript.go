package codegen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/trackplan/trackplan"
)

// tsPrelude is the part of the TypeScript module that does not depend on
// the plan: the options of a call, the two libraries' shapes and the
// Tracker's constructors.
const tsPrelude = `/** Message fields a call may carry besides its properties or traits. */
export type MessageOptions = {
  /** Extra context; context.groupId ties a track call to an account. */
  context?: Record<string, any>;
  /** Which destinations receive the call. */
  integrations?: Record<string, any>;
  /** When the call happened; the library's clock when left out. */
  timestamp?: Date | string;
  /** The dedupe key; the library makes one when left out. */
  messageId?: string;
};

/** Who a call sent through analytics-node is about: a userId, an anonymousId, or both. */
export type Identity = { userId: string; anonymousId?: string } | { userId?: string; anonymousId: string };

/** The options of a call sent through analytics-node: who it is about, and its message fields. */
export type NodeOptions = Identity & MessageOptions;

/** The options of a call sent through analytics.js, which knows who the user is; an identify call may name them. */
export type BrowserOptions = MessageOptions & { userId?: string; anonymousId?: string };

/** The methods of an @segment/analytics-node Analytics instance that a Tracker calls. */
export interface NodeAnalytics {
  track(params: NodeOptions & { event: string; properties?: Record<string, any> | undefined }): void;
  identify(params: NodeOptions & { traits?: Record<string, any> | undefined }): void;
  group(params: NodeOptions & { groupId: string; traits?: Record<string, any> | undefined }): void;
  page(params: NodeOptions & { name?: string | undefined; properties?: Record<string, any> | undefined }): void;
  screen(params: NodeOptions & { name?: string | undefined; properties?: Record<string, any> | undefined }): void;
}

/** The methods of an @segment/analytics-next instance (analytics.js) that a Tracker calls. */
export interface BrowserAnalytics {
  track(event: string, properties?: Record<string, any>, options?: Record<string, any>): unknown;
  identify(userId?: string | undefined, traits?: Record<string, any>, options?: Record<string, any>): unknown;
  group(groupId: string, traits?: Record<string, any>, options?: Record<string, any>): unknown;
  page(category?: string | undefined, name?: string | undefined, properties?: Record<string, any>, options?: Record<string, any>): unknown;
}

/** How a Tracker hands its calls to a library; forNode and forBrowser make one. */
export interface Sender {
  track(event: string, properties: Record<string, unknown>, options: unknown): void;
  identify(traits: Record<string, unknown>, options: unknown): void;
  group(groupId: string, traits: Record<string, unknown>, options: unknown): void;
  page(name: string | undefined, properties: Record<string, unknown>, options: unknown): void;
  screen(name: string | undefined, properties: Record<string, unknown>, options: unknown): void;
}
`

const tsValidationPrelude = `
/** A value the plan does not allow that the types could not rule out, found by runtime validation. The call is sent all the same. */
export type Violation = {
  /** The event, or identify / group. */
  event: string;
  /** The property's path in the plan, e.g. products[].price. */
  property: string;
  /** What the plan expects: "pattern …", ">= n", "<= n" or "integer". */
  expected: string;
  /** The value sent. */
  value: unknown;
};

/** Settings of a Tracker. */
export type Settings = {
  /** Called for each value that breaks a rule of the plan the types cannot express (patterns, ranges, integers). */
  onViolation?: (violation: Violation) => void;
};
`

// tsPatternPrelude compiles the patterns of the rules.
const tsPatternPrelude = `
function re(source: string): RegExp | undefined {
  try {
    return new RegExp(source);
  } catch (e) {
    return undefined; // a pattern JavaScript cannot read is not checked
  }
}
`

// tsRulesPrelude checks the rules.
const tsRulesPrelude = `
type Rule = { path: readonly string[]; name: string; pattern?: RegExp | undefined; min?: number; max?: number; integer?: boolean };

function valuesAt(value: unknown, path: readonly string[]): unknown[] {
  let values: unknown[] = [value];
  for (const step of path) {
    const next: unknown[] = [];
    for (const v of values) {
      if (step === "[]") {
        if (Array.isArray(v)) next.push(...v);
      } else if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date)) {
        const o = v as Record<string, unknown>;
        if (Object.prototype.hasOwnProperty.call(o, step)) next.push(o[step]);
      }
    }
    values = next;
  }
  return values;
}

function check(event: string, rules: readonly Rule[], payload: Record<string, unknown>, onViolation: (violation: Violation) => void): void {
  for (const r of rules) {
    for (const value of valuesAt(payload, r.path)) {
      const report = (expected: string) => onViolation({ event, property: r.name, expected, value });
      if (typeof value === "number") {
        if (r.integer && !Number.isInteger(value)) report("integer");
        if (r.min !== undefined && value < r.min) report(">= " + r.min);
        if (r.max !== undefined && value > r.max) report("<= " + r.max);
      }
      if (r.pattern !== undefined) {
        const s = value instanceof Date ? value.toISOString() : value;
        if (typeof s === "string" && !r.pattern.test(s)) report("pattern " + r.pattern.source);
      }
    }
  }
}
`

const tsNoValidationPrelude = `
/** Settings of a Tracker (none yet: generate with --runtime-validation for an onViolation handler). */
export type Settings = Record<string, never>;
`

// tsPagePrelude is the name of a page or screen call.
const tsPagePrelude = `
function pageName(properties: Record<string, unknown>): string | undefined {
  return typeof properties["name"] === "string" ? properties["name"] : undefined;
}
`

const tsTrackerPrelude = `
/** Returns a Tracker sending through an @segment/analytics-node Analytics instance. Every call names its user with a userId or an anonymousId. */
export function forNode(analytics: NodeAnalytics, settings: Settings = {}): Tracker<NodeOptions> {
  const opts = (o: unknown) => o as NodeOptions;
  return new Tracker<NodeOptions>(
    {
      track: (event, properties, o) => analytics.track({ ...opts(o), event, properties }),
      identify: (traits, o) => analytics.identify({ ...opts(o), traits }),
      group: (groupId, traits, o) => analytics.group({ ...opts(o), groupId, traits }),
      page: (name, properties, o) => analytics.page({ ...opts(o), name, properties }),
      screen: (name, properties, o) => analytics.screen({ ...opts(o), name, properties }),
    },
    settings,
  );
}

/** Returns a Tracker sending through an @segment/analytics-next instance (analytics.js). Screen calls are for server and mobile libraries and cannot be sent through it. */
export function forBrowser(analytics: BrowserAnalytics, settings: Settings = {}): Tracker<BrowserOptions | void> {
  const split = (o: unknown) => {
    const { userId, ...rest } = (o ?? {}) as BrowserOptions;
    return { userId, rest };
  };
  return new Tracker<BrowserOptions | void>(
    {
      track: (event, properties, o) => void analytics.track(event, properties, split(o).rest),
      identify: (traits, o) => {
        const { userId, rest } = split(o);
        void analytics.identify(userId, traits, rest);
      },
      group: (groupId, traits, o) => void analytics.group(groupId, traits, split(o).rest),
      page: (name, properties, o) => void analytics.page(undefined, name, properties, split(o).rest),
      screen: () => {
        throw new Error("screen calls cannot be sent through analytics.js");
      },
    },
    settings,
  );
}
`

// tsGen writes one TypeScript module.
type tsGen struct {
	b          bytes.Buffer
	o          Options
	indent     int
	values     *namer // module-level values (rules)
	types      *namer // module-level types
	methods    *namer // Tracker members
	validation bool
}

// generateTypeScript returns the module and the Tracker's method of each
// call.
func generateTypeScript(calls []*call, o Options) ([]byte, map[*call]string) {
	g := &tsGen{
		o:          o,
		validation: o.RuntimeValidation,
		values:     newNamer("re", "valuesAt", "check", "pageName", "forNode", "forBrowser", "Tracker"),
		types: newNamer("MessageOptions", "Identity", "NodeOptions", "BrowserOptions", "NodeAnalytics",
			"BrowserAnalytics", "Sender", "Tracker", "Violation", "Settings", "Rule"),
		methods: newNamer("constructor", "sender", "settings", "identify", "group"),
	}
	g.b.WriteString(tsPrelude)
	var anyRules, anyPattern, anyPage bool
	for _, c := range calls {
		if c.kind == trackplan.Page || c.kind == trackplan.Screen {
			anyPage = true
		}
		for _, r := range c.rules(true) {
			anyRules = true
			anyPattern = anyPattern || r.Pattern != ""
		}
	}
	if g.validation {
		g.b.WriteString(tsValidationPrelude)
		if anyPattern {
			g.b.WriteString(tsPatternPrelude)
		}
		if anyRules {
			g.b.WriteString(tsRulesPrelude)
		}
	} else {
		g.b.WriteString(tsNoValidationPrelude)
	}
	if anyPage {
		g.b.WriteString(tsPagePrelude)
	}
	g.b.WriteString(tsTrackerPrelude)

	type method struct {
		c      *call
		name   string
		typ    string
		rules  string
		nrules int
	}
	var ms []method
	for _, c := range calls {
		m := method{c: c}
		switch c.kind {
		case trackplan.Identify:
			m.name, m.typ = "identify", g.types.name("IdentifyTraits", "", "")
		case trackplan.Group:
			m.name, m.typ = "group", g.types.name("GroupTraits", "", "")
		default:
			m.name = g.methods.name(camel(c.event.Name), "event", "event")
			m.typ = g.types.name(pascal(c.event.Name)+"Properties", "EventProperties", "Event")
		}
		ms = append(ms, m)
	}

	// The payload types.
	for _, m := range ms {
		g.line("")
		g.doc(append([]string{fmt.Sprintf("The %s of %s.", payloadWord(m.c), tsQuote(m.c.label()))}, ""), false)
		g.b.WriteString("export type " + m.typ + " = ")
		g.objectType(m.c.root)
		g.b.WriteString(";\n")
	}

	// The rules.
	if g.validation {
		for i := range ms {
			rules := ms[i].c.rules(true)
			if len(rules) == 0 {
				continue
			}
			ms[i].rules = g.values.name(ms[i].name+"Rules", "rules", "rules")
			g.line("")
			g.line("const " + ms[i].rules + ": readonly Rule[] = [")
			for _, r := range rules {
				var parts []string
				parts = append(parts, "path: "+tsPath(r.Path), "name: "+tsQuote(r.Path))
				if r.Pattern != "" {
					parts = append(parts, "pattern: re("+tsQuote(r.Pattern)+")")
				}
				if r.Min != nil {
					parts = append(parts, "min: "+formatNumber(*r.Min))
				}
				if r.Max != nil {
					parts = append(parts, "max: "+formatNumber(*r.Max))
				}
				if r.Integer {
					parts = append(parts, "integer: true")
				}
				g.line("  { " + strings.Join(parts, ", ") + " },")
			}
			g.line("];")
		}
	}

	// The tracker.
	g.line("")
	g.doc([]string{
		"Sends the calls of the tracking plan through a Segment library, typed by the plan. Make one with forNode or forBrowser;",
		"O is the options every call takes: who it is about (analytics-node) and its message fields.",
	}, false)
	g.line("export class Tracker<O> {")
	g.indent++
	g.line("constructor(")
	g.line("  private readonly sender: Sender,")
	if g.validation && anyRules {
		g.line("  private readonly settings: Settings = {},")
	} else {
		g.line("  _settings: Settings = {},")
	}
	g.line(") {}")
	for _, m := range ms {
		g.line("")
		c := m.c
		doc := eventDoc(c)
		if len(doc) == 0 {
			doc = []string{fmt.Sprintf("Sends %s.", tsQuote(c.label()))}
		}
		if c.kind == trackplan.Screen {
			doc = append(doc, "", "Screen calls are sent through analytics-node only.")
		}
		g.doc(doc, c.deprecated())
		payload := "properties"
		if c.kind == trackplan.Identify || c.kind == trackplan.Group {
			payload = "traits"
		}
		var params []string
		if c.kind == trackplan.Screen {
			params = append(params, "this: Tracker<NodeOptions>")
		}
		if c.kind == trackplan.Group {
			params = append(params, "groupId: string")
		}
		params = append(params, payload+": "+m.typ)
		opts := "options: O"
		if c.kind == trackplan.Screen {
			opts = "options: NodeOptions"
		}
		params = append(params, opts)
		g.line(m.name + "(" + strings.Join(params, ", ") + "): void {")
		g.indent++
		if m.rules != "" {
			g.line("if (this.settings.onViolation) check(" + tsQuote(c.label()) + ", " + m.rules + ", " + payload + ", this.settings.onViolation);")
		}
		switch c.kind {
		case trackplan.Identify:
			g.line("this.sender.identify(traits, options);")
		case trackplan.Group:
			g.line("this.sender.group(groupId, traits, options);")
		case trackplan.Page:
			g.line("this.sender.page(pageName(properties), properties, options);")
		case trackplan.Screen:
			g.line("this.sender.screen(pageName(properties), properties, options);")
		default:
			g.line("this.sender.track(" + tsQuote(c.event.Name) + ", properties, options);")
		}
		g.indent--
		g.line("}")
	}
	g.indent--
	g.line("}")
	methods := map[*call]string{}
	for _, m := range ms {
		methods[m.c] = m.name
	}
	return g.b.Bytes(), methods
}

func payloadWord(c *call) string {
	switch c.kind {
	case trackplan.Identify:
		return "user traits"
	case trackplan.Group:
		return "account traits"
	}
	return "properties"
}

func (g *tsGen) line(s string) {
	if s != "" {
		g.b.WriteString(strings.Repeat("  ", g.indent))
		g.b.WriteString(s)
	}
	g.b.WriteByte('\n')
}

// doc writes a JSDoc comment at the current indent.
func (g *tsGen) doc(lines []string, deprecated bool) {
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if deprecated {
		if len(lines) > 0 {
			lines = append(lines, "")
		}
		lines = append(lines, "@deprecated The tracking plan marks this event deprecated.")
	}
	if len(lines) == 0 {
		return
	}
	g.line("/**")
	for _, l := range lines {
		l = strings.ReplaceAll(l, "*/", "*\\/")
		if l == "" {
			g.line(" *")
		} else {
			g.line(" * " + l)
		}
	}
	g.line(" */")
}

// objectType writes the object type of n's members, starting at the
// current position and ending without a newline.
func (g *tsGen) objectType(n *node) {
	if len(n.kids) == 0 {
		g.b.WriteString("Record<string, never>")
		return
	}
	g.b.WriteString("{\n")
	g.indent++
	for _, k := range n.kids {
		g.doc(propDoc(k, TypeScript), false)
		opt := "?"
		if k.required {
			opt = ""
		}
		g.b.WriteString(strings.Repeat("  ", g.indent) + tsKey(k.key) + opt + ": ")
		g.valueType(k)
		g.b.WriteString(";\n")
	}
	g.indent--
	g.b.WriteString(strings.Repeat("  ", g.indent) + "}")
}

// valueType writes the type of n's values.
func (g *tsGen) valueType(n *node) {
	nullable := n.declared() && n.nullable && n.typ != trackplan.PropAny
	if enum := n.enum(); len(enum) > 0 {
		var alts []string
		for _, v := range enum {
			if n.numericEnum() {
				alts = append(alts, tsNumber(v))
			} else {
				alts = append(alts, tsQuote(v))
			}
		}
		if nullable {
			alts = append(alts, "null")
		}
		g.b.WriteString(strings.Join(alts, " | "))
		return
	}
	switch n.typ {
	case trackplan.PropString:
		g.b.WriteString("string")
	case trackplan.PropNumber, trackplan.PropInteger:
		g.b.WriteString("number")
	case trackplan.PropBoolean:
		g.b.WriteString("boolean")
	case trackplan.PropDatetime:
		g.b.WriteString("Date")
	case trackplan.PropObject:
		if len(n.kids) == 0 {
			g.b.WriteString("Record<string, unknown>")
		} else {
			g.objectType(n)
		}
	case trackplan.PropArray:
		if n.elem == nil {
			g.b.WriteString("unknown[]")
		} else {
			g.b.WriteString("Array<")
			g.valueType(n.elem)
			g.b.WriteString(">")
		}
	default:
		g.b.WriteString("unknown")
		return
	}
	if nullable {
		g.b.WriteString(" | null")
	}
}

// tsQuote is s as a TypeScript string literal.
func tsQuote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return `""`
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// tsKey is a property key: bare when it is an identifier, quoted when not.
func tsKey(k string) string {
	if k == "" {
		return `""`
	}
	for i, r := range k {
		ok := r == '_' || r == '$' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return tsQuote(k)
		}
	}
	return k
}

// tsNumber is a numeric enum value as a TypeScript literal.
func tsNumber(v string) string {
	f, ok := parseNumber(v)
	if !ok {
		return tsQuote(v)
	}
	if f < 0 {
		return "-" + formatNumber(-f)
	}
	return formatNumber(f)
}

// tsPath is a plan path as the steps the runtime walks.
func tsPath(path string) string {
	steps, err := trackplan.ParsePath(path)
	if err != nil {
		return "[]"
	}
	var parts []string
	for _, s := range steps {
		if s.Elem {
			parts = append(parts, `"[]"`)
		} else {
			parts = append(parts, tsQuote(s.Key))
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
