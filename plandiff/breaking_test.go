package plandiff_test

import (
	"slices"
	"testing"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/plandiff"
)

func num(v float64) *float64 { return &v }

// track is a plan with one track event "E" holding props.
func track(props ...*trackplan.Property) *trackplan.Plan {
	return &trackplan.Plan{Events: []*trackplan.Event{{Name: "E", Properties: props}}}
}

// kinds renders a diff as "path kind" strings, "!" after breaking ones,
// in the diff's order.
func kinds(d *plandiff.Result) []string {
	out := []string{}
	for _, c := range d.Changes {
		s := string(c.Kind)
		if c.Property != "" {
			s = c.Property + " " + s
		}
		if c.Breaking {
			s += "!"
		}
		out = append(out, s)
	}
	return out
}

type prop = trackplan.Property

// TestPropertyBreaking checks the breaking classification of property
// changes.
func TestPropertyBreaking(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new []*prop
		want     []string
	}{
		{"any to a concrete type", []*prop{{Name: "p"}}, []*prop{{Name: "p", Type: "string"}},
			[]string{"p nullable_removed!", "p property_type_changed!"}},
		{"a concrete type to any", []*prop{{Name: "p", Type: "string"}}, []*prop{{Name: "p", Type: "any"}},
			[]string{"p nullable_added", "p property_type_changed"}},
		{"empty type is any", []*prop{{Name: "p"}}, []*prop{{Name: "p", Type: "any"}}, []string{}},
		{"integer to number", []*prop{{Name: "p", Type: "integer"}}, []*prop{{Name: "p", Type: "number"}},
			[]string{"p property_type_changed"}},
		{"number to integer", []*prop{{Name: "p", Type: "number"}}, []*prop{{Name: "p", Type: "integer"}},
			[]string{"p property_type_changed!"}},
		{"datetime to string", []*prop{{Name: "p", Type: "datetime"}}, []*prop{{Name: "p", Type: "string"}},
			[]string{"p property_type_changed"}},
		{"string to datetime", []*prop{{Name: "p", Type: "string"}}, []*prop{{Name: "p", Type: "datetime"}},
			[]string{"p property_type_changed!"}},
		{"boolean to string", []*prop{{Name: "p", Type: "boolean"}}, []*prop{{Name: "p", Type: "string"}},
			[]string{"p property_type_changed!"}},
		{"made required", []*prop{{Name: "p"}}, []*prop{{Name: "p", Required: true}},
			[]string{"p property_made_required!"}},
		{"made optional", []*prop{{Name: "p", Required: true}}, []*prop{{Name: "p"}},
			[]string{"p property_made_optional"}},
		{"required array elements are not checked", []*prop{{Name: "a", Type: "array"}, {Name: "a[]", Type: "string"}},
			[]*prop{{Name: "a", Type: "array"}, {Name: "a[]", Type: "string", Required: true}},
			[]string{"a[] property_made_required"}},
		{"nullable added", []*prop{{Name: "p", Type: "string"}}, []*prop{{Name: "p", Type: "string", Nullable: true}},
			[]string{"p nullable_added"}},
		{"nullable removed", []*prop{{Name: "p", Type: "string", Nullable: true}}, []*prop{{Name: "p", Type: "string"}},
			[]string{"p nullable_removed!"}},
		{"any is always nullable", []*prop{{Name: "p", Nullable: true}}, []*prop{{Name: "p"}}, []string{}},
		{"enum values added", []*prop{{Name: "p", Enum: []string{"a"}}}, []*prop{{Name: "p", Enum: []string{"a", "b"}}},
			[]string{"p enum_values_added"}},
		{"enum values removed", []*prop{{Name: "p", Enum: []string{"a", "b"}}}, []*prop{{Name: "p", Enum: []string{"b"}}},
			[]string{"p enum_values_removed!"}},
		{"enum values replaced", []*prop{{Name: "p", Enum: []string{"a"}}}, []*prop{{Name: "p", Enum: []string{"b"}}},
			[]string{"p enum_values_added", "p enum_values_removed!"}},
		{"enum reordered", []*prop{{Name: "p", Enum: []string{"a", "b"}}}, []*prop{{Name: "p", Enum: []string{"b", "a"}}},
			[]string{}},
		{"numeric enum values compare as numbers", []*prop{{Name: "p", Type: "integer", Enum: []string{"1", "2"}}},
			[]*prop{{Name: "p", Type: "number", Enum: []string{"1.0", "2"}}}, []string{"p property_type_changed"}},
		{"enum added", []*prop{{Name: "p"}}, []*prop{{Name: "p", Enum: []string{"a"}}}, []string{"p enum_added!"}},
		{"enum dropped", []*prop{{Name: "p", Enum: []string{"a"}}}, []*prop{{Name: "p"}}, []string{"p enum_removed"}},
		{"pattern added", []*prop{{Name: "p"}}, []*prop{{Name: "p", Pattern: "^a"}}, []string{"p pattern_added!"}},
		{"pattern changed", []*prop{{Name: "p", Pattern: "^a"}}, []*prop{{Name: "p", Pattern: "^a|^b"}},
			[]string{"p pattern_changed!"}},
		{"pattern removed", []*prop{{Name: "p", Pattern: "^a"}}, []*prop{{Name: "p"}}, []string{"p pattern_removed"}},
		{"min added", []*prop{{Name: "p", Type: "number"}}, []*prop{{Name: "p", Type: "number", Min: num(0)}},
			[]string{"p range_narrowed!"}},
		{"min raised", []*prop{{Name: "p", Type: "number", Min: num(0)}}, []*prop{{Name: "p", Type: "number", Min: num(1)}},
			[]string{"p range_narrowed!"}},
		{"min lowered", []*prop{{Name: "p", Type: "number", Min: num(1)}}, []*prop{{Name: "p", Type: "number", Min: num(0)}},
			[]string{"p range_widened"}},
		{"max removed", []*prop{{Name: "p", Type: "number", Max: num(1)}}, []*prop{{Name: "p", Type: "number"}},
			[]string{"p range_widened"}},
		{"max lowered", []*prop{{Name: "p", Type: "number", Max: num(9)}}, []*prop{{Name: "p", Type: "number", Max: num(5)}},
			[]string{"p range_narrowed!"}},
		{"range moved", []*prop{{Name: "p", Type: "number", Min: num(0), Max: num(5)}},
			[]*prop{{Name: "p", Type: "number", Min: num(1), Max: num(9)}}, []string{"p range_narrowed!"}},
		{"same bounds", []*prop{{Name: "p", Type: "number", Min: num(0)}}, []*prop{{Name: "p", Type: "number", Min: num(0)}},
			[]string{}},
		{"metadata", []*prop{{Name: "p", Description: "a"}}, []*prop{{Name: "p", Description: "b", PII: true}},
			[]string{"p property_metadata_changed", "p property_metadata_changed"}},
		{"optional property added", nil, []*prop{{Name: "p"}}, []string{"p property_added"}},
		{"required property added", nil, []*prop{{Name: "p", Required: true}}, []string{"p property_added!"}},
		{"property removed", []*prop{{Name: "p"}}, nil, []string{"p property_removed!"}},
		{"removed under an any", []*prop{{Name: "m"}, {Name: "m.a", Type: "string"}}, []*prop{{Name: "m"}},
			[]string{"m.a property_removed"}},
		{"removed, leaving its object open", []*prop{{Name: "m", Type: "object"}, {Name: "m.a"}}, []*prop{{Name: "m", Type: "object"}},
			[]string{"m.a property_removed"}},
		{"removed from a closed object", []*prop{{Name: "m", Type: "object"}, {Name: "m.a"}, {Name: "m.b"}},
			[]*prop{{Name: "m", Type: "object"}, {Name: "m.b"}}, []string{"m.a property_removed!"}},
		{"object removed, members kept", []*prop{{Name: "m", Type: "object"}, {Name: "m.a"}}, []*prop{{Name: "m.a"}},
			[]string{"m property_removed"}},
		{"any removed, members kept", []*prop{{Name: "m"}, {Name: "m.a"}}, []*prop{{Name: "m.a"}},
			[]string{"m property_removed!"}},
		{"added to an open object", []*prop{{Name: "m", Type: "object"}}, []*prop{{Name: "m", Type: "object"}, {Name: "m.a"}},
			[]string{"m.a property_added!"}},
		{"added to an open array", []*prop{{Name: "m", Type: "array"}}, []*prop{{Name: "m", Type: "array"}, {Name: "m[].a", Type: "string"}},
			[]string{"m[].a property_added!"}},
		{"added to a closed object", []*prop{{Name: "m", Type: "object"}, {Name: "m.a"}},
			[]*prop{{Name: "m", Type: "object"}, {Name: "m.a"}, {Name: "m.b"}}, []string{"m.b property_added"}},
		{"an any added under an any", []*prop{{Name: "m"}}, []*prop{{Name: "m"}, {Name: "m.a"}},
			[]string{"m.a property_added"}},
		{"a string added under an any", []*prop{{Name: "m"}}, []*prop{{Name: "m"}, {Name: "m.a", Type: "string"}},
			[]string{"m.a property_added!"}},
		{"parent declared, not nullable", []*prop{{Name: "m.a"}}, []*prop{{Name: "m", Type: "object"}, {Name: "m.a"}},
			[]string{"m property_added!"}},
		{"parent declared, nullable", []*prop{{Name: "m.a"}}, []*prop{{Name: "m", Type: "object", Nullable: true}, {Name: "m.a"}},
			[]string{"m property_added"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := kinds(plandiff.Diff(track(tc.old...), track(tc.new...)))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEventBreaking checks the breaking classification of event changes.
func TestEventBreaking(t *testing.T) {
	type ev = trackplan.Event
	p := func(es ...*ev) *trackplan.Plan { return &trackplan.Plan{Events: es} }
	for _, tc := range []struct {
		name     string
		old, new *trackplan.Plan
		want     []string
	}{
		{"track event added", p(), p(&ev{Name: "E"}), []string{"event_added"}},
		{"track event removed", p(&ev{Name: "E"}), p(), []string{"event_removed!"}},
		{"identify entry added", p(), p(&ev{Name: "I", Type: "identify"}), []string{"event_added!"}},
		{"group entry removed", p(&ev{Name: "G", Type: "group"}), p(), []string{"event_removed"}},
		{"identify entry renamed", p(&ev{Name: "A", Type: "identify"}), p(&ev{Name: "B", Type: "identify"}),
			[]string{"event_metadata_changed"}},
		{"deprecated", p(&ev{Name: "E", Status: "live"}), p(&ev{Name: "E", Status: "deprecated"}), []string{"event_status_changed!"}},
		{"undeprecated", p(&ev{Name: "E", Status: "deprecated"}), p(&ev{Name: "E", Status: "live"}), []string{"event_status_changed"}},
		{"status set", p(&ev{Name: "E"}), p(&ev{Name: "E", Status: "planned"}), []string{"event_status_changed"}},
		{"page to track", p(&ev{Name: "E", Type: "page"}), p(&ev{Name: "E"}), []string{"event_type_changed"}},
		{"screen to track", p(&ev{Name: "E", Type: "screen"}), p(&ev{Name: "E", Type: "track"}), []string{"event_type_changed"}},
		{"track to page", p(&ev{Name: "E"}), p(&ev{Name: "E", Type: "page"}), []string{"event_type_changed!"}},
		{"page to screen", p(&ev{Name: "E", Type: "page"}), p(&ev{Name: "E", Type: "screen"}), []string{"event_type_changed!"}},
		{"tags reordered", p(&ev{Name: "E", Tags: []string{"a", "b"}}), p(&ev{Name: "E", Tags: []string{"b", "a"}}), []string{}},
		{"metadata", p(&ev{Name: "E", Owner: "a", Weight: 1}), p(&ev{Name: "E", Owner: "b", Weight: 2}),
			[]string{"event_metadata_changed", "event_metadata_changed"}},
		{"type change with property changes", p(&ev{Name: "E", Type: "page", Properties: []*prop{{Name: "p"}}}),
			p(&ev{Name: "E", Properties: []*prop{{Name: "p", Required: true}}}),
			[]string{"event_type_changed", "p property_made_required!"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := kinds(plandiff.Diff(tc.old, tc.new))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
