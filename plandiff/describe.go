package plandiff

import (
	"strings"

	"github.com/trackplan/trackplan"
)

// maxShort bounds, in runes, the free text a change quotes (descriptions).
const maxShort = 80

// short puts s on one line with single spaces and cuts it to maxShort runes.
func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxShort {
		return string(r[:maxShort-1]) + "…"
	}
	return s
}

// describeProperty summarises a property for an addition or a removal:
// "string, required, nullable".
func describeProperty(p *trackplan.Property) string {
	parts := []string{string(p.EffectiveType())}
	if p.Required {
		parts = append(parts, "required")
	} else {
		parts = append(parts, "optional")
	}
	if p.Nullable {
		parts = append(parts, "nullable")
	}
	return strings.Join(parts, ", ")
}

// describeRange renders a property's bounds: "min 0, max 100", "min 0",
// "max 100" or "unbounded".
func describeRange(p *trackplan.Property) string {
	var parts []string
	if p.Min != nil {
		parts = append(parts, "min "+bound(p.Min))
	}
	if p.Max != nil {
		parts = append(parts, "max "+bound(p.Max))
	}
	if len(parts) == 0 {
		return "unbounded"
	}
	return strings.Join(parts, ", ")
}
