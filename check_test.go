package trackplan_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/templates"
)

func f64(f float64) *float64 { return &f }

// checkPlan exercises every constraint, nested and array paths included.
func checkPlan() *trackplan.Plan {
	return &trackplan.Plan{Version: 1, Events: []*trackplan.Event{
		{Name: "Report Exported", Type: trackplan.Track, Properties: []*trackplan.Property{
			{Name: "format", Type: trackplan.PropString, Required: true, Enum: []string{"csv", "pdf"}},
			{Name: "row_count", Type: trackplan.PropInteger, Min: f64(0), Max: f64(1000)},
			{Name: "ratio", Type: trackplan.PropNumber},
			{Name: "level", Type: trackplan.PropInteger, Enum: []string{"1", "2", "3"}},
			{Name: "created", Type: trackplan.PropDatetime},
			{Name: "currency", Type: trackplan.PropString, Pattern: `^[A-Z]{3}$`},
			{Name: "note", Type: trackplan.PropString, Nullable: true},
			{Name: "extra", Type: trackplan.PropAny},
			{Name: "meta", Type: trackplan.PropObject},
			{Name: "shared", Type: trackplan.PropBoolean},
			{Name: "products", Type: trackplan.PropArray},
			{Name: "products[].sku", Type: trackplan.PropString, Required: true},
			{Name: "products[].price", Type: trackplan.PropNumber, Min: f64(0)},
			{Name: "address.city", Type: trackplan.PropString, Required: true},
			{Name: "tags", Type: trackplan.PropArray},
			{Name: "tags[]", Type: trackplan.PropString},
		}},
		{Name: "Page Viewed", Type: trackplan.Page, Properties: []*trackplan.Property{
			{Name: "path", Type: trackplan.PropString},
		}},
		{Name: "identify", Type: trackplan.Identify, Properties: []*trackplan.Property{
			{Name: "email", Type: trackplan.PropString, Required: true, Pattern: `@`},
			{Name: "created_at", Type: trackplan.PropDatetime},
		}},
		{Name: "group", Type: trackplan.Group, Properties: []*trackplan.Property{
			{Name: "name", Type: trackplan.PropString, Required: true},
			{Name: "employees", Type: trackplan.PropInteger, Min: f64(0)},
		}},
	}}
}

func track(props map[string]any) *trackplan.Message {
	base := map[string]any{"format": "csv"}
	for k, v := range props {
		if v == deleted {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	return &trackplan.Message{Type: trackplan.Track, Event: "Report Exported", Properties: base}
}

// deleted removes a key from the base properties of track.
var deleted = &struct{}{}

type obj = map[string]any
type arr = []any

func TestCheck(t *testing.T) {
	c := trackplan.NewChecker(checkPlan())
	long := strings.Repeat("x", 70)
	tests := []struct {
		name string
		msg  *trackplan.Message
		want []trackplan.Violation
	}{
		{"clean", track(obj{
			"row_count": 12.0, "ratio": 0.5, "level": 2.0, "created": "2024-03-01T10:00:00Z", "currency": "EUR",
			"note": "x", "extra": obj{"a": 1.0}, "meta": obj{"any": obj{"thing": 1.0}}, "shared": true,
			"products": arr{obj{"sku": "a", "price": 1.5}, obj{"sku": "b"}},
			"address":  obj{"city": "Paris"}, "tags": arr{"a", "b"},
		}), nil},

		// UNPLANNED_EVENT
		{"unplanned track event", &trackplan.Message{Type: trackplan.Track, Event: "Report Deleted"},
			[]trackplan.Violation{{Code: trackplan.UnplannedEvent}}},
		{"page looked up as Page Viewed", &trackplan.Message{Type: trackplan.Page, Name: "Pricing", Properties: obj{"path": "/pricing"}}, nil},
		{"unplanned screen", &trackplan.Message{Type: trackplan.Screen, Name: "Home"},
			[]trackplan.Violation{{Code: trackplan.UnplannedEvent}}},
		{"alias not checked", &trackplan.Message{Type: trackplan.Alias, UserID: "u", PreviousID: "a"}, nil},

		// UNPLANNED_PROPERTY
		{"unplanned property", track(obj{"colour": "red"}),
			[]trackplan.Violation{{Code: trackplan.UnplannedProperty, Path: "colour", Observed: "string"}}},
		{"unplanned parent reported once", track(obj{"foo": obj{"bar": obj{"baz": 1.0}}}),
			[]trackplan.Violation{{Code: trackplan.UnplannedProperty, Path: "foo", Observed: "object"}}},
		{"unplanned nested under undeclared parent", track(obj{"address": obj{"city": "Oslo", "zip": 1.0}}),
			[]trackplan.Violation{{Code: trackplan.UnplannedProperty, Path: "address.zip", Observed: "integer"}}},
		{"unplanned in array elements, once", track(obj{"products": arr{obj{"sku": "a", "name": "x"}, obj{"sku": "b", "name": "y"}}}),
			[]trackplan.Violation{{Code: trackplan.UnplannedProperty, Path: "products[].name", Observed: "string"}}},
		{"object and any cover sub-paths", track(obj{"meta": obj{"a": arr{1.0}}, "extra": obj{"b": obj{}}}), nil},

		// REQUIRED_MISSING
		{"required missing", track(obj{"format": deleted}),
			[]trackplan.Violation{{Code: trackplan.RequiredMissing, Path: "format", Expected: "string", Observed: "missing"}}},
		{"required in array elements", track(obj{"products": arr{obj{"price": 1.0}, obj{}, obj{"sku": "c"}}}),
			[]trackplan.Violation{{Code: trackplan.RequiredMissing, Path: "products[].sku", Expected: "string", Observed: "missing"}}},
		{"required under absent parent is not missing", track(obj{"address": deleted}), nil},
		{"required under present parent", track(obj{"address": obj{}}),
			[]trackplan.Violation{{Code: trackplan.RequiredMissing, Path: "address.city", Expected: "string", Observed: "missing"}}},

		// TYPE_MISMATCH
		{"string for integer", track(obj{"row_count": "12"}),
			[]trackplan.Violation{{Code: trackplan.TypeMismatch, Path: "row_count", Expected: "integer", Observed: "string"}}},
		{"fraction for integer", track(obj{"row_count": 1.5}),
			[]trackplan.Violation{{Code: trackplan.TypeMismatch, Path: "row_count", Expected: "integer", Observed: "number"}}},
		{"1.0 satisfies integer", track(obj{"row_count": 1.0}), nil},
		{"Go ints satisfy integer and number", track(obj{"row_count": 7, "ratio": int64(3)}), nil},
		{"integer satisfies number", track(obj{"ratio": 4.0}), nil},
		{"bool for number", track(obj{"ratio": true}),
			[]trackplan.Violation{{Code: trackplan.TypeMismatch, Path: "ratio", Expected: "number", Observed: "boolean"}}},
		{"not an ISO-8601 datetime", track(obj{"created": "yesterday"}),
			[]trackplan.Violation{{Code: trackplan.TypeMismatch, Path: "created", Expected: "datetime", Observed: "string"}}},
		{"number for datetime", track(obj{"created": 1700000000.0}),
			[]trackplan.Violation{{Code: trackplan.TypeMismatch, Path: "created", Expected: "datetime", Observed: "integer"}}},
		{"object for array, children skipped", track(obj{"products": obj{"sku": 1.0}}),
			[]trackplan.Violation{{Code: trackplan.TypeMismatch, Path: "products", Expected: "array", Observed: "object"}}},
		{"array element type", track(obj{"tags": arr{"a", 2.0, 3.0}}),
			[]trackplan.Violation{{Code: trackplan.TypeMismatch, Path: "tags[]", Expected: "string", Observed: "integer"}}},
		{"undeclared parent must be an object", track(obj{"address": "Paris"}),
			[]trackplan.Violation{{Code: trackplan.TypeMismatch, Path: "address", Expected: "object", Observed: "string"}}},
		{"nested array element field", track(obj{"products": arr{obj{"sku": 5.0}}}),
			[]trackplan.Violation{{Code: trackplan.TypeMismatch, Path: "products[].sku", Expected: "string", Observed: "integer"}}},

		// NULL_NOT_ALLOWED
		{"null not allowed", track(obj{"format": nil}),
			[]trackplan.Violation{{Code: trackplan.NullNotAllowed, Path: "format", Expected: "string", Observed: "null"}}},
		{"nullable, any and undeclared parents accept null", track(obj{"note": nil, "extra": nil, "address": nil}), nil},
		{"null element of an array without declared element type", track(obj{"products": arr{nil}}), nil},
		{"null element of a typed array", track(obj{"tags": arr{nil}}),
			[]trackplan.Violation{{Code: trackplan.NullNotAllowed, Path: "tags[]", Expected: "string", Observed: "null"}}},

		// ENUM_VIOLATION
		{"enum", track(obj{"format": "docx"}),
			[]trackplan.Violation{{Code: trackplan.EnumViolation, Path: "format", Expected: "one of csv, pdf", Observed: "docx"}}},
		{"enum value truncated", track(obj{"format": long}),
			[]trackplan.Violation{{Code: trackplan.EnumViolation, Path: "format", Expected: "one of csv, pdf", Observed: long[:64]}}},
		{"numeric enum takes 2.0", track(obj{"level": 2.0}), nil},
		{"numeric enum", track(obj{"level": 4.0}),
			[]trackplan.Violation{{Code: trackplan.EnumViolation, Path: "level", Expected: "one of 1, 2, 3", Observed: "4"}}},

		// PATTERN_VIOLATION
		{"pattern", track(obj{"currency": "usd"}),
			[]trackplan.Violation{{Code: trackplan.PatternViolation, Path: "currency", Expected: "pattern ^[A-Z]{3}$", Observed: "string"}}},

		// RANGE_VIOLATION
		{"below min", track(obj{"row_count": -1.0}),
			[]trackplan.Violation{{Code: trackplan.RangeViolation, Path: "row_count", Expected: ">= 0", Observed: "< 0"}}},
		{"above max", track(obj{"row_count": 1001.0}),
			[]trackplan.Violation{{Code: trackplan.RangeViolation, Path: "row_count", Expected: "<= 1000", Observed: "> 1000"}}},
		{"bounds are inclusive", track(obj{"row_count": 1000.0}), nil},
		{"range in array elements", track(obj{"products": arr{obj{"sku": "a", "price": -2.0}}}),
			[]trackplan.Violation{{Code: trackplan.RangeViolation, Path: "products[].price", Expected: ">= 0", Observed: "< 0"}}},

		// Several at once, ordered by path then code.
		{"several", track(obj{"format": "docx", "row_count": "x", "zzz": 1.0, "currency": "usd"}), []trackplan.Violation{
			{Code: trackplan.PatternViolation, Path: "currency", Expected: "pattern ^[A-Z]{3}$", Observed: "string"},
			{Code: trackplan.EnumViolation, Path: "format", Expected: "one of csv, pdf", Observed: "docx"},
			{Code: trackplan.TypeMismatch, Path: "row_count", Expected: "integer", Observed: "string"},
			{Code: trackplan.UnplannedProperty, Path: "zzz", Observed: "integer"},
		}},

		// Identify and group traits.
		{"identify clean", &trackplan.Message{Type: trackplan.Identify, Traits: obj{"email": "a@b.c", "created_at": "2024-01-02"}}, nil},
		{"identify traits", &trackplan.Message{Type: trackplan.Identify, Traits: obj{"created_at": 5.0, "nickname": "z"}}, []trackplan.Violation{
			{Code: trackplan.TypeMismatch, Path: "created_at", Expected: "datetime", Observed: "integer"},
			{Code: trackplan.RequiredMissing, Path: "email", Expected: "string", Observed: "missing"},
			{Code: trackplan.UnplannedProperty, Path: "nickname", Observed: "string"},
		}},
		{"identify pattern", &trackplan.Message{Type: trackplan.Identify, Traits: obj{"email": "nobody"}},
			[]trackplan.Violation{{Code: trackplan.PatternViolation, Path: "email", Expected: "pattern @", Observed: "string"}}},
		{"group traits", &trackplan.Message{Type: trackplan.Group, GroupID: "g", Traits: obj{"name": nil, "employees": -3.0}}, []trackplan.Violation{
			{Code: trackplan.RangeViolation, Path: "employees", Expected: ">= 0", Observed: "< 0"},
			{Code: trackplan.NullNotAllowed, Path: "name", Expected: "string", Observed: "null"},
		}},
		{"track properties are not traits", &trackplan.Message{Type: trackplan.Track, Event: "Report Exported",
			Properties: obj{"format": "csv"}, Traits: obj{"whatever": 1.0}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Check(tt.msg)
			if len(tt.want) == 0 {
				tt.want = nil
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckWithoutIdentifyOrGroupEntries(t *testing.T) {
	c := trackplan.NewChecker(&trackplan.Plan{Version: 1, Events: []*trackplan.Event{{Name: "Signed Up"}}})
	for _, m := range []*trackplan.Message{
		{Type: trackplan.Identify, Traits: obj{"anything": 1.0}},
		{Type: trackplan.Group, Traits: obj{"anything": 1.0}},
		{Type: trackplan.Track, Event: "Signed Up"}, // empty type means track
	} {
		if got := c.Check(m); got != nil {
			t.Errorf("Check(%s) = %v, want nil", m.Type, got)
		}
	}
	page := &trackplan.Message{Type: trackplan.Page, Name: "Home"}
	if diff := cmp.Diff([]trackplan.Violation{{Code: trackplan.UnplannedEvent}}, c.Check(page)); diff != "" {
		t.Errorf("page without a Page Viewed entry (-want +got):\n%s", diff)
	}
}

func TestCheckPageViewedAsTrackEntry(t *testing.T) {
	p := &trackplan.Plan{Version: 1, Events: []*trackplan.Event{{Name: "Page Viewed", Type: trackplan.Track}}}
	if got := trackplan.NewChecker(p).Check(&trackplan.Message{Type: trackplan.Page, Name: "x"}); got != nil {
		t.Errorf("Check() = %v, want nil", got)
	}
	if e := p.Lookup(trackplan.Page, trackplan.PageViewed); e != p.Events[0] {
		t.Errorf("Lookup(page) = %v, want the track entry", e)
	}
}

func TestIsISO8601(t *testing.T) {
	for s, want := range map[string]bool{
		"2024-03-01":                    true,
		"2024-03-01T10:00":              true,
		"2024-03-01T10:00:00":           true,
		"2024-03-01T10:00:00Z":          true,
		"2024-03-01t10:00:00z":          true,
		"2024-03-01 10:00:00+02:00":     true,
		"2024-03-01T10:00:00.123456Z":   true,
		"2024-03-01T10:00:00,5+0530":    true,
		"2024-03-01T10:00:00-07":        true,
		"2024-02-29T00:00:00Z":          true,
		"2023-02-29T00:00:00Z":          false,
		"2024-13-01":                    false,
		"2024-04-31":                    false,
		"2024-03-01T24:00:00Z":          false,
		"2024-03-01T10:60:00Z":          false,
		"2024-03-01T10:00:00.Z":         false,
		"2024-03-01T10:00:00+2":         false,
		"2024-03-01T10:00:00+02:0":      false,
		"2024-03-01T10:00:00Zjunk":      false,
		"2024/03/01":                    false,
		"20240301":                      false,
		"yesterday":                     false,
		"":                              false,
		"2024-03-01T":                   false,
		"2024-03-01X10:00":              false,
		"Mon, 02 Jan 2006 15:04:05 MST": false,
	} {
		if got := trackplan.IsISO8601(s); got != want {
			t.Errorf("IsISO8601(%q) = %v, want %v", s, got, want)
		}
	}
}

// benchMessages are realistic messages for the B2B SaaS template: mostly
// clean calls of its busiest events, and a few with drift.
func benchMessages() []*trackplan.Message {
	return []*trackplan.Message{
		{Type: trackplan.Track, Event: "Report Exported", Properties: obj{"report_id": "rep_8f3a", "format": "pdf", "row_count": 1240.0}},
		{Type: trackplan.Track, Event: "Dashboard Viewed", Properties: obj{"dashboard_id": "dash_12", "dashboard_name": "Weekly KPIs"}},
		{Type: trackplan.Track, Event: "Feature Used", Properties: obj{"feature_name": "bulk_edit", "feature_category": "reports"}},
		{Type: trackplan.Page, Name: "Reports", Properties: obj{
			"name": "Reports", "path": "/reports", "url": "https://app.example.com/reports",
			"title": "Reports · Example", "referrer": "https://app.example.com/", "search": "",
		}},
		{Type: trackplan.Identify, Traits: obj{
			"email": "ada@example.com", "name": "Ada Lovelace", "first_name": "Ada", "last_name": "Lovelace",
			"created_at": "2024-01-15T09:30:00Z", "role": "admin", "plan": "pro", "title": "CTO",
		}},
		{Type: trackplan.Group, GroupID: "acme", Traits: obj{
			"name": "Acme Inc", "created_at": "2023-11-02T12:00:00Z", "plan": "enterprise", "status": "active",
			"mrr": 4200.0, "employees": 250.0, "industry": "Software", "website": "https://acme.example",
		}},
		{Type: trackplan.Track, Event: "Subscription Upgraded", Properties: obj{
			"plan_name": "enterprise", "previous_plan_name": "pro", "billing_interval": "annual",
			"seats": 25.0, "mrr": 4200.0, "previous_mrr": 1900.0,
		}},
		{Type: trackplan.Track, Event: "Dashboard Shared", Properties: obj{"dashboard_id": "dash_12", "share_type": "team", "recipient_count": 8.0}},
		// Drift: a wrong enum value and an unplanned property; a wrong type;
		// an unplanned event.
		{Type: trackplan.Track, Event: "Report Exported", Properties: obj{"report_id": "rep_1", "format": "docx", "rows": 3.0}},
		{Type: trackplan.Track, Event: "Comment Added", Properties: obj{"object_type": "report", "mention_count": "2"}},
		{Type: trackplan.Track, Event: "Button Clicked", Properties: obj{"button": "export"}},
	}
}

func BenchmarkCheck(b *testing.B) {
	p, err := templates.Plan(templates.Default)
	if err != nil {
		b.Fatal(err)
	}
	c := trackplan.NewChecker(p)
	msgs := benchMessages()
	b.Run("mix", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			c.Check(msgs[i%len(msgs)])
		}
	})
	for _, bc := range []struct {
		name string
		msg  *trackplan.Message
	}{
		{"track", msgs[0]},
		{"identify", msgs[4]},
		{"group", msgs[5]},
		{"page", msgs[3]},
		{"violations", msgs[8]},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.Check(bc.msg)
			}
		})
	}
}

func BenchmarkNewChecker(b *testing.B) {
	p, err := templates.Plan(templates.Default)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		trackplan.NewChecker(p)
	}
}

func TestBenchMessagesAgainstTemplate(t *testing.T) {
	p, err := templates.Plan(templates.Default)
	if err != nil {
		t.Fatal(err)
	}
	c := trackplan.NewChecker(p)
	msgs := benchMessages()
	for i, m := range msgs[:8] {
		if got := c.Check(m); got != nil {
			t.Errorf("message %d (%s %s): unexpected violations %v", i, m.Type, m.EventName(), got)
		}
	}
	want := [][]trackplan.Violation{
		{
			{Code: trackplan.EnumViolation, Path: "format", Expected: "one of csv, pdf, xlsx", Observed: "docx"},
			{Code: trackplan.UnplannedProperty, Path: "rows", Observed: "integer"},
		},
		{{Code: trackplan.TypeMismatch, Path: "mention_count", Expected: "integer", Observed: "string"}},
		{{Code: trackplan.UnplannedEvent}},
	}
	for i, m := range msgs[8:] {
		if diff := cmp.Diff(want[i], c.Check(m)); diff != "" {
			t.Errorf("drift message %d (-want +got):\n%s", i, diff)
		}
	}
}
