package simulate

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
)

var testNow = time.Date(2026, 5, 20, 15, 30, 0, 0, time.UTC)

func loadPlan(t *testing.T) *trackplan.Plan {
	t.Helper()
	b, err := os.ReadFile("testdata/b2b_plan.json")
	if err != nil {
		t.Fatal(err)
	}
	var p trackplan.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func collect(t *testing.T, plan *trackplan.Plan, opts Options) (*Generator, []*trackplan.Message) {
	t.Helper()
	g, err := New(plan, opts)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*trackplan.Message
	if err := g.Generate(func(m *trackplan.Message) error {
		msgs = append(msgs, m)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return g, msgs
}

// problem is one way a message breaks the plan, keyed like a drift finding.
type problem struct {
	Code  trackplan.Code
	Event string
	Path  string
}

// check validates m against plan independently of the generator: event
// planned and sendable, no unplanned paths, types, required, enum, pattern
// and range.
func check(plan *trackplan.Plan, m *trackplan.Message) []problem {
	name := m.EventName()
	e := plan.Lookup(m.Type, name)
	if e == nil {
		return []problem{{trackplan.UnplannedEvent, name, ""}}
	}
	var out []problem
	if e.Status == trackplan.StatusProposed || e.Status == trackplan.StatusPlanned || e.Status == trackplan.StatusDeprecated {
		out = append(out, problem{"STATUS_" + trackplan.Code(e.Status), name, ""})
	}
	payload := m.Payload()
	trackplan.Flatten(payload, func(f trackplan.Field) {
		p := e.Property(f.Path)
		if p == nil {
			// Objects and array elements above a planned path are planned
			// implicitly (items[] above items[].sku).
			for _, q := range e.Properties {
				if strings.HasPrefix(q.Name, f.Path+".") || strings.HasPrefix(q.Name, f.Path+"[]") {
					return
				}
			}
			out = append(out, problem{trackplan.UnplannedProperty, name, f.Path})
			return
		}
		if !typeOK(p.Type, f.Value) {
			out = append(out, problem{trackplan.TypeMismatch, name, f.Path})
			return
		}
		if len(p.Enum) > 0 && !slices.Contains(p.Enum, scalarString(f.Value)) {
			out = append(out, problem{trackplan.EnumViolation, name, f.Path})
		}
		if p.Pattern != "" {
			if s, ok := f.Value.(string); ok && !regexp.MustCompile(p.Pattern).MatchString(s) {
				out = append(out, problem{trackplan.PatternViolation, name, f.Path})
			}
		}
		if x, ok := number(f.Value); ok && ((p.Min != nil && x < *p.Min) || (p.Max != nil && x > *p.Max)) {
			out = append(out, problem{trackplan.RangeViolation, name, f.Path})
		}
	})
	for _, p := range e.Properties {
		if !p.Required {
			continue
		}
		parent, leaf, isElem := strings.Cut(p.Name, "[].")
		switch {
		case isElem:
			arr, _ := payload[parent].([]any)
			for _, el := range arr {
				if obj, ok := el.(map[string]any); !ok || obj[leaf] == nil {
					out = append(out, problem{trackplan.RequiredMissing, name, p.Name})
				}
			}
		case !strings.Contains(p.Name, "."):
			if _, ok := payload[p.Name]; !ok {
				out = append(out, problem{trackplan.RequiredMissing, name, p.Name})
			}
		}
	}
	return out
}

func typeOK(t trackplan.PropertyType, v any) bool {
	jt := trackplan.JSONType(v)
	switch t {
	case trackplan.PropAny, "":
		return true
	case trackplan.PropNumber:
		return jt == trackplan.TypeNumber || jt == trackplan.TypeInteger
	case trackplan.PropDatetime:
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.Parse(time.RFC3339, s)
		return err == nil
	}
	return jt == string(t)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func TestDeterministic(t *testing.T) {
	plan := loadPlan(t)
	for _, drift := range []bool{false, true} {
		opts := Options{Accounts: 12, UsersPerAccount: 3, Days: 10, Seed: 42, Now: testNow, Drift: drift}
		_, a := collect(t, plan, opts)
		_, b := collect(t, plan, opts)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Fatalf("drift=%v: same seed, different traffic (-first +second):\n%s", drift, diff)
		}
		opts.Seed = 43
		_, c := collect(t, plan, opts)
		if cmp.Equal(a, c) {
			t.Errorf("drift=%v: seeds 42 and 43 produced the same traffic", drift)
		}
	}
}

func TestValidWithoutDrift(t *testing.T) {
	plan := loadPlan(t)
	for _, seed := range []int64{1, 2, 3} {
		g, msgs := collect(t, plan, Options{Seed: seed, Now: testNow})
		if !g.Drift().Empty() {
			t.Errorf("seed %d: drift injected without Drift: %+v", seed, g.Drift())
		}
		counts := map[problem]int{}
		for _, m := range msgs {
			for _, p := range check(plan, m) {
				counts[p]++
			}
		}
		if len(counts) > 0 {
			t.Errorf("seed %d: traffic breaks the plan: %v", seed, counts)
		}
		recent := seenSince(msgs, testNow.Add(-7*24*time.Hour))
		for _, e := range plan.Events {
			live := e.Status == trackplan.StatusLive || e.Status == trackplan.StatusImplemented
			if e.Type == trackplan.Identify || e.Type == trackplan.Group {
				continue
			}
			if live && !recent[e.Name] {
				t.Errorf("seed %d: %s event %q not seen in the last 7 days", seed, e.Status, e.Name)
			}
		}
	}
}

func seenSince(msgs []*trackplan.Message, since time.Time) map[string]bool {
	seen := map[string]bool{}
	for _, m := range msgs {
		if !m.Timestamp.Before(since) {
			seen[m.EventName()] = true
		}
	}
	return seen
}

func TestDriftInjected(t *testing.T) {
	plan := loadPlan(t)
	for _, seed := range []int64{1, 2, 3, 4} {
		g, msgs := collect(t, plan, Options{Seed: seed, Now: testNow, Drift: true})
		d := g.Drift()
		if len(d.UnplannedEvents) != 1 || len(d.TypeMismatches) != 1 || len(d.RequiredMissing) != 1 || len(d.NeverSent) != 1 {
			t.Fatalf("seed %d: drift = %+v, want one of each", seed, d)
		}
		// Every problem found is one of the injected ones, and each injected
		// one is found.
		want := map[problem]bool{
			{trackplan.UnplannedEvent, d.UnplannedEvents[0], ""}:                               true,
			{trackplan.TypeMismatch, d.TypeMismatches[0].Event, d.TypeMismatches[0].Path}:      true,
			{trackplan.RequiredMissing, d.RequiredMissing[0].Event, d.RequiredMissing[0].Path}: true,
		}
		got := map[problem]bool{}
		for _, m := range msgs {
			for _, p := range check(plan, m) {
				got[p] = true
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("seed %d: problems (-injected +found):\n%s", seed, diff)
		}
		// The type drift is sent with the JSON type it claims.
		tm := d.TypeMismatches[0]
		for _, m := range msgs {
			if m.Event == tm.Event {
				if jt := trackplan.JSONType(m.Properties[tm.Path]); jt != tm.Sent {
					t.Errorf("seed %d: %s.%s sent as %s, want %s", seed, tm.Event, tm.Path, jt, tm.Sent)
				}
			}
		}
		recent := seenSince(msgs, testNow.Add(-7*24*time.Hour))
		all := seenSince(msgs, time.Time{})
		if all[d.NeverSent[0]] {
			t.Errorf("seed %d: %q was sent", seed, d.NeverSent[0])
		}
		e := plan.Lookup(trackplan.Track, d.NeverSent[0])
		if e == nil || e.Weight == 0 || (e.Status != trackplan.StatusLive && e.Status != trackplan.StatusImplemented) {
			t.Errorf("seed %d: never-sent %q is not a live scored event", seed, d.NeverSent[0])
		}
		for _, name := range []string{d.UnplannedEvents[0], tm.Event, d.RequiredMissing[0].Event} {
			if !recent[name] {
				t.Errorf("seed %d: drifted event %q not seen in the last 7 days", seed, name)
			}
		}
		// Drift leaves the population alone.
		clean, err := New(plan, Options{Seed: seed, Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(clean.Accounts(), g.Accounts()); diff != "" {
			t.Errorf("seed %d: Drift changed the accounts (-clean +drift):\n%s", seed, diff)
		}
	}
}

func TestSkewAndDormancy(t *testing.T) {
	plan := loadPlan(t)
	for _, seed := range []int64{1, 7, 99} {
		g, msgs := collect(t, plan, Options{Seed: seed, Now: testNow})
		accts := g.Accounts()
		tracks := map[string]int{}
		total := 0
		lastSeen := map[string]time.Time{}
		for _, m := range msgs {
			if m.Type == trackplan.Track {
				tracks[m.GroupID]++
				total++
			}
			if m.Timestamp.After(lastSeen[m.GroupID]) {
				lastSeen[m.GroupID] = m.Timestamp
			}
		}
		counts := make([]int, 0, len(accts))
		for _, a := range accts {
			counts = append(counts, tracks[a.ID])
		}
		sort.Sort(sort.Reverse(sort.IntSlice(counts)))
		top, bottom := 0, 0
		for _, c := range counts[:len(counts)/10] {
			top += c
		}
		for _, c := range counts[len(counts)/2:] {
			bottom += c
		}
		if share := float64(top) / float64(total); share < 0.35 {
			t.Errorf("seed %d: top 10%% of accounts send %.0f%% of track events, want a large share", seed, share*100)
		}
		if share := float64(bottom) / float64(total); share > 0.2 {
			t.Errorf("seed %d: bottom half of accounts send %.0f%% of track events, want a long tail", seed, share*100)
		}
		dormant := 0
		for _, a := range accts {
			if a.Dormant {
				dormant++
				if last := lastSeen[a.ID]; !last.Before(testNow.Add(-7 * 24 * time.Hour)) {
					t.Errorf("seed %d: dormant account %s active at %s", seed, a.ID, last)
				}
			}
		}
		if dormant == 0 {
			t.Errorf("seed %d: no dormant accounts", seed)
		}
	}
}

func TestMessagesShape(t *testing.T) {
	plan := loadPlan(t)
	g, msgs := collect(t, plan, Options{Seed: 5, Now: testNow, Drift: true})
	start := testNow.Add(-DefaultDays * 24 * time.Hour)
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	ids := map[string]bool{}
	users := map[string]string{} // user → account
	for _, a := range g.Accounts() {
		for _, u := range a.UserIDs {
			users[u] = a.ID
		}
	}
	identified, grouped := map[string]bool{}, map[string]bool{}
	var prev time.Time
	for i, m := range msgs {
		if !uuid.MatchString(m.MessageID) || ids[m.MessageID] {
			t.Fatalf("message %d: bad or duplicate messageId %q", i, m.MessageID)
		}
		ids[m.MessageID] = true
		if m.Timestamp.Before(start) || !m.Timestamp.Before(testNow) {
			t.Fatalf("message %d at %s outside [%s, %s)", i, m.Timestamp, start, testNow)
		}
		if m.Timestamp.Before(prev) {
			t.Fatalf("message %d at %s before the previous one at %s", i, m.Timestamp, prev)
		}
		prev = m.Timestamp
		if acct, ok := users[m.UserID]; !ok || m.GroupID != acct {
			t.Fatalf("message %d: user %q with groupId %q, want its account %q", i, m.UserID, m.GroupID, acct)
		}
		switch m.Type {
		case trackplan.Identify:
			identified[m.UserID] = true
		case trackplan.Group:
			grouped[m.UserID] = true
		case trackplan.Track:
			if m.Event == "" {
				t.Fatalf("message %d: track without event", i)
			}
		case trackplan.Page:
			if m.Name == "" {
				t.Fatalf("message %d: page without name", i)
			}
		default:
			t.Fatalf("message %d: unexpected type %q", i, m.Type)
		}
	}
	if len(identified) != len(users) || len(grouped) != len(users) {
		t.Errorf("identified %d and grouped %d of %d users", len(identified), len(grouped), len(users))
	}
	sum := g.Count()
	if sum.Messages != len(msgs) || sum.Users != len(users) || sum.Accounts != DefaultAccounts {
		t.Errorf("summary %+v does not match %d messages, %d users", sum, len(msgs), len(users))
	}
	if !sum.First.Equal(msgs[0].Timestamp) || !sum.Last.Equal(msgs[len(msgs)-1].Timestamp) {
		t.Errorf("summary first/last %s/%s", sum.First, sum.Last)
	}
	in := sum.ByEvent["Signed In"]
	if in <= sum.ByEvent["Report Exported"] || in <= sum.ByEvent["Feature Used"] || in <= sum.ByEvent["Dashboard Viewed"] {
		t.Errorf("sign-ins should outnumber other events: %v", sum.ByEvent)
	}
	if sum.ByEvent["Account Deleted"] > in/100 || sum.ByEvent["Subscription Upgraded"] > in/50 {
		t.Errorf("account lifecycle events should be rare: %v", sum.ByEvent)
	}
	if sum.ByEvent["Account Created"] == 0 || sum.ByEvent["Account Created"] > DefaultAccounts/5 {
		t.Errorf("accounts created in the window: %d", sum.ByEvent["Account Created"])
	}
}

func TestRealisticTraits(t *testing.T) {
	plan := loadPlan(t)
	_, msgs := collect(t, plan, Options{Accounts: 5, UsersPerAccount: 2, Days: 3, Seed: 8, Now: testNow})
	email := regexp.MustCompile(`^[a-z]+\.[a-z]+[0-9]*@[a-z0-9]+\.[a-z]+$`)
	for _, m := range msgs {
		switch m.Type {
		case trackplan.Identify:
			e, _ := m.Traits["email"].(string)
			first, _ := m.Traits["first_name"].(string)
			if !email.MatchString(e) || !strings.HasPrefix(e, strings.ToLower(first)+".") {
				t.Errorf("identify email %q for first name %q", e, first)
			}
			if name, _ := m.Traits["name"].(string); name != first+" "+m.Traits["last_name"].(string) {
				t.Errorf("identify name %q", name)
			}
		case trackplan.Group:
			if name, _ := m.Traits["name"].(string); name == "" || !strings.Contains(m.Traits["website"].(string), strings.ToLower(strings.Fields(name)[0])) {
				t.Errorf("group traits %v", m.Traits)
			}
		}
	}
}

func TestMinimalPlan(t *testing.T) {
	plan := &trackplan.Plan{Version: 1, Events: []*trackplan.Event{
		{Name: "Thing Done", Type: trackplan.Track, Status: trackplan.StatusLive, Weight: 3},
	}}
	for _, opts := range []Options{
		{Accounts: 1, UsersPerAccount: 1, Days: 1, Now: testNow},
		{Accounts: 2, UsersPerAccount: 1, Days: 2, Now: testNow, Drift: true},
	} {
		g, msgs := collect(t, plan, opts)
		seen := seenSince(msgs, time.Time{})
		if !opts.Drift && !seen["Thing Done"] {
			t.Errorf("%+v: the only event was never sent", opts)
		}
		for _, m := range msgs {
			if len(m.Traits) != 0 {
				t.Errorf("%+v: traits %v sent though the plan has none", opts, m.Traits)
			}
		}
		if opts.Drift {
			d := g.Drift()
			if diff := cmp.Diff([]string{"Thing Done"}, d.NeverSent); diff != "" {
				t.Errorf("never sent (-want +got):\n%s", diff)
			}
			if !seen[d.UnplannedEvents[0]] {
				t.Errorf("unplanned event %q not sent", d.UnplannedEvents[0])
			}
		}
	}
}

func TestGenerateStopsOnError(t *testing.T) {
	g, err := New(loadPlan(t), Options{Accounts: 3, Days: 2, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	n := 0
	err = g.Generate(func(*trackplan.Message) error {
		n++
		if n == 5 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || n != 5 {
		t.Errorf("Generate = %v after %d messages, want boom after 5", err, n)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		bad  []string // fields reported
	}{
		{"defaults", Options{Now: testNow}, nil},
		{"no now", Options{}, []string{"now"}},
		{"negative", Options{Accounts: -1, UsersPerAccount: -2, Days: -3, Now: testNow}, []string{"accounts", "users_per_account", "days"}},
		{"too many", Options{Accounts: MaxAccounts + 1, Days: MaxDays + 1, Now: testNow}, []string{"accounts", "days"}},
		{"too many users", Options{Accounts: MaxAccounts, UsersPerAccount: 11, Now: testNow}, []string{"users_per_account"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			var got []string
			var v *trackplan.ValidationError
			if errors.As(err, &v) {
				for _, p := range v.Problems {
					got = append(got, p.Field)
				}
			} else if err != nil {
				t.Fatalf("Validate = %v, want a ValidationError", err)
			}
			if diff := cmp.Diff(tt.bad, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := New(nil, Options{Now: testNow}); err == nil {
		t.Error("New(nil plan) returned nil error")
	}
}

func TestFromPattern(t *testing.T) {
	g := &valueGen{r: newTestRand()}
	for _, pattern := range []string{
		`^rpt_[a-z0-9]{8}$`,
		`^SKU-[0-9]{4}$`,
		`^[^@\s]+@[^@\s]+\.[a-z]+$`,
		`^(free|pro|enterprise)$`,
		`[A-Z]{2}-\d+`,
		`^https?://[a-z]+\.(com|io)/?$`,
		`^\w+(\.\w+)*$`,
		`v\d+\.\d+\.\d+`,
	} {
		re := regexp.MustCompile(`^(?:` + pattern + `)$`)
		for range 20 {
			s, ok := fromPattern(g.r, pattern)
			if !ok || !re.MatchString(s) {
				t.Errorf("fromPattern(%q) = %q, %v", pattern, s, ok)
			}
		}
	}
	if _, ok := fromPattern(g.r, `(`); ok {
		t.Error("fromPattern accepted an invalid pattern")
	}
}

func TestNumberConstraints(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	vg := &valueGen{r: newTestRand()}
	tests := []struct {
		name string
		prop trackplan.Property
		cand any
	}{
		{"integer range", trackplan.Property{Type: trackplan.PropInteger, Min: f(1.5), Max: f(3.5)}, nil},
		{"integer candidate clamped", trackplan.Property{Type: trackplan.PropInteger, Min: f(0), Max: f(10)}, 500},
		{"number above min", trackplan.Property{Type: trackplan.PropNumber, Min: f(1000)}, nil},
		{"number below max", trackplan.Property{Type: trackplan.PropNumber, Max: f(-5)}, 3.14159},
		{"integer enum", trackplan.Property{Type: trackplan.PropInteger, Enum: []string{"2", "4"}}, 3},
		{"number enum in range", trackplan.Property{Type: trackplan.PropNumber, Enum: []string{"0.5", "9"}, Max: f(1)}, nil},
	}
	for _, tt := range tests {
		for range 50 {
			v, ok := vg.number(&tt.prop, tt.cand)
			if !ok || !typeOK(tt.prop.Type, v) {
				t.Fatalf("%s: %v (%T), %v", tt.name, v, v, ok)
			}
			x, _ := number(v)
			if (tt.prop.Min != nil && x < *tt.prop.Min) || (tt.prop.Max != nil && x > *tt.prop.Max) ||
				(len(tt.prop.Enum) > 0 && !slices.Contains(tt.prop.Enum, scalarString(v))) || math.IsNaN(x) {
				t.Fatalf("%s: %v breaks the constraints", tt.name, v)
			}
		}
	}
	if _, ok := vg.number(&trackplan.Property{Type: trackplan.PropInteger, Min: f(1.2), Max: f(1.8)}, nil); ok {
		t.Error("an empty integer range was satisfied")
	}
}

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
