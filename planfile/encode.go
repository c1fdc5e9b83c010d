package planfile

import (
	"math"
	"strconv"

	"github.com/trackplan/trackplan"
)

// encodePlan builds the node tree Write renders. Keys come in the order of
// planKeys, eventKeys and propertyKeys; empty values are left out; nil
// entries are skipped.
func encodePlan(p *trackplan.Plan) *node {
	version := trackplan.PlanVersion
	events := &node{kind: sequenceNode}
	if p != nil {
		if p.Version != 0 {
			version = p.Version
		}
		for _, e := range p.Events {
			if e != nil {
				events.items = append(events.items, encodeEvent(e))
			}
		}
	}
	if len(events.items) == 0 {
		events.flow = true // events: []
	}
	m := &node{kind: mappingNode}
	m.set("version", intNode(version))
	m.set("events", events)
	return m
}

func encodeEvent(e *trackplan.Event) *node {
	m := &node{kind: mappingNode}
	m.set("name", strNode(e.Name))
	m.setStr("type", string(e.Type))
	m.setStr("description", e.Description)
	m.setStr("why", e.Why)
	m.setStr("status", string(e.Status))
	m.setStr("owner", e.Owner)
	m.setList("tags", e.Tags, false)
	m.setList("platforms", e.Platforms, false)
	if e.Weight != 0 {
		m.set("weight", intNode(e.Weight))
	}
	props := &node{kind: sequenceNode}
	for _, p := range e.Properties {
		if p != nil {
			props.items = append(props.items, encodeProperty(p))
		}
	}
	if len(props.items) > 0 {
		m.set("properties", props)
	}
	return m
}

func encodeProperty(p *trackplan.Property) *node {
	// Short properties read best on one line: {name: email, type: string}.
	m := &node{kind: mappingNode, flow: p.Description == "" && p.Pattern == ""}
	m.set("name", strNode(p.Name))
	m.setStr("type", string(p.Type))
	m.setBool("required", p.Required)
	m.setBool("nullable", p.Nullable)
	m.setList("enum", p.Enum, p.Type.Numeric())
	m.setStr("pattern", p.Pattern)
	if p.Min != nil {
		m.set("min", floatNode(*p.Min))
	}
	if p.Max != nil {
		m.set("max", floatNode(*p.Max))
	}
	m.setBool("pii", p.PII)
	m.setStr("description", p.Description)
	return m
}

func (m *node) set(key string, v *node) {
	m.keys = append(m.keys, strNode(key))
	m.vals = append(m.vals, v)
}

func (m *node) setStr(key, s string) {
	if s != "" {
		m.set(key, strNode(s))
	}
}

func (m *node) setBool(key string, b bool) {
	if b {
		m.set(key, &node{kind: scalarNode, tag: tagBool, value: "true"})
	}
}

// setList sets a flow-style list of strings; numeric lists values that read
// as numbers without quotes, as the enum of a numeric property reads best.
func (m *node) setList(key string, list []string, numeric bool) {
	if len(list) == 0 {
		return
	}
	seq := &node{kind: sequenceNode, flow: true}
	for _, s := range list {
		n := strNode(s)
		if numeric {
			if _, err := strconv.ParseFloat(s, 64); err == nil && isJSONNumber(s) {
				n.tag = "" // plain: YAML resolves it as a number, JSON writes it bare
			}
		}
		seq.items = append(seq.items, n)
	}
	m.set(key, seq)
}

func strNode(s string) *node { return &node{kind: scalarNode, tag: tagStr, value: s} }

func intNode(i int) *node {
	return &node{kind: scalarNode, tag: tagInt, value: strconv.Itoa(i)}
}

// floatNode writes f the shortest way that reads back the same, without an
// exponent for integral values of ordinary size.
func floatNode(f float64) *node {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return &node{kind: scalarNode, tag: tagInt, value: strconv.FormatFloat(f, 'f', -1, 64)}
	}
	return &node{kind: scalarNode, tag: tagFloat, value: strconv.FormatFloat(f, 'g', -1, 64)}
}
