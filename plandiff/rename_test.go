package plandiff_test

import (
	"slices"
	"testing"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/plandiff"
)

// TestEventRenames checks which removed and added events are taken as a
// rename or a call type change.
func TestEventRenames(t *testing.T) {
	type ev = trackplan.Event
	p := func(es ...*ev) *trackplan.Plan { return &trackplan.Plan{Events: es} }
	props := func() []*prop { return []*prop{{Name: "a", Type: "string"}, {Name: "b", Type: "integer"}} }
	for _, tc := range []struct {
		name     string
		old, new *trackplan.Plan
		want     []string // "event kind", "!" after breaking ones
	}{
		{"same properties and types", p(&ev{Name: "Old", Properties: props()}), p(&ev{Name: "New", Properties: props()}),
			[]string{"New event_renamed!"}},
		{"properties in another order, constraints changed",
			p(&ev{Name: "Old", Properties: props()}),
			p(&ev{Name: "New", Properties: []*prop{{Name: "b", Type: "integer", Required: true}, {Name: "a", Type: "string"}}}),
			[]string{"New event_renamed!", "New property_made_required!"}},
		{"not a rename: no properties", p(&ev{Name: "Old"}), p(&ev{Name: "New"}),
			[]string{"New event_added", "Old event_removed!"}},
		{"not a rename: another call type", p(&ev{Name: "Old", Properties: props()}),
			p(&ev{Name: "New", Type: "page", Properties: props()}),
			[]string{"New event_added", "Old event_removed!"}},
		{"not a rename: a type differs", p(&ev{Name: "Old", Properties: props()}),
			p(&ev{Name: "New", Properties: []*prop{{Name: "a", Type: "string"}, {Name: "b", Type: "number"}}}),
			[]string{"New event_added", "Old event_removed!"}},
		{"not a rename: a property more", p(&ev{Name: "Old", Properties: props()}),
			p(&ev{Name: "New", Properties: append(props(), &prop{Name: "c"})}),
			[]string{"New event_added", "Old event_removed!"}},
		{"not a rename: ambiguous", p(&ev{Name: "Old 1", Properties: props()}, &ev{Name: "Old 2", Properties: props()}),
			p(&ev{Name: "New", Properties: props()}),
			[]string{"New event_added", "Old 1 event_removed!", "Old 2 event_removed!"}},
		{"not a type change: ambiguous", p(&ev{Name: "E", Type: "page"}, &ev{Name: "E", Type: "screen"}),
			p(&ev{Name: "E"}),
			[]string{"E event_removed!", "E event_removed!", "E event_added"}}, // page, screen, track
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range plandiff.Diff(tc.old, tc.new).Changes {
				s := c.Event + " " + string(c.Kind)
				if c.Breaking {
					s += "!"
				}
				got = append(got, s)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPropertyRenames checks which removed and added properties of one
// event are taken as a rename.
func TestPropertyRenames(t *testing.T) {
	described := func(name string) *prop {
		return &prop{Name: name, Type: "number", Min: num(0), Enum: []string{"1", "2"}, Description: "Discount in percent"}
	}
	for _, tc := range []struct {
		name     string
		old, new []*prop
		want     []string
	}{
		{"same everything", []*prop{described("discount")}, []*prop{described("discount_pct")},
			[]string{"discount_pct property_renamed!"}},
		{"enum in another order", []*prop{described("discount")},
			[]*prop{func() *prop { p := described("discount_pct"); p.Enum = []string{"2", "1"}; return p }()},
			[]string{"discount_pct property_renamed!"}},
		{"not a rename: no description", []*prop{{Name: "a", Type: "string"}}, []*prop{{Name: "b", Type: "string"}},
			[]string{"a property_removed!", "b property_added"}},
		{"not a rename: required differs", []*prop{described("discount")},
			[]*prop{func() *prop { p := described("discount_pct"); p.Required = true; return p }()},
			[]string{"discount property_removed!", "discount_pct property_added!"}},
		{"not a rename: description differs", []*prop{described("discount")},
			[]*prop{func() *prop { p := described("discount_pct"); p.Description = "Discount"; return p }()},
			[]string{"discount property_removed!", "discount_pct property_added"}},
		{"not a rename: ambiguous", []*prop{described("discount")},
			[]*prop{described("discount_pct"), described("discount_rate")},
			[]string{"discount property_removed!", "discount_pct property_added", "discount_rate property_added"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := kinds(plandiff.Diff(track(tc.old...), track(tc.new...)))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			for _, c := range plandiff.Diff(track(tc.old...), track(tc.new...)).Changes {
				if c.Kind == plandiff.PropertyRenamed && (c.Before != tc.old[0].Name || c.After != c.Property) {
					t.Errorf("rename %q → %q of property %q", c.Before, c.After, c.Property)
				}
			}
		})
	}
}
