package trackplan_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
)

func TestValidate(t *testing.T) {
	ev := func(name string, typ trackplan.CallType, props ...*trackplan.Property) *trackplan.Event {
		return &trackplan.Event{Name: name, Type: typ, Properties: props}
	}
	prop := func(name string, typ trackplan.PropertyType) *trackplan.Property {
		return &trackplan.Property{Name: name, Type: typ}
	}
	with := func(p *trackplan.Property, f func(*trackplan.Property)) *trackplan.Property { f(p); return p }

	tests := []struct {
		name   string
		events []*trackplan.Event
		// want maps each problem's field to a part of its message.
		want map[string]string
	}{
		{"valid", []*trackplan.Event{
			ev("Report Exported", trackplan.Track,
				with(prop("format", trackplan.PropString), func(p *trackplan.Property) { p.Enum = []string{"csv"}; p.Pattern = "^[a-z]+$" }),
				with(prop("rows", trackplan.PropInteger), func(p *trackplan.Property) { p.Min, p.Max = f64(0), f64(10); p.Enum = []string{"1", "2"} }),
				prop("products", trackplan.PropArray),
				prop("products[].sku", trackplan.PropString),
				prop("address.city", ""),
				prop("address.zip", trackplan.PropString),
			),
			ev("Signed Up", ""),
			ev("Signed Up", trackplan.Page), // same name, other type
			ev("identify", trackplan.Identify), ev("group", trackplan.Group),
		}, nil},
		{"missing name", []*trackplan.Event{ev("", trackplan.Track), ev("  ", trackplan.Track)},
			map[string]string{"events[0].name": "missing", "events[1].name": "missing"}},
		{"name with spaces around", []*trackplan.Event{ev("Signed Up ", trackplan.Track)},
			map[string]string{"events[0].name": "leading or trailing spaces"}},
		{"unknown type", []*trackplan.Event{ev("A B", "click"), ev("C D", trackplan.Alias)},
			map[string]string{"events[0].type": `unknown call type "click"`, "events[1].type": "alias calls cannot be planned"}},
		{"unknown status", []*trackplan.Event{{Name: "A B", Status: "done"}},
			map[string]string{"events[0].status": `unknown status "done"`}},
		{"weight", []*trackplan.Event{{Name: "A B", Weight: 11}, {Name: "C D", Weight: -1}},
			map[string]string{"events[0].weight": "outside 0–10", "events[1].weight": "outside 0–10"}},
		{"duplicate events per type", []*trackplan.Event{ev("Signed Up", ""), ev("Signed Up", trackplan.Track)},
			map[string]string{"events[1].name": "duplicate track event (also events[0])"}},
		{"two identify and two group entries", []*trackplan.Event{
			ev("identify", trackplan.Identify), ev("users", trackplan.Identify), ev("group", trackplan.Group), ev("accounts", trackplan.Group),
		}, map[string]string{"events[1].type": "more than one identify entry", "events[3].type": "more than one group entry"}},
		{"property name", []*trackplan.Event{ev("A B", "", prop("", trackplan.PropString), prop("a..b", ""), prop("[]x", ""), prop("a[0]", ""))},
			map[string]string{
				"events[0].properties[0].name": "name is missing",
				"events[0].properties[1].name": "empty key",
				"events[0].properties[2].name": "only a trailing []",
				"events[0].properties[3].name": "only a trailing []",
			}},
		{"duplicate property", []*trackplan.Event{ev("A B", "", prop("x", ""), prop("y", ""), prop("x", trackplan.PropString))},
			map[string]string{"events[0].properties[2].name": "duplicate property (also properties[0])"}},
		{"unknown property type", []*trackplan.Event{ev("A B", "", prop("x", "text"))},
			map[string]string{"events[0].properties[0].type": `unknown type "text"`}},
		{"min/max on non-numeric", []*trackplan.Event{ev("A B", "",
			with(prop("at", trackplan.PropDatetime), func(p *trackplan.Property) { p.Min = f64(1) }),
			with(prop("s", trackplan.PropString), func(p *trackplan.Property) { p.Max = f64(1) }),
			with(prop("a", ""), func(p *trackplan.Property) { p.Min = f64(1) }),
		)}, map[string]string{
			"events[0].properties[0].min": "min applies to number and integer properties, not datetime",
			"events[0].properties[1].max": "max applies to number and integer properties, not string",
			"events[0].properties[2].min": "not any",
		}},
		{"min greater than max", []*trackplan.Event{ev("A B", "",
			with(prop("n", trackplan.PropNumber), func(p *trackplan.Property) { p.Min, p.Max = f64(5), f64(1.5) }))},
			map[string]string{"events[0].properties[0].min": "min 5 is greater than max 1.5"}},
		{"invalid pattern", []*trackplan.Event{ev("A B", "",
			with(prop("s", trackplan.PropString), func(p *trackplan.Property) { p.Pattern = "([a-z" }),
			with(prop("n", trackplan.PropNumber), func(p *trackplan.Property) { p.Pattern = "^1$" }))},
			map[string]string{
				"events[0].properties[0].pattern": "invalid regular expression",
				"events[0].properties[1].pattern": "pattern applies to string properties, not number",
			}},
		{"enum on other types", []*trackplan.Event{ev("A B", "",
			with(prop("b", trackplan.PropBoolean), func(p *trackplan.Property) { p.Enum = []string{"true"} }),
			with(prop("d", trackplan.PropDatetime), func(p *trackplan.Property) { p.Enum = []string{"2024-01-01"} }),
			with(prop("o", trackplan.PropObject), func(p *trackplan.Property) { p.Enum = []string{"{}"} }))},
			map[string]string{
				"events[0].properties[0].enum": "not boolean",
				"events[0].properties[1].enum": "not datetime",
				"events[0].properties[2].enum": "not object",
			}},
		{"enum values", []*trackplan.Event{ev("A B", "",
			with(prop("n", trackplan.PropNumber), func(p *trackplan.Property) { p.Enum = []string{"1.5", "x"} }),
			with(prop("i", trackplan.PropInteger), func(p *trackplan.Property) { p.Enum = []string{"1", "1.5", "1"} }))},
			map[string]string{
				"events[0].properties[0].enum[1]": `"x" is not a number`,
				"events[0].properties[1].enum[1]": `"1.5" is not an integer`,
				"events[0].properties[1].enum[2]": `duplicate value "1"`,
			}},
		{"parents must hold their children", []*trackplan.Event{ev("A B", "",
			prop("a", trackplan.PropString), prop("a.b", ""),
			prop("list", trackplan.PropObject), prop("list[].x", ""),
			prop("c.d", ""), prop("c[].e", ""))},
			map[string]string{
				"events[0].properties[1].name": `parent "a" is declared as string, not object`,
				"events[0].properties[3].name": `parent "list" is declared as object, not array`,
				"events[0].properties[5].name": `parent "c" is used both as an object and as an array`,
			}},
		{"nil entries", []*trackplan.Event{nil, {Name: "A B", Properties: []*trackplan.Property{nil}}},
			map[string]string{"events[0]": "empty entry", "events[1].properties[0]": "empty property entry"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := (&trackplan.Plan{Version: 1, Events: tt.events}).Validate()
			got := map[string]string{}
			if err != nil {
				var verr *trackplan.ValidationError
				if !errors.As(err, &verr) {
					t.Fatalf("Validate() = %T %v, want a *ValidationError", err, err)
				}
				for _, p := range verr.Problems {
					got[p.Field] = p.Message
				}
			}
			fields := func(m map[string]string) []string {
				var out []string
				for k := range m {
					out = append(out, k)
				}
				return out
			}
			if diff := cmp.Diff(fields(tt.want), fields(got), sortStrings); diff != "" {
				t.Fatalf("fields with problems (-want +got):\n%s\nerror: %v", diff, err)
			}
			for field, part := range tt.want {
				if !strings.Contains(got[field], part) {
					t.Errorf("%s: message %q does not contain %q", field, got[field], part)
				}
			}
		})
	}
}

var sortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestValidateVersion(t *testing.T) {
	if err := (&trackplan.Plan{}).Validate(); err != nil {
		t.Errorf("version 0: %v", err)
	}
	err := (&trackplan.Plan{Version: 2}).Validate()
	if err == nil || !strings.Contains(err.Error(), "version: unsupported version 2") {
		t.Errorf("version 2: %v", err)
	}
	var p *trackplan.Plan
	if err := p.Validate(); err == nil {
		t.Error("nil plan: no error")
	}
}

func TestValidateMessagesNameTheEntry(t *testing.T) {
	p := &trackplan.Plan{Version: 1, Events: []*trackplan.Event{{Name: "Report Exported", Properties: []*trackplan.Property{
		{Name: "rows", Type: trackplan.PropInteger, Min: f64(3), Max: f64(1)},
	}}}}
	want := `events[0].properties[0].min: event "Report Exported", property "rows": min 3 is greater than max 1`
	if err := p.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %s", err, want)
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		path string
		want []trackplan.PathStep
		err  bool
	}{
		{"sku", []trackplan.PathStep{{Key: "sku"}}, false},
		{"products[].sku", []trackplan.PathStep{{Key: "products"}, {Elem: true}, {Key: "sku"}}, false},
		{"matrix[][]", []trackplan.PathStep{{Key: "matrix"}, {Elem: true}, {Elem: true}}, false},
		{"a.b c.d", []trackplan.PathStep{{Key: "a"}, {Key: "b c"}, {Key: "d"}}, false},
		{"", nil, true},
		{"a.", nil, true},
		{".a", nil, true},
		{"[]", nil, true},
		{"a[1]", nil, true},
		{"a[]b", nil, true},
		{`a\b`, nil, true},
		{`a\.b`, nil, true},
	}
	for _, tt := range tests {
		got, err := trackplan.ParsePath(tt.path)
		if (err != nil) != tt.err {
			t.Errorf("ParsePath(%q) error = %v, want error %v", tt.path, err, tt.err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParsePath(%q) (-want +got):\n%s", tt.path, diff)
		}
	}
	for path, want := range map[string]string{"products[].sku": "products[]", "products[]": "products", "a.b.c": "a.b", "a": ""} {
		got, ok := trackplan.ParentPath(path)
		if got != want || ok != (want != "") {
			t.Errorf("ParentPath(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

func TestLookup(t *testing.T) {
	p := &trackplan.Plan{Events: []*trackplan.Event{
		{Name: "Signed Up"},
		{Name: "Signed Up", Type: trackplan.Screen},
		{Name: "Page Viewed", Type: trackplan.Page},
		{Name: "users", Type: trackplan.Identify},
	}}
	tests := []struct {
		t    trackplan.CallType
		name string
		want *trackplan.Event
	}{
		{trackplan.Track, "Signed Up", p.Events[0]},
		{trackplan.Screen, "Signed Up", p.Events[1]},
		{trackplan.Page, "Page Viewed", p.Events[2]},
		{trackplan.Track, "Page Viewed", nil},
		{trackplan.Identify, "", p.Events[3]},
		{trackplan.Group, "", nil},
		{trackplan.Track, "Nope", nil},
	}
	for _, tt := range tests {
		if got := p.Lookup(tt.t, tt.name); got != tt.want {
			t.Errorf("Lookup(%s, %q) = %v, want %v", tt.t, tt.name, got, tt.want)
		}
	}
}
