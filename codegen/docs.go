package codegen

import (
	"fmt"
	"strings"

	"github.com/trackplan/trackplan"
)

// paragraphs splits a plan text into its lines, trimmed, blank lines
// between paragraphs kept once.
func paragraphs(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		l = strings.TrimSpace(l)
		if l == "" && (len(out) == 0 || out[len(out)-1] == "") {
			continue
		}
		out = append(out, l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// eventDoc is the documentation of a call from the plan: its description,
// why, owner and tags, as paragraphs (an empty string between them).
func eventDoc(c *call) []string {
	e := c.event
	var out []string
	para := func(lines ...string) {
		if len(lines) == 0 {
			return
		}
		if len(out) > 0 {
			out = append(out, "")
		}
		out = append(out, lines...)
	}
	para(paragraphs(e.Description)...)
	if why := paragraphs(e.Why); len(why) > 0 {
		why[0] = "Why: " + why[0]
		para(why...)
	}
	var facts []string
	if e.Owner != "" {
		facts = append(facts, "Owner: "+oneLine(e.Owner)+".")
	}
	if e.Status != "" {
		facts = append(facts, "Status: "+string(e.Status)+".")
	}
	if len(e.Platforms) > 0 {
		facts = append(facts, "Platforms: "+oneLine(strings.Join(e.Platforms, ", "))+".")
	}
	if len(facts) > 0 {
		para(strings.Join(facts, " "))
	}
	return out
}

// propDoc is the documentation of a property from the plan: its
// description and the constraints its type does not show.
func propDoc(n *node, lang Lang) []string {
	var out []string
	p := n.prop
	if p == nil {
		return []string{"Not declared in the plan: the parent of the declared properties below it."}
	}
	out = append(out, paragraphs(p.Description)...)
	var facts []string
	switch n.typ {
	case trackplan.PropInteger:
		if lang == TypeScript && len(p.Enum) == 0 {
			facts = append(facts, "An integer.")
		}
	case trackplan.PropDatetime:
		facts = append(facts, "Sent as an ISO-8601 date-time.")
	}
	if len(p.Enum) > 0 {
		facts = append(facts, "Allowed values: "+oneLine(strings.Join(p.Enum, ", "))+".")
	}
	if p.Pattern != "" {
		facts = append(facts, fmt.Sprintf("Must match %s.", oneLine(p.Pattern)))
	}
	switch {
	case p.Min != nil && p.Max != nil:
		facts = append(facts, fmt.Sprintf("Between %s and %s.", formatNumber(*p.Min), formatNumber(*p.Max)))
	case p.Min != nil:
		facts = append(facts, fmt.Sprintf("At least %s.", formatNumber(*p.Min)))
	case p.Max != nil:
		facts = append(facts, fmt.Sprintf("At most %s.", formatNumber(*p.Max)))
	}
	if p.PII {
		facts = append(facts, "Personal data.")
	}
	if len(facts) > 0 {
		if len(out) > 0 {
			out = append(out, "")
		}
		out = append(out, strings.Join(facts, " "))
	}
	return out
}

// deprecated reports whether the plan marks the call's event deprecated.
func (c *call) deprecated() bool { return c.event.Status == trackplan.StatusDeprecated }

// label names the call in doc comments and errors: the event's name, or
// identify / group.
func (c *call) label() string {
	switch c.kind {
	case trackplan.Identify, trackplan.Group:
		return string(c.kind)
	}
	return c.event.Name
}
