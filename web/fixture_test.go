package web

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// fixedNow is the clock of every test.
var fixedNow = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// fakeData is a hand-written Data (and VolumeSource, TraitSource,
// ActivitySource, PlanSource, IdentitySource, UserTraitSource) over fixed
// values.
type fakeData struct {
	plan     *trackplan.Plan
	profiles []*trackplan.Profile
	observed *store.Observed
	findings []trackplan.Finding
	runs     map[string]*trackplan.ScoreRun
	history  map[string]map[string][]store.ScorePoint // profile → account → points
	volume   map[eventKey][]int64                     // last 30 days, oldest first, ending today
	traits   map[string]map[string]json.RawMessage
	activity map[string][]EventUse
	versions []store.PlanVersion // newest first
	// links are the identity links; userTraits the traits stored under
	// each id.
	links      []link
	userTraits map[string]map[string]any
	// userTraitsErr, when set, is returned by UserTraitsOf.
	userTraitsErr error
	// recheck is what Rechecking returns.
	recheck atomic.Pointer[Recheck]
	// err, when set, is returned by Observed.
	err error
	// latestCalls counts LatestScores calls; linkReads IdentityLinks
	// calls.
	latestCalls atomic.Int64
	linkReads   atomic.Int64
}

// The store's identity links are what the dashboard reads.
var _ IdentitySource = store.Store(nil)

// link is one identity link.
type link struct {
	id, userID string
	at         time.Time
}

func (f *fakeData) Plan() *trackplan.Plan          { return f.plan }
func (f *fakeData) Profiles() []*trackplan.Profile { return f.profiles }

func (f *fakeData) Observed(context.Context) (*store.Observed, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.observed, nil
}

func (f *fakeData) Findings(context.Context) ([]trackplan.Finding, error) { return f.findings, nil }

func (f *fakeData) LatestScores(_ context.Context, profile string, before time.Time) (*trackplan.ScoreRun, error) {
	f.latestCalls.Add(1)
	run, ok := f.runs[profile]
	if !ok || !run.At.Before(before) {
		return nil, fmt.Errorf("latest %s scores: %w", profile, trackplan.ErrNotFound)
	}
	return run, nil
}

func (f *fakeData) AccountHistory(_ context.Context, profile, groupID string, limit int) ([]store.ScorePoint, error) {
	pts := f.history[profile][groupID]
	if len(pts) > limit {
		pts = pts[len(pts)-limit:]
	}
	return pts, nil
}

func (f *fakeData) EventVolume(_ context.Context, from, to time.Time, fn func(trackplan.CallType, string, time.Time, int64) error) error {
	today := fixedNow.Truncate(24 * time.Hour)
	keys := make([]eventKey, 0, len(f.volume))
	for k := range f.volume {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Name < keys[j].Name })
	for _, k := range keys {
		days := f.volume[k]
		for i, n := range days {
			day := today.AddDate(0, 0, i-len(days)+1)
			if n == 0 || day.Before(from) || !day.Before(to) {
				continue
			}
			if err := fn(k.Type, k.Name, day, n); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fakeData) AccountTraits(_ context.Context, groupID string) (map[string]json.RawMessage, error) {
	t, ok := f.traits[groupID]
	if !ok {
		return nil, fmt.Errorf("account %s: %w", groupID, trackplan.ErrNotFound)
	}
	return t, nil
}

func (f *fakeData) AccountActivity(_ context.Context, groupID string, events []string, _, _ time.Time) ([]EventUse, error) {
	var out []EventUse
	for _, u := range f.activity[groupID] {
		if slices.Contains(events, u.Event) {
			out = append(out, u)
		}
	}
	return out, nil
}

func (f *fakeData) PlanVersions(_ context.Context, limit int) ([]store.PlanVersion, error) {
	return f.versions[:min(limit, len(f.versions))], nil
}

func (f *fakeData) IdentityLinks(_ context.Context, fn func(id, userID string, at time.Time) error) error {
	f.linkReads.Add(1)
	for _, l := range f.links {
		if err := fn(l.id, l.userID, l.at); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeData) UserTraitsOf(_ context.Context, userID string) (map[string]any, error) {
	if f.userTraitsErr != nil {
		return nil, f.userTraitsErr
	}
	return f.userTraits[userID], nil
}

func (f *fakeData) Rechecking() *Recheck { return f.recheck.Load() }

// newTestHandler serves f with every optional source.
func newTestHandler(t testing.TB, f *fakeData) *Handler {
	t.Helper()
	h, err := New(Options{Data: f, Volumes: f, Traits: f, Activity: f, Plans: f, Rechecking: f.Rechecking,
		Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func days(n int) time.Time      { return fixedNow.AddDate(0, 0, -n) }
func hours(n int) time.Time     { return fixedNow.Add(-time.Duration(n) * time.Hour) }
func ptr[T any](v T) *T         { return &v }
func fl(v float64) *float64     { return &v }
func raw(v any) json.RawMessage { b, _ := json.Marshal(v); return b }

// fixture is the dashboard's test world: a plan with live, violating,
// deprecated and unseen events, observations from two sources with
// unplanned events, findings, two scoring profiles, several accounts with
// histories, and identity links: u-alice is also known by two anonymous
// ids and an alias's previousId, and a shared device was seen with u-bob
// and then u-dave.
func fixture() *fakeData {
	plan := &trackplan.Plan{Version: 1, Events: []*trackplan.Event{
		{Name: "identify", Type: trackplan.Identify, Status: trackplan.StatusLive, Properties: []*trackplan.Property{
			{Name: "email", Type: trackplan.PropString, Required: true},
			{Name: "name", Type: trackplan.PropString},
			{Name: "created_at", Type: trackplan.PropDatetime},
		}},
		{Name: "group", Type: trackplan.Group, Status: trackplan.StatusLive, Properties: []*trackplan.Property{
			{Name: "name", Type: trackplan.PropString, Required: true},
			{Name: "plan", Type: trackplan.PropString, Enum: []string{"free", "pro", "enterprise"}},
			{Name: "mrr", Type: trackplan.PropNumber, Min: fl(0)},
		}},
		{Name: "Signed Up", Status: trackplan.StatusLive, Owner: "growth@example.com", Weight: 3,
			Description: "A user created a login.", Properties: []*trackplan.Property{
				{Name: "method", Type: trackplan.PropString, Required: true, Enum: []string{"email", "google", "sso"}},
				{Name: "referrer", Type: trackplan.PropString},
			}},
		{Name: "Report Exported", Status: trackplan.StatusLive, Owner: "data@example.com", Weight: 6,
			Description: "A user exported a report.", Properties: []*trackplan.Property{
				{Name: "format", Type: trackplan.PropString, Required: true, Enum: []string{"csv", "pdf", "xlsx"}},
				{Name: "row_count", Type: trackplan.PropInteger, Min: fl(0)},
			}},
		{Name: "Dashboard Viewed", Status: trackplan.StatusLive, Weight: 2},
		{Name: "Feature Used", Status: trackplan.StatusLive, Owner: "product@example.com", Weight: 4, Properties: []*trackplan.Property{
			{Name: "feature", Type: trackplan.PropString, Required: true},
		}},
		{Name: "Invite Sent", Status: trackplan.StatusImplemented, Weight: 5, Properties: []*trackplan.Property{
			{Name: "invitee_role", Type: trackplan.PropString, Required: true},
		}},
		{Name: "Integration Connected", Status: trackplan.StatusLive, Weight: 5},
		{Name: "Trial Started", Status: trackplan.StatusPlanned},
		{Name: "Legacy Export", Status: trackplan.StatusDeprecated},
		{Name: "Page Viewed", Type: trackplan.Page, Status: trackplan.StatusLive, Properties: []*trackplan.Property{
			{Name: "path", Type: trackplan.PropString, Required: true},
			{Name: "title", Type: trackplan.PropString},
		}},
	}}
	prop := func(path string, present int64, last time.Time, types map[string]int64) store.ObservedProperty {
		return store.ObservedProperty{Path: path, Types: types, Present: present, FirstSeen: days(80), LastSeen: last}
	}
	ev := func(source string, t trackplan.CallType, name string, count int64, first, last time.Time, props ...store.ObservedProperty) store.ObservedEvent {
		return store.ObservedEvent{Source: source, Type: t, Name: name, Count: count, FirstSeen: first, LastSeen: last, Properties: props}
	}
	observed := &store.Observed{
		Totals: store.Totals{Messages: 26843, Rejected: 17, Duplicates: 210, Users: 1240, Accounts: 212,
			LinkedIDs: 410, IdentityConflicts: 3},
		Events: []store.ObservedEvent{
			ev("web", trackplan.Identify, "identify", 1200, days(90), hours(1),
				prop("email", 1180, hours(1), map[string]int64{"string": 1180}),
				prop("name", 1100, hours(1), map[string]int64{"string": 1100}),
				prop("created_at", 1150, hours(2), map[string]int64{"string": 1150}),
				prop("company_id", 1200, hours(1), map[string]int64{"string": 1200})),
			ev("backend", trackplan.Group, "group", 300, days(90), hours(3),
				prop("name", 300, hours(3), map[string]int64{"string": 300}),
				prop("plan", 280, hours(3), map[string]int64{"string": 280}),
				prop("mrr", 250, hours(3), map[string]int64{"integer": 200, "number": 50})),
			ev("web", trackplan.Track, "Signed Up", 150, days(90), hours(5),
				prop("method", 138, hours(5), map[string]int64{"string": 138}),
				prop("referrer", 60, days(1), map[string]int64{"string": 58, "null": 2})),
			ev("backend", trackplan.Track, "Signed Up", 40, days(60), hours(7),
				prop("method", 40, hours(7), map[string]int64{"string": 40})),
			ev("backend", trackplan.Track, "Report Exported", 900, days(85), hours(2),
				prop("format", 900, hours(2), map[string]int64{"string": 900}),
				prop("row_count", 870, hours(2), map[string]int64{"integer": 870})),
			ev("web", trackplan.Track, "Dashboard Viewed", 5000, days(90), hours(1)),
			ev("web", trackplan.Track, "Feature Used", 2000, days(70), hours(1),
				prop("feature", 2000, hours(1), map[string]int64{"string": 1900, "integer": 100})),
			ev("backend", trackplan.Track, "Integration Connected", 30, days(40), days(12)),
			ev("backend", trackplan.Track, "Legacy Export", 12, days(90), days(2),
				prop("format", 12, days(2), map[string]int64{"string": 12})),
			ev("web", trackplan.Page, "Page Viewed", 8000, days(90), hours(1),
				prop("name", 8000, hours(1), map[string]int64{"string": 8000}),
				prop("path", 8000, hours(1), map[string]int64{"string": 8000})),
			ev("web", trackplan.Track, "Button Clicked", 1500, days(20), hours(1),
				prop("button_id", 1500, hours(1), map[string]int64{"string": 1500})),
			ev("web", trackplan.Track, "Checkout Started", 300, days(10), hours(4)),
			ev("backend", trackplan.Track, "report_exported", 45, days(30), days(3)),
			ev("web", trackplan.Alias, "alias", 5, days(50), days(9)),
		},
	}
	finding := func(code trackplan.Code, sev trackplan.Severity, event, path, expected, obs string, count int64, last time.Time) trackplan.Finding {
		return trackplan.Finding{Code: code, Severity: sev, Event: event, Path: path, Expected: expected, Observed: obs,
			Count: count, LastSeen: last, FirstSeen: days(30), Fingerprint: trackplan.Fingerprint(string(code), "", event, path)}
	}
	findings := []trackplan.Finding{
		finding(trackplan.UnplannedEvent, trackplan.SeverityWarning, "Button Clicked", "", "", "", 1500, hours(1)),
		finding(trackplan.UnplannedEvent, trackplan.SeverityWarning, "Checkout Started", "", "", "", 300, hours(4)),
		finding(trackplan.UnplannedEvent, trackplan.SeverityWarning, "report_exported", "", "", "", 45, days(3)),
		finding(trackplan.Naming, trackplan.SeverityInfo, "report_exported", "", "Title Case \"Object Action\"", "report_exported", 45, days(3)),
		finding(trackplan.TypeMismatch, trackplan.SeverityError, "Feature Used", "feature", "string", "integer", 100, hours(1)),
		finding(trackplan.RequiredMissing, trackplan.SeverityError, "Signed Up", "method", "present", "absent", 12, hours(5)),
		finding(trackplan.UnplannedProperty, trackplan.SeverityWarning, "identify", "company_id", "", "string", 1200, hours(1)),
		finding(trackplan.TypeInconsistent, trackplan.SeverityInfo, "group", "mrr", "number", "integer, number", 250, hours(3)),
		finding(trackplan.PlannedNotSeen, trackplan.SeverityError, "Invite Sent", "", "traffic in the last 7 days", "none", 0, time.Time{}),
		finding(trackplan.PlannedNotSeen, trackplan.SeverityError, "Integration Connected", "", "traffic in the last 7 days", "none", 0, days(12)),
		finding(trackplan.DeprecatedStillSeen, trackplan.SeverityWarning, "Legacy Export", "", "no traffic", "12 messages", 12, days(2)),
		finding(trackplan.BestPractice, trackplan.SeverityInfo, "", "", "users with a created_at trait", "40 users without", 40, hours(2)),
	}
	// Example messages, masked as the drift report masks them, and
	// findings first seen before the window.
	findings[4].Samples = []json.RawMessage{
		json.RawMessage(`{"type":"track","event":"Feature Used","userId":"u-alice","properties":{"feature":42},"timestamp":"2026-03-15T11:00:00Z"}`),
		json.RawMessage(`{"type":"track","event":"Feature Used","userId":"u-bob","properties":{"feature":7}}`),
	}
	findings[4].FirstSeenAllTime = days(75)
	findings[5].Samples = []json.RawMessage{
		json.RawMessage(`{"type":"track","event":"Signed Up","userId":"u-erin","properties":{"email":"(pii)","referrer":"ads"}}`),
	}
	findings[6].FirstSeenAllTime = days(30) // the window's own first sighting: not repeated

	def := trackplan.DefaultProfile(plan)
	trial := &trackplan.Profile{Name: "trial", WindowDays: 14, Events: map[string]int{"Signed Up": 5, "Report Exported": 10, "Dashboard Viewed": 3}}

	type acct struct {
		id, name string
		avg      float64
		change   float64
		users    []trackplan.UserScore
	}
	user := func(id string, score int, change float64, freq int, last time.Time, adopt float64, accounts ...string) trackplan.UserScore {
		active := score > 0
		u := trackplan.UserScore{ID: id, Score: score, Raw: int64(score * 3), Active: active, Frequency: freq,
			Band: trackplan.BandOf(float64(score), active), Trend: trackplan.TrendOf(change), Accounts: accounts,
			Adoption: trackplan.Adoption{Window: adopt, AllTime: min(100, adopt+20)}}
		if !last.IsZero() {
			u.LastActive = ptr(last)
		}
		return u
	}
	accts := []acct{
		{"acme", "Acme Corp", 82.5, 14, []trackplan.UserScore{
			user("u-alice", 95, 10, 6, hours(20), 83.3, "acme"),
			user("u-bob", 70, 18, 4, hours(30), 50, "acme"),
			user("u-carol", 0, -5, 0, days(40), 0, "acme", "globex")}},
		{"globex", "Globex", 61, -12, []trackplan.UserScore{
			user("u-dave", 61, -12, 3, days(2), 33.3, "globex")}},
		{"initech", "Initech", 40, 3, []trackplan.UserScore{
			user("u-erin", 48, 4, 2, days(3), 33.3, "initech"),
			user("u-frank", 32, 2, 1, days(5), 16.7, "initech")}},
		{"umbrella", "Umbrella", 12, -2, []trackplan.UserScore{
			user("u-grace", 12, -2, 1, days(6), 16.7, "umbrella")}},
		{"hooli", "Hooli", 0, -20, []trackplan.UserScore{
			user("u-heidi", 0, -20, 0, days(35), 0, "hooli")}},
		{"soylent", "Soylent", 55, 25, []trackplan.UserScore{
			user("u-ivan", 55, 25, 4, hours(40), 50, "soylent")}},
		{"a/b", "Stark & Sons", 77, 0, []trackplan.UserScore{
			user("u-judy", 77, 0, 5, hours(26), 66.7, "a/b")}},
		{"wayne", "wayne", 28, -10, []trackplan.UserScore{
			user("u-ken", 28, -10, 2, days(4), 33.3, "wayne")}},
	}
	run := func(profile string, window int, as []acct) *trackplan.ScoreRun {
		at := time.Date(2026, 3, 15, 6, 0, 0, 0, time.UTC)
		start, end := trackplan.ScoreWindow(at, window)
		r := &trackplan.ScoreRun{Profile: profile, At: at, WindowDays: window, WindowStart: start, WindowEnd: end, P90: 42.5}
		for _, a := range as {
			s := trackplan.AccountScore{ID: a.id, Name: a.name, AverageScore: a.avg, Trend: trackplan.TrendOf(a.change)}
			for _, u := range a.users {
				s.TotalScore += int64(u.Score)
				s.TotalUsers++
				if u.Active {
					s.ActiveUsers++
					s.Frequency = max(s.Frequency, u.Frequency)
				}
				if u.LastActive != nil && (s.LastActive == nil || u.LastActive.After(*s.LastActive)) {
					s.LastActive, s.LastActiveUser = u.LastActive, u.ID
				}
				if !slices.ContainsFunc(r.Users, func(x trackplan.UserScore) bool { return x.ID == u.ID }) {
					r.Users = append(r.Users, u)
					if u.Active {
						r.ActiveUsers++
					}
				}
			}
			s.Band = trackplan.BandOf(a.avg, s.ActiveUsers > 0)
			if s.TotalUsers > 0 {
				s.ActivePct = float64(s.ActiveUsers*1000/s.TotalUsers) / 10
			}
			s.Adoption = trackplan.Adoption{Window: 33.3, AllTime: 50}
			if s.TotalUsers > 1 {
				s.Flags |= trackplan.FlagMultiUser
			}
			r.Accounts = append(r.Accounts, s)
		}
		slices.SortFunc(r.Accounts, func(x, y trackplan.AccountScore) int { return strings.Compare(x.ID, y.ID) })
		slices.SortFunc(r.Users, func(x, y trackplan.UserScore) int { return strings.Compare(x.ID, y.ID) })
		return r
	}
	defRun := run(trackplan.DefaultProfileName, 7, accts)
	defRun.Accounts[0].Activation = fl(66.7) // a/b
	for i := range defRun.Accounts {
		if defRun.Accounts[i].ID == "acme" {
			defRun.Accounts[i].Flags |= trackplan.FlagMature
			defRun.Accounts[i].Activation = fl(100)
		}
	}
	trialRun := run("trial", 14, []acct{accts[0], accts[2], accts[5]})

	history := map[string]map[string][]store.ScorePoint{trackplan.DefaultProfileName: {}, "trial": {}}
	for i, a := range accts {
		var pts []store.ScorePoint
		for d := 13; d >= 0; d-- {
			// A deterministic wobble ending on the account's score.
			s := a.avg - a.change*float64(d)/7 + float64((i*7+d*3)%9-4)
			if d == 0 {
				s = a.avg
			}
			pts = append(pts, store.ScorePoint{At: time.Date(2026, 3, 15-d, 6, 0, 0, 0, time.UTC), Score: min(100, max(0, s))})
		}
		history[trackplan.DefaultProfileName][a.id] = pts
		history["trial"][a.id] = pts[len(pts)-5:]
	}

	volume := map[eventKey][]int64{}
	for i, e := range observed.Events {
		k := eventKey{e.Type, e.Name}
		series := make([]int64, 30)
		for d := range series {
			if e.LastSeen.Before(days(29 - d).Truncate(24 * time.Hour)) {
				continue
			}
			series[d] += e.Count/60 + int64((d*(i+3))%7)
		}
		if prev, ok := volume[k]; ok {
			for d := range series {
				series[d] += prev[d]
			}
		}
		volume[k] = series
	}

	// Plan versions: the first adopted before the volume charts' span, then
	// two edits on one day and one today.
	versions := []store.PlanVersion{
		{ID: "5e1f0c2a9b7d4e31", Origin: "notion:db-1", FirstSeen: hours(1).Add(-5 * time.Minute)},
		{ID: "9a0b7c6d5e4f3a21", Origin: "notion:db-1", FirstSeen: days(10).Add(3 * time.Hour)},
		{ID: "0c4d2e6f8a1b3c5d", Origin: "file:plan.yaml", FirstSeen: days(10).Add(-2 * time.Hour)},
		{ID: "7f3e2d1c0b9a8877", Origin: "template:b2b-saas", FirstSeen: days(45)},
	}

	return &fakeData{
		versions: versions,
		plan:     plan,
		profiles: []*trackplan.Profile{def, trial},
		observed: observed,
		findings: findings,
		runs:     map[string]*trackplan.ScoreRun{trackplan.DefaultProfileName: defRun, "trial": trialRun},
		history:  history,
		volume:   volume,
		traits: map[string]map[string]json.RawMessage{
			"acme": {"name": raw("Acme Corp"), "plan": raw("enterprise"), "mrr": raw(12000), "employees": raw(250),
				"industry": raw("Manufacturing"), "website": raw("https://acme.example"), "created_at": raw("2024-05-02T10:00:00Z")},
			"a/b": {"name": raw("Stark & Sons"), "plan": raw("pro")},
		},
		links: []link{
			{"anon-1", "u-alice", days(30)},
			{"anon-2", "u-alice", days(10)},
			{"alice-old", "u-alice", days(60)}, // an alias's previousId
			{"anon-shared", "u-bob", days(5)},
			{"anon-shared", "u-dave", days(2)}, // a conflict: stays with u-bob
		},
		userTraits: map[string]map[string]any{
			"u-alice":   {"email": "alice@acme.example", "name": "Alice Liddell", "seats": 12.0},
			"anon-1":    {"name": "Anonymous Alice", "utm_source": "newsletter"},
			"alice-old": {"plan_interest": "pro", "utm_source": "ads"},
			"u-bob":     {"email": "bob@acme.example"},
		},
		activity: map[string][]EventUse{
			"acme": {
				{Event: "Report Exported", Window: 14, Total: 220, LastSeen: hours(20)},
				{Event: "Signed Up", Window: 1, Total: 3, LastSeen: days(3)},
				{Event: "Dashboard Viewed", Window: 0, Total: 410, LastSeen: days(9)},
			},
			"a/b": {
				{Event: "Dashboard Viewed", Window: 31, Total: 95, LastSeen: hours(26)},
				{Event: "Feature Used", Window: 6, Total: 40, LastSeen: days(2)},
				{Event: "Signed Up", Window: 0, Total: 1, LastSeen: days(70)},
			},
		},
	}
}

// bigFixture has n accounts of five users each, with 30 points of history
// each, for the benchmarks and the pagination test.
func bigFixture(n int) *fakeData {
	f := fixture()
	at := time.Date(2026, 3, 15, 6, 0, 0, 0, time.UTC)
	start, end := trackplan.ScoreWindow(at, 7)
	r := &trackplan.ScoreRun{Profile: trackplan.DefaultProfileName, At: at, WindowDays: 7, WindowStart: start, WindowEnd: end, P90: 120}
	hist := map[string][]store.ScorePoint{}
	last := hours(20)
	for i := range n {
		id := fmt.Sprintf("acct-%05d", i)
		active := i%11 != 0
		avg := float64((i*37)%1000) / 10
		if !active {
			avg = 0
		}
		a := trackplan.AccountScore{ID: id, Name: fmt.Sprintf("Account %05d", i), AverageScore: avg,
			Band: trackplan.BandOf(avg, active), Trend: trackplan.TrendOf(float64((i*13)%41 - 20)),
			ActiveUsers: 3, TotalUsers: 5, ActivePct: 60, Frequency: i % 8, LastActive: &last, TotalScore: int64(avg * 3)}
		r.Accounts = append(r.Accounts, a)
		for j := range 5 {
			score := (i*7 + j*13) % 101
			r.Users = append(r.Users, trackplan.UserScore{ID: fmt.Sprintf("%s-u%d", id, j), Score: score, Active: score > 0,
				Band: trackplan.BandOf(float64(score), score > 0), Accounts: []string{id}, LastActive: &last})
			if score > 0 {
				r.ActiveUsers++
			}
		}
		pts := make([]store.ScorePoint, 30)
		for d := range pts {
			pts[d] = store.ScorePoint{At: at.AddDate(0, 0, d-29), Score: float64((i + d*7) % 100)}
		}
		hist[id] = pts
	}
	f.runs = map[string]*trackplan.ScoreRun{trackplan.DefaultProfileName: r}
	f.history = map[string]map[string][]store.ScorePoint{trackplan.DefaultProfileName: hist}
	f.profiles = f.profiles[:1]
	return f
}
