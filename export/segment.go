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

// SegmentRules returns the Protocols rules of p, in plan order: TRACK, PAGE
// and SCREEN rules keyed by event name, IDENTIFY and GROUP rules without a
// key. Every rule is version 1.
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

// WriteSegmentRules writes SegmentRules(p) as indented JSON,
// {"rules": [...]}, the body of the Public API's rule updates.
func WriteSegmentRules(w io.Writer, p *trackplan.Plan) error {
	rules := SegmentRules(p)
	if rules == nil {
		rules = []SegmentRule{}
	}
	return writeJSON(w, struct {
		Rules []SegmentRule `json:"rules"`
	}{rules})
}
