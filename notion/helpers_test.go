package notion_test

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/notion"
	"github.com/trackplan/trackplan/notion/notiontest"
)

var testUsers = []notiontest.User{
	{ID: "5d4e1a52-0000-4000-8000-000000000001", Name: "Data Team", Email: "data@example.com"},
	{ID: "5d4e1a52-0000-4000-8000-000000000002", Name: "Ana Lytics", Email: "ana@example.com"},
}

// versions are the Notion API versions the whole suite runs on.
var versions = []string{notion.Version20250903, notion.Version20220628}

// eachVersion runs f as one subtest per API version, named by it; the
// clients newClient and initPlan make in it speak that version.
func eachVersion(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, v := range versions {
		t.Run(v, f)
	}
}

// versionOf returns the API version of the subtest t is (part of).
func versionOf(t testing.TB) string {
	for _, part := range strings.Split(t.Name(), "/") {
		if slices.Contains(versions, part) {
			return part
		}
	}
	return notion.DefaultAPIVersion
}

// sources reports whether t speaks data sources (2025-09-03).
func sources(t testing.TB) bool { return versionOf(t) == notion.Version20250903 }

// queryRoute is the route rows are queried through.
func queryRoute(t testing.TB) string {
	if sources(t) {
		return "POST /v1/data_sources/{id}/query"
	}
	return "POST /v1/databases/{id}/query"
}

// readCounts is what reading the databases costs: on 2022-06-28 one
// retrieve per database; on 2025-09-03 the Events database's retrieve (its
// data sources), then its data source's and the Properties data source's
// (found through the relation). queries counts the queries, extra the
// other requests.
func readCounts(t testing.TB, databases, queries int, extra map[string]int) map[string]int {
	out := map[string]int{queryRoute(t): queries}
	if sources(t) {
		out["GET /v1/databases/{id}"] = 1
		out["GET /v1/data_sources/{id}"] = databases
	} else {
		out["GET /v1/databases/{id}"] = databases
	}
	for k, v := range extra {
		out[k] += v
	}
	return out
}

// fixedNow is the clock of every test client.
func fixedNow() time.Time { return time.Date(2026, 3, 4, 10, 30, 0, 0, time.UTC) }

// sleeps records the waits of a client instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.d)
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type client struct {
	*notion.Client
	sleeps *sleeps
	logs   *syncBuffer
}

// newClient returns a client of srv with instant waits and a fixed clock.
func newClient(t *testing.T, srv *notiontest.Server, events, props string, mods ...func(*notion.Config)) client {
	t.Helper()
	sl := &sleeps{}
	logs := &syncBuffer{}
	cfg := notion.Config{
		APIVersion:   versionOf(t),
		Token:        notiontest.DefaultToken,
		BaseURL:      srv.URL,
		EventsDB:     events,
		PropertiesDB: props,
		Rate:         math.Inf(1),
		MinBackoff:   time.Millisecond,
		Timeout:      10 * time.Second,
		Now:          fixedNow,
		Sleep:        sl.sleep,
		Logger:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := notion.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client{Client: c, sleeps: sl, logs: logs}
}

func f64(v float64) *float64 { return &v }

// samplePlan exercises every column: shared property rows, a property name
// with two definitions, long text in several chunks, an allowed value with
// a comma, two owners, numbers to clear.
func samplePlan() *trackplan.Plan {
	long := strings.Repeat("Exports are counted once per file 📊, whatever the format. ", 80)
	return &trackplan.Plan{Version: 1, Events: []*trackplan.Event{
		{Name: "Account Created", Type: trackplan.Track, Description: "An account was created.", Why: "Activation KPI",
			Status: trackplan.StatusLive, Owner: "data@example.com", Tags: []string{"core", "account"}, Platforms: []string{"web", "api"}, Weight: 3,
			Properties: []*trackplan.Property{
				{Name: "account_name", Type: trackplan.PropString, Required: true},
				{Name: "plan", Type: trackplan.PropString, Enum: []string{"free", "pro", "enterprise"}},
			}},
		{Name: "Report Exported", Type: trackplan.Track, Description: long, Status: trackplan.StatusImplemented,
			Owner: "ana@example.com, data@example.com", Weight: 6,
			Properties: []*trackplan.Property{
				{Name: "account_name", Type: trackplan.PropString, Required: true},
				{Name: "filter", Type: trackplan.PropString, Enum: []string{"a, b"}, Description: "line one\nline two"},
				{Name: "format", Type: trackplan.PropString, Required: true, Enum: []string{"csv", "pdf", "xlsx"}},
				{Name: "plan", Type: trackplan.PropString, Description: "free text here"},
				{Name: "row_count", Type: trackplan.PropInteger, Min: f64(0), Max: f64(1e6)},
			}},
		{Name: "identify", Type: trackplan.Identify, Status: trackplan.StatusLive, Properties: []*trackplan.Property{
			{Name: "created_at", Type: trackplan.PropDatetime},
			{Name: "email", Type: trackplan.PropString, Required: true, PII: true, Pattern: `^[^@]+@[^@]+$`},
		}},
		{Name: "group", Type: trackplan.Group, Properties: []*trackplan.Property{
			{Name: "employees", Type: trackplan.PropInteger, Nullable: true, Min: f64(0.5)},
			{Name: "name", Type: trackplan.PropString, Required: true},
			{Name: "plan", Type: trackplan.PropString, Enum: []string{"free", "pro", "enterprise"}},
		}},
		{Name: "Signed Up", Type: trackplan.Track, Status: trackplan.StatusPlanned},
		{Name: "Dashboard Viewed", Type: trackplan.Page, Status: trackplan.StatusProposed, Weight: 10, Tags: []string{"ui"}},
	}}
}

// canonical returns a copy of p ordered as ReadPlan orders a plan.
func canonical(p *trackplan.Plan) *trackplan.Plan {
	out := &trackplan.Plan{Version: p.Version}
	for _, e := range p.Events {
		c := *e
		c.Properties = slices.Clone(e.Properties)
		slices.SortStableFunc(c.Properties, func(a, b *trackplan.Property) int { return strings.Compare(a.Name, b.Name) })
		out.Events = append(out.Events, &c)
	}
	slices.SortStableFunc(out.Events, func(a, b *trackplan.Event) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// initPlan creates the databases from p and returns a client of them (the
// Properties database found through the Events one).
func initPlan(t *testing.T, srv *notiontest.Server, p *trackplan.Plan, mods ...func(*notion.Config)) (client, *notion.InitResult) {
	t.Helper()
	c := newClient(t, srv, "", "", mods...)
	res, err := c.Init(context.Background(), notiontest.RootPage, p, notion.InitOptions{})
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	return newClient(t, srv, res.EventsDB, "", mods...), res
}
