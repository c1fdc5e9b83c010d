package scoring

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trackplan/trackplan"
)

func TestScoreTraitText(t *testing.T) {
	tests := []struct {
		raw  string
		text string
		ok   bool
	}{
		{`"Acme"`, "Acme", true},
		{` "Acme" `, "Acme", true},
		{`"say \"hi\""`, `say "hi"`, true},
		{`"caf\u00e9"`, "café", true},
		{`""`, "", true},
		{`3000`, "3000", true},
		{`1.5e3`, "1.5e3", true},
		{`true`, "true", true},
		{`{"a":1}`, `{"a":1}`, true},
		{`null`, "", false},
		{``, "", false},
	}
	for _, tt := range tests {
		text, ok := TraitText(json.RawMessage(tt.raw))
		if text != tt.text || ok != tt.ok {
			t.Errorf("TraitText(%s) = %q, %v; want %q, %v", tt.raw, text, ok, tt.text, tt.ok)
		}
	}
}

func TestScoreBuilderKeepsOnlyTheSpec(t *testing.T) {
	spec := Spec{
		Events: []string{"A", "Filter"}, Scored: []string{"A"},
		From: ts("2024-03-01T00:00:00Z"), To: ts("2024-03-15T00:00:00Z"),
		UserTraits: []string{"plan"}, AccountTraits: []string{"tier"},
	}
	b, err := NewBuilder(spec)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.AddDaily("u1", "A", ts("2024-03-01T00:00:00Z"), 1))             // kept: first day
	must(b.AddDaily("u1", "A", ts("2024-03-14T00:00:00Z"), math.MaxInt64)) // kept, clamped
	must(b.AddDaily("u1", "A", ts("2024-02-29T00:00:00Z"), 1))             // before From
	must(b.AddDaily("u1", "A", ts("2024-03-15T00:00:00Z"), 1))             // at To
	must(b.AddDaily("u1", "B", ts("2024-03-10T00:00:00Z"), 1))             // not in spec
	must(b.AddDaily("u1", "Filter", ts("2024-03-10T00:00:00Z"), 1))        // not scored
	must(b.AddDaily("u1", "A", ts("2024-03-10T00:00:00Z"), 0))             // empty
	must(b.AddTotal("u2", "Filter", ts("2024-01-01T00:00:00Z"), ts("2024-02-01T00:00:00Z")))
	must(b.AddTotal("u2", "B", ts("2024-01-01T00:00:00Z"), ts("2024-02-01T00:00:00Z")))
	must(b.AddUserTrait("u3", "plan", json.RawMessage(`"paid"`), time.Time{}))
	must(b.AddUserTrait("u4", "ignored", json.RawMessage(`"x"`), time.Time{}))
	must(b.AddAccountTrait("a1", "tier", json.RawMessage(`"gold"`)))
	must(b.AddAccountTrait("a2", "ignored", json.RawMessage(`"x"`)))
	must(b.AddMembership("u1", "a1"))
	must(b.AddMembership("u1", "a1")) // duplicate
	must(b.AddUser("u5", time.Time{}, time.Time{}))
	in := b.Input()

	daily, totals := in.Rows()
	if daily != 2 || totals != 1 {
		t.Errorf("rows: %d daily, %d totals; want 2, 1", daily, totals)
	}
	if in.daily.blocks[0][1].count != math.MaxUint32 {
		t.Errorf("clamped count = %d", in.daily.blocks[0][1].count)
	}
	if diff := cmp.Diff([]string{"u1", "u2", "u3", "u5"}, in.userIDs); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a1"}, in.acctIDs); diff != "" {
		t.Errorf("accounts (-want +got):\n%s", diff)
	}
	if got := in.userAccts.of(0); len(got) != 1 {
		t.Errorf("u1 accounts = %v, want one", got)
	}
	if v, ok := in.userTraits["plan"].get(2); v != "paid" || !ok {
		t.Errorf("u3 plan = %q, %v", v, ok)
	}
	if _, ok := in.userTraits["plan"].get(3); ok {
		t.Errorf("u5 has a plan")
	}
	if in.userFirst[3] != noTime || in.userCreated[3] != noTime {
		t.Errorf("u5 first seen %d, created %d; want unknown", in.userFirst[3], in.userCreated[3])
	}
}

func TestScoreNewBuilderErrors(t *testing.T) {
	if _, err := NewBuilder(Spec{From: ts("2024-03-02T00:00:00Z"), To: ts("2024-03-01T00:00:00Z")}); err == nil {
		t.Error("NewBuilder accepted From after To")
	}
	if _, err := NewBuilder(Spec{From: ts("1900-01-01T00:00:00Z"), To: ts("2100-01-01T00:00:00Z")}); err == nil {
		t.Error("NewBuilder accepted 200 years")
	}
}

func TestScoreLoadErrors(t *testing.T) {
	boom := errors.New("boom")
	f := newFake()
	f.err = boom
	_, err := Load(context.Background(), f, SpecFor(at, "", "", profile(map[string]int{"E": 1})))
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "load identity links: ") {
		t.Errorf("Load error = %v, want load identity links: boom", err)
	}
}

func TestScoreSpecFor(t *testing.T) {
	p1 := &trackplan.Profile{Name: "one", Events: map[string]int{"A": 1, "Z": 0}, WindowDays: 30,
		Filter: trackplan.Filter{
			Did:           []trackplan.EventCondition{{Event: "Signed In"}},
			UserTraits:    []trackplan.TraitCondition{{Trait: "plan", Op: trackplan.OpExists}},
			AccountTraits: []trackplan.TraitCondition{{Trait: "tier", Op: trackplan.OpExists}},
		},
		Exclude: trackplan.Exclusions{EmailDomains: []string{"example.com"}},
	}
	p2 := &trackplan.Profile{Name: "two", Events: map[string]int{"A": 2, "B": 1},
		Activation: trackplan.Activation{Events: []string{"Invited"}, UserTraits: []trackplan.TraitCondition{{Trait: "role", Op: trackplan.OpExists}}},
	}
	got := SpecFor(ts("2024-03-15T13:00:00Z"), "", "", p1, p2)
	want := Spec{
		Events:        []string{"A", "B", "Invited", "Signed In"},
		Scored:        []string{"A", "B"},
		From:          ts("2024-01-15T00:00:00Z"), // 60 days before 2024-03-15
		To:            ts("2024-03-15T00:00:00Z"),
		UserTraits:    []string{"created_at", "email", "plan", "role"},
		AccountTraits: []string{"created_at", "name", "tier"},
		NameTrait:     "name",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SpecFor (-want +got):\n%s", diff)
	}
}
