package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/notion/notiontest"
	"github.com/trackplan/trackplan/planfile"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/templates"
)

func sortedPlan(p *trackplan.Plan) *trackplan.Plan {
	slices.SortFunc(p.Events, func(a, b *trackplan.Event) int { return strings.Compare(a.Name, b.Name) })
	for _, e := range p.Events {
		slices.SortFunc(e.Properties, func(a, b *trackplan.Property) int { return strings.Compare(a.Name, b.Name) })
	}
	return p
}

// TestNotionRoundTripAndSync runs the Notion commands against the fake
// Notion API, on each API version: init from the template, pull it back unchanged, push it with
// no writes, write observations back twice (the second run writes nothing),
// and a wrong token gives exit code 3.
func TestNotionRoundTripAndSync(t *testing.T) {
	for _, version := range notionVersions {
		t.Run(version, func(t *testing.T) {
			t.Setenv("TRACKPLAN_NOTION_API_VERSION", version)
			notionRoundTripAndSync(t)
		})
	}
}

// notionVersions are the Notion API versions the Notion commands are
// tested on.
var notionVersions = []string{"2025-09-03", "2022-06-28"}

func notionRoundTripAndSync(t *testing.T) {
	srv := notiontest.New(t, notiontest.Options{})
	t.Setenv("NOTION_TOKEN", notiontest.DefaultToken)
	url := "--notion-url=" + srv.URL
	t.Setenv("TRACKPLAN_NOTION_RATE", "1000")

	code, out, stderr := trackplanRun(t, url, "plan", "init", "--template", "b2b-saas", "--notion-parent", notiontest.RootPage)
	if code != 0 {
		t.Fatalf("plan init: %d %s", code, stderr)
	}
	m := regexp.MustCompile(`--plan notion:(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("plan init did not print the database id:\n%s", out)
	}
	planFlag := "--plan=notion:" + m[1]

	code, pulled, stderr := trackplanRun(t, planFlag, url, "plan", "pull")
	if code != 0 {
		t.Fatalf("plan pull: %d %s", code, stderr)
	}
	got, err := planfile.Parse([]byte(pulled), planfile.YAML)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := templates.Plan("b2b-saas")
	if diff := cmp.Diff(sortedPlan(want), sortedPlan(got)); diff != "" {
		t.Errorf("pulled plan differs from the template (-want +got):\n%s", diff)
	}

	file := filepath.Join(t.TempDir(), "plan.yaml")
	if code, _, stderr := trackplanRun(t, "plan", "init", "--out", file); code != 0 {
		t.Fatal(stderr)
	}
	writes := srv.Writes()
	code, out, stderr = trackplanRun(t, planFlag, url, "plan", "push", file)
	if code != 0 || !strings.Contains(out, "nothing to change") || srv.Writes() != writes {
		t.Errorf("push of the same plan: exit %d, %d writes\n%s%s", code, srv.Writes()-writes, out, stderr)
	}

	db := filepath.Join(t.TempDir(), "t.db")
	events := writeDriftEvents(t, time.Now().UTC())
	if code, _, stderr := trackplanRun(t, "--db", db, "import", events); code != 0 {
		t.Fatal(stderr)
	}
	code, out, stderr = trackplanRun(t, "--db", db, planFlag, url, "sync")
	if code != 0 || !strings.Contains(out, "changed") {
		t.Fatalf("first sync: exit %d\n%s%s", code, out, stderr)
	}
	if !strings.Contains(out, "Report Shared") {
		t.Errorf("the unplanned event was not added:\n%s", out)
	}
	// The store follows the Notion plan, and knows when it was edited there.
	if st, err := sqlite.Open(t.Context(), db, store.DefaultLimits()); err != nil {
		t.Error(err)
	} else {
		v, err := st.VerdictPlan(t.Context())
		st.Close()
		if err != nil || v.Origin != strings.TrimPrefix(planFlag, "--plan=") || v.EditedAt.IsZero() {
			t.Errorf("the store follows %+v (%v); want the Notion plan with its last edit time", v, err)
		}
	}
	// The row added for the unplanned event is part of the plan now: the
	// second sync judges by that plan, so the row's Drift column no
	// longer says unplanned. A third sync has nothing to change.
	code, out, _ = trackplanRun(t, "--db", db, planFlag, url, "sync")
	if code != 0 || strings.Contains(out, "created") && !strings.Contains(out, "0 created") {
		t.Errorf("second sync: exit %d\n%s", code, out)
	}
	writes = srv.Writes()
	code, out, _ = trackplanRun(t, "--db", db, planFlag, url, "sync")
	if code != 0 || srv.Writes() != writes || !strings.Contains(out, "nothing to change") {
		t.Errorf("third sync: exit %d, %d writes\n%s", code, srv.Writes()-writes, out)
	}

	// Every query went through the version's endpoint.
	route, other := "POST /v1/data_sources/{id}/query", "POST /v1/databases/{id}/query"
	if os.Getenv("TRACKPLAN_NOTION_API_VERSION") == "2022-06-28" {
		route, other = other, route
	}
	if c := srv.Counts(); c[route] == 0 || c[other] != 0 {
		t.Errorf("queries %v: want %s only", c, route)
	}

	t.Setenv("NOTION_TOKEN", "secret_wrong")
	code, _, stderr = trackplanRun(t, planFlag, url, "plan", "pull")
	if code != exitUpstream || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || strings.Contains(stderr, "secret_wrong") {
		t.Errorf("wrong token: exit %d, stderr %q; want exit 3 and one line without the token", code, stderr)
	}
}

// TestNotionSeveralDataSources: a team adds a second data source to its
// Events database. On 2022-06-28 every Notion command fails with one line
// saying what to do (exit 3); on 2025-09-03 they work on the first source,
// say so, and notion.events_source or a data source's id picks another.
func TestNotionSeveralDataSources(t *testing.T) {
	srv := notiontest.New(t, notiontest.Options{})
	t.Setenv("NOTION_TOKEN", notiontest.DefaultToken)
	t.Setenv("TRACKPLAN_NOTION_RATE", "1000")
	url := "--notion-url=" + srv.URL
	code, out, stderr := trackplanRun(t, url, "plan", "init", "--template", "b2b-saas", "--notion-parent", notiontest.RootPage)
	if code != 0 {
		t.Fatalf("plan init: %d %s", code, stderr)
	}
	m := regexp.MustCompile(`--plan notion:(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("plan init did not print the database id:\n%s", out)
	}
	eventsDB, planFlag := m[1], "--plan=notion:"+m[1]
	ds, err := srv.AddDataSource(eventsDB, "Deprecated events")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.CreatePage(ds, map[string]any{
		"Name":   map[string]any{"title": []any{map[string]any{"text": map[string]any{"content": "Legacy Export Clicked"}}}},
		"Type":   map[string]any{"select": map[string]any{"name": "track"}},
		"Status": map[string]any{"select": map[string]any{"name": "deprecated"}},
	}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "plan.yaml")
	if code, _, stderr := trackplanRun(t, "plan", "init", "--out", file); code != 0 {
		t.Fatal(stderr)
	}

	t.Setenv("TRACKPLAN_NOTION_API_VERSION", "2022-06-28")
	for _, args := range [][]string{{"plan", "pull"}, {"plan", "push", file}} {
		code, _, stderr := trackplanRun(t, append([]string{planFlag, url}, args...)...)
		if code != exitUpstream || strings.Count(strings.TrimSpace(stderr), "\n") != 0 ||
			!strings.Contains(stderr, "several data sources") || !strings.Contains(stderr, "notion.api_version to 2025-09-03") {
			t.Errorf("%v on 2022-06-28: exit %d, stderr %q; want exit 3 and one line saying to use 2025-09-03", args, code, stderr)
		}
	}

	t.Setenv("TRACKPLAN_NOTION_API_VERSION", "2025-09-03")
	code, pulled, stderr := trackplanRun(t, planFlag, url, "plan", "pull")
	if code != 0 {
		t.Fatalf("plan pull on 2025-09-03: %d %s", code, stderr)
	}
	got, err := planfile.Parse([]byte(pulled), planfile.YAML)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := templates.Plan("b2b-saas")
	if diff := cmp.Diff(sortedPlan(want), sortedPlan(got)); diff != "" {
		t.Errorf("pulled plan differs from the template (-want +got):\n%s", diff)
	}
	if !strings.Contains(stderr, "several data sources") || !strings.Contains(stderr, "the first") || !strings.Contains(stderr, "Deprecated events") {
		t.Errorf("plan pull does not say which data source it read:\n%s", stderr)
	}
	writes := srv.Writes()
	if code, out, stderr := trackplanRun(t, planFlag, url, "plan", "push", file); code != 0 || srv.Writes() != writes || !strings.Contains(out, "nothing to change") {
		t.Errorf("push of the same plan: exit %d, %d writes\n%s%s", code, srv.Writes()-writes, out, stderr)
	}

	// The other source, by name or by locating it directly.
	for _, pick := range []struct{ env, plan string }{
		{"Deprecated events", planFlag},
		{"", "--plan=notion:collection://" + ds},
	} {
		t.Setenv("TRACKPLAN_NOTION_EVENTS_SOURCE", pick.env)
		code, pulled, stderr := trackplanRun(t, pick.plan, url, "plan", "pull")
		if code != 0 {
			t.Errorf("%+v: plan pull: %d %s", pick, code, stderr)
			continue
		}
		got, err := planfile.Parse([]byte(pulled), planfile.YAML)
		if err != nil || len(got.Events) != 1 || got.Events[0].Name != "Legacy Export Clicked" {
			t.Errorf("%+v: pulled %v (%v); want the second source's one event", pick, got, err)
		}
	}
	t.Setenv("TRACKPLAN_NOTION_EVENTS_SOURCE", "Archive")
	if code, _, stderr := trackplanRun(t, planFlag, url, "plan", "pull"); code != exitUsage || !strings.Contains(stderr, `"Deprecated events"`) {
		t.Errorf("unknown data source: exit %d, %s; want exit 2 naming the sources", code, stderr)
	}
}
