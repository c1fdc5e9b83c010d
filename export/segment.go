package export

import (
	"io"
	"strings"

	"github.com/trackplan/trackplan"
)

// SegmentRule is one rule of a Segment Protocols tracking plan, in the shape
// the Segment Public API reads and returns: the event name as key (empty for
// identify and group rules), the rule type, a version and the rule's JSON
// Schema with its properties.properties / properties.traits wrapper.
type SegmentRule struct {
	Key        string  `json:"key,omitempty"`
	Type       string  `json:"type"`
	Version    int     `json:"version"`
	JSONSchema *Schema `json:"jsonSchema"`
}

// SegmentPlan is a Segment tracking plan as the Public API returns it and
// as Typewriter keeps it in plan.json: an id, a name and the rules.
type SegmentPlan struct {
	ID    string        `json:"id"`
	Name  string        `json:"name"`
	Rules []SegmentRule `json:"rules"`
}

// SegmentRules returns the Protocols rules of p, in plan order: TRACK, PAGE
// and SCREEN rules keyed by event name, IDENTIFY and GROUP rules without a
// key. Every rule is version 1. Deprecated events are exported, their
// schema marked "deprecated": true (Protocols and Typewriter ignore the
// annotation); proposed and planned events are exported like the others.
func SegmentRules(p *trackplan.Plan) []SegmentRule {
	var out []SegmentRule
	for _, e := range events(p) {
		r := SegmentRule{Type: strings.ToUpper(string(e.CallType())), Version: 1, JSONSchema: eventSchema(e)}
		switch e.CallType() {
		case trackplan.Identify, trackplan.Group:
		default:
			r.Key = e.Name
		}
		out = append(out, r)
	}
	return out
}

// WriteSegmentRules writes p as a Segment tracking plan in indented JSON,
// {"id": ..., "name": ..., "rules": [...]}: the shape of the Public API's
// tracking plan with its rules, which Typewriter reads as plan.json. name
// is the plan's name ("Tracking Plan" when empty); the id is its
// snake_case form, which a typewriter.yml names to build from the file.
func WriteSegmentRules(w io.Writer, p *trackplan.Plan, name string) error {
	rules := SegmentRules(p)
	if rules == nil {
		rules = []SegmentRule{}
	}
	if strings.TrimSpace(name) == "" {
		name = "Tracking Plan"
	}
	return writeJSON(w, SegmentPlan{ID: snakeID(name), Name: name, Rules: rules})
}
