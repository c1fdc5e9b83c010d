package trackplan

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestScoreProfileValidate(t *testing.T) {
	valid := func() *Profile {
		return &Profile{Name: "trial", Events: map[string]int{"Report Exported": 10, "Logged In": 1, "Ignored": 0}}
	}
	tests := []struct {
		name   string
		prefix string
		edit   func(p *Profile)
		want   []FieldError
	}{
		{name: "valid", edit: func(p *Profile) {}},
		{name: "weight too high", prefix: "scoring.profiles[1]", edit: func(p *Profile) { p.Events["Report Exported"] = 12 },
			want: []FieldError{{`scoring.profiles[1].events["Report Exported"]`, "weight 12 outside 1–10"}}},
		{name: "negative weight", edit: func(p *Profile) { p.Events["Logged In"] = -1 },
			want: []FieldError{{`events["Logged In"]`, "weight -1 outside 1–10"}}},
		{name: "nothing scored", prefix: "p", edit: func(p *Profile) { p.Events = map[string]int{"A": 0} },
			want: []FieldError{{"p.events", "no event with a weight of 1–10"}}},
		{name: "no name", prefix: "p", edit: func(p *Profile) { p.Name = " " },
			want: []FieldError{{"p.name", "missing"}}},
		{name: "window", prefix: "p", edit: func(p *Profile) { p.WindowDays = -1 },
			want: []FieldError{{"p.window_days", "-1 outside 1–3650"}}},
		{name: "window too long", prefix: "p", edit: func(p *Profile) { p.WindowDays = 3651 },
			want: []FieldError{{"p.window_days", "3651 outside 1–3650"}}},
		{name: "filter", prefix: "p", edit: func(p *Profile) {
			p.Filter = Filter{
				UserTraits:    []TraitCondition{{Trait: "plan", Op: "like", Value: "x"}, {Trait: "", Op: OpExists}},
				AccountTraits: []TraitCondition{{Trait: "mrr", Op: OpGt}, {Trait: "tier", Op: OpExists, Value: "x"}},
				Did:           []EventCondition{{Event: "", WithinDays: -1}},
				SignedUp:      &SignupRange{WithinDays: 30, OlderThanDays: 30},
			}
		}, want: []FieldError{
			{"p.filter.user_traits[0].op", `unknown operator "like" (want exists, not_exists, eq, ne, gt, gte, lt or lte)`},
			{"p.filter.user_traits[1].trait", "missing"},
			{"p.filter.account_traits[0].value", "missing for gt"},
			{"p.filter.account_traits[1].value", "not allowed with exists"},
			{"p.filter.did[0].event", "missing"},
			{"p.filter.did[0].within_days", "-1 is negative"},
			{"p.filter.signed_up", "older_than_days 30 not below within_days 30"},
		}},
		{name: "empty signup range", prefix: "p", edit: func(p *Profile) { p.Filter.SignedUp = &SignupRange{} },
			want: []FieldError{{"p.filter.signed_up", "neither within_days nor older_than_days set"}}},
		{name: "activation", prefix: "p", edit: func(p *Profile) {
			p.Activation = Activation{Events: []string{"Invited", ""}}
			for range 63 {
				p.Activation.UserTraits = append(p.Activation.UserTraits, TraitCondition{Trait: "role", Op: OpExists})
			}
		}, want: []FieldError{
			{"p.activation.events[1]", "empty event name"},
			{"p.activation", "65 criteria, more than 64"},
		}},
		{name: "exclusions", prefix: "p", edit: func(p *Profile) {
			p.Exclude = Exclusions{Users: []string{""}, Accounts: []string{""}, EmailDomains: []string{"@acme.com", "", "acme.com"}}
		}, want: []FieldError{
			{"p.exclude.users[0]", "empty user id"},
			{"p.exclude.accounts[0]", "empty account id"},
			{"p.exclude.email_domains[0]", `"@acme.com" is not a bare domain`},
			{"p.exclude.email_domains[1]", "empty domain"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := valid()
			tt.edit(p)
			err := p.Validate(tt.prefix)
			var got []FieldError
			if err != nil {
				var v *ValidationError
				if !errors.As(err, &v) {
					t.Fatalf("Validate returned %T, want *ValidationError", err)
				}
				got = v.Problems
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
	// The whole message, as a config error shows it.
	p := valid()
	p.Events["Report Exported"] = 12
	if got, want := p.Validate("scoring.profiles[1]").Error(), `scoring.profiles[1].events["Report Exported"]: weight 12 outside 1–10`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestScoreDefaultProfile(t *testing.T) {
	plan := &Plan{Events: []*Event{
		{Name: "Report Exported", Type: Track, Weight: 8},
		{Name: "Logged In", Type: Track, Weight: 1},
		{Name: "Settings Viewed", Type: Track},
		{Name: PageViewed, Type: Page, Weight: 2},
		{Name: "identify", Type: Identify, Weight: 5},
		{Name: "group", Type: Group, Weight: 5},
		nil,
	}}
	got := DefaultProfile(plan)
	want := &Profile{Name: "default", WindowDays: 7, Events: map[string]int{"Report Exported": 8, "Logged In": 1, PageViewed: 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DefaultProfile (-want +got):\n%s", diff)
	}
	if err := got.Validate(""); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if diff := cmp.Diff([]string{"Logged In", "Page Viewed", "Report Exported"}, got.ScoredEvents()); diff != "" {
		t.Errorf("ScoredEvents (-want +got):\n%s", diff)
	}
	if err := DefaultProfile(nil).Validate(""); err == nil || !strings.Contains(err.Error(), "no event with a weight") {
		t.Errorf("profile of a nil plan: %v", err)
	}
	if w := (&Profile{}).Window(); w != 7 {
		t.Errorf("default window %d, want 7", w)
	}
}

func TestScoreBandOf(t *testing.T) {
	tests := []struct {
		score  float64
		active bool
		want   Band
	}{
		{100, true, BandMostEngaged},
		{75, true, BandMostEngaged},
		{74.9, true, BandEngaged},
		{74, true, BandEngaged},
		{50, true, BandEngaged},
		{49.9, true, BandPassive},
		{49, true, BandPassive},
		{25, true, BandPassive},
		{24.9, true, BandLeastEngaged},
		{24, true, BandLeastEngaged},
		{1, true, BandLeastEngaged},
		{0, false, BandInactive},
		{80, false, BandInactive},
	}
	for _, tt := range tests {
		if got := BandOf(tt.score, tt.active); got != tt.want {
			t.Errorf("BandOf(%v, %v) = %s, want %s", tt.score, tt.active, got, tt.want)
		}
	}
	if got := BandMostEngaged.Label(); got != "Most Engaged" {
		t.Errorf("label %q", got)
	}
}

func TestScoreTrendOf(t *testing.T) {
	tests := []struct {
		change float64
		want   TrendFlag
	}{
		{10, TrendHot}, {10.1, TrendHot}, {55, TrendHot}, {9.9, ""}, {9, ""}, {0, ""},
		{-9, ""}, {-9.9, ""}, {-10, TrendCold}, {-40, TrendCold},
	}
	for _, tt := range tests {
		if got := TrendOf(tt.change); got != (Trend{Change: tt.change, Flag: tt.want}) {
			t.Errorf("TrendOf(%v) = %+v, want flag %q", tt.change, got, tt.want)
		}
	}
}

func TestScoreFlagsJSON(t *testing.T) {
	for _, f := range []Flags{0, FlagNew, FlagNew | FlagMature, FlagRecentlyInactive | FlagMultiUser, FlagNew | FlagRecentlyInactive | FlagMature | FlagMultiUser} {
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		var back Flags
		if err := json.Unmarshal(b, &back); err != nil || back != f {
			t.Errorf("%s round-trips to %v, %v", b, back, err)
		}
	}
	b, _ := json.Marshal(FlagMature | FlagNew)
	if string(b) != `["new","mature"]` {
		t.Errorf("marshal = %s", b)
	}
	b, _ = json.Marshal(Flags(0))
	if string(b) != `[]` {
		t.Errorf("marshal empty = %s", b)
	}
	var f Flags
	if err := json.Unmarshal([]byte(`["new","vip"]`), &f); err == nil {
		t.Error("unknown flag accepted")
	}
}

func TestScoreTraitConditionMatch(t *testing.T) {
	tests := []struct {
		op    TraitOp
		want  string
		value string
		ok    bool
		match bool
	}{
		{OpExists, "", "x", true, true},
		{OpExists, "", "", false, false},
		{OpNotExists, "", "", false, true},
		{OpNotExists, "", "", true, false},
		{OpEq, "enterprise", "enterprise", true, true},
		{OpEq, "enterprise", "Enterprise", true, false},
		{OpEq, "1", "1.0", true, true},
		{OpEq, "x", "", false, false},
		{OpNe, "free", "paid", true, true},
		{OpNe, "free", "free", true, false},
		{OpNe, "free", "", false, true},
		{OpGt, "9", "10", true, true}, // numeric, not lexical
		{OpGt, "10", "10", true, false},
		{OpGte, "10", "10", true, true},
		{OpLt, "2024-01-01", "2023-12-31T23:59:59Z", true, true}, // datetimes
		{OpLte, "b", "a", true, true},                            // strings
		{OpLt, "10", "", false, false},
		{"bogus", "x", "x", true, false},
	}
	for _, tt := range tests {
		c := TraitCondition{Trait: "t", Op: tt.op, Value: tt.want}
		if got := c.Match(tt.value, tt.ok); got != tt.match {
			t.Errorf("%s %q against %q (present %v) = %v, want %v", tt.op, tt.want, tt.value, tt.ok, got, tt.match)
		}
	}
}

func TestScoreParseTraitTime(t *testing.T) {
	want := time.Date(2022, 4, 12, 18, 0, 29, 0, time.UTC)
	for _, s := range []string{"2022-04-12T18:00:29Z", "2022-04-12T20:00:29+02:00", "2022-04-12T18:00:29", "2022-04-12 18:00:29", "1649786429", "1649786429000", " 1649786429 "} {
		got, ok := ParseTraitTime(s)
		if !ok || !got.Equal(want) {
			t.Errorf("ParseTraitTime(%q) = %v, %v", s, got, ok)
		}
	}
	if got, ok := ParseTraitTime("2022-04-12"); !ok || !got.Equal(time.Date(2022, 4, 12, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date only = %v, %v", got, ok)
	}
	for _, s := range []string{"", "soon", "-5", "NaN", "12/04/2022", "2022-13-45"} {
		if got, ok := ParseTraitTime(s); ok {
			t.Errorf("ParseTraitTime(%q) = %v, want failure", s, got)
		}
	}
}

func TestScoreWindow(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	tests := []struct {
		at         time.Time
		days       int
		start, end string
	}{
		{time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC), 7, "2024-03-08T00:00:00Z", "2024-03-15T00:00:00Z"},
		{time.Date(2024, 3, 15, 23, 59, 59, 0, time.UTC), 7, "2024-03-08T00:00:00Z", "2024-03-15T00:00:00Z"},
		{time.Date(2024, 3, 15, 8, 0, 0, 0, tokyo), 1, "2024-03-13T00:00:00Z", "2024-03-14T00:00:00Z"},
		{time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC), 30, "2024-02-14T00:00:00Z", "2024-03-15T00:00:00Z"},
	}
	for _, tt := range tests {
		start, end := ScoreWindow(tt.at, tt.days)
		if got := start.Format(time.RFC3339) + " " + end.Format(time.RFC3339); got != tt.start+" "+tt.end {
			t.Errorf("ScoreWindow(%v, %d) = %s, want %s %s", tt.at, tt.days, got, tt.start, tt.end)
		}
	}
}

// TestScoreJSONContract pins the JSON keys of the results.
func TestScoreJSONContract(t *testing.T) {
	keys := func(v any) []string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	tests := []struct {
		name string
		v    any
		want []string
	}{
		{"account", AccountScore{}, sorted("id", "name", "average_score", "total_score", "band", "trend", "active_users",
			"total_users", "active_pct", "frequency", "last_active", "adoption", "activation", "flags")},
		{"user", UserScore{}, sorted("id", "raw", "score", "active", "frequency", "last_active", "band", "trend", "accounts",
			"adoption", "activation", "flags")},
		{"run", ScoreRun{}, sorted("profile", "at", "window_days", "window_start", "window_end", "p90", "active_users", "users", "accounts")},
		{"trend", Trend{}, sorted("change")},
		{"adoption", Adoption{}, sorted("window", "all_time")},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, keys(tt.v)); diff != "" {
			t.Errorf("%s keys (-want +got):\n%s", tt.name, diff)
		}
	}
	u := UserScore{ID: "u1", Score: 42, Band: BandEngaged, Trend: TrendOf(12), Accounts: []string{"a"}, Flags: FlagNew}
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"u1","raw":0,"score":42,"active":false,"frequency":0,"last_active":null,"band":"engaged","trend":{"change":12,"flag":"🔥"},"accounts":["a"],"adoption":{"window":0,"all_time":0},"activation":null,"flags":["new"]}`
	if string(b) != want {
		t.Errorf("user JSON\n got %s\nwant %s", b, want)
	}
	var back UserScore
	if err := json.Unmarshal(b, &back); err != nil || !cmp.Equal(u, back) {
		t.Errorf("round trip: %v, %+v", err, back)
	}
}
