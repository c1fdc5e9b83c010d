package notion_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/notion"
	"github.com/trackplan/trackplan/notion/notiontest"
)

// twoSources makes the plan's databases and gives the Events database a
// second data source, "Deprecated events", with one row, the way a team
// adds one in Notion. It returns the init result and the new source's id.
func twoSources(t *testing.T, srv *notiontest.Server) (*notion.InitResult, string) {
	t.Helper()
	_, res := initPlan(t, srv, samplePlan())
	ds, err := srv.AddDataSource(res.EventsDB, "Deprecated events")
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
	return res, ds
}

// TestSeveralDataSourcesOn20220628: once the Events database has a second
// data source, Notion fails every read and write of version 2022-06-28 on
// it; trackplan writes nothing and says, in one line, to move to
// 2025-09-03 and how to pick the plan's source.
func TestSeveralDataSourcesOn20220628(t *testing.T) {
	ctx := context.Background()
	srv := notiontest.New(t, notiontest.Options{Users: testUsers})
	t.Run(notion.Version20220628, func(t *testing.T) {
		res, _ := twoSources(t, srv)
		srv.ResetCounts()
		c := newClient(t, srv, res.EventsDB, "")
		ops := map[string]func() error{
			"read": func() error { _, err := c.ReadPlan(ctx); return err },
			"push": func() error { _, err := c.Push(ctx, editedPlan(), notion.PushOptions{}); return err },
			"write-back": func() error {
				_, err := c.WriteObserved(ctx, observations(), propertyObservations(), notion.WriteOptions{AddUnplanned: true})
				return err
			},
		}
		for op, run := range ops {
			err := run()
			if err == nil {
				t.Fatalf("%s: no error on a database with two data sources", op)
			}
			msg := err.Error()
			for _, want := range []string{"events database " + res.EventsDB, "several data sources", "notion.api_version", "2025-09-03", "notion.events_source"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%s: error %q does not say %q", op, msg, want)
				}
			}
			if strings.Contains(msg, "\n") || !notion.SeveralSources(err) {
				t.Errorf("%s: want one line recognised as Notion's several-sources answer, got %q", op, msg)
			}
		}
		if srv.Writes() != 0 {
			t.Errorf("%d writes after Notion refused the database", srv.Writes())
		}
	})
}

// TestSeveralDataSourcesOn20250903: with two data sources the plan is the
// first one's unless notion.events_source names another; everything keeps
// working, a no-change push and write-back make no write, and the choice
// is logged.
func TestSeveralDataSourcesOn20250903(t *testing.T) {
	ctx := context.Background()
	srv := notiontest.New(t, notiontest.Options{Users: testUsers})
	t.Run(notion.Version20250903, func(t *testing.T) {
		res, ds := twoSources(t, srv)
		c := newClient(t, srv, res.EventsDB, "")
		got, err := c.ReadPlan(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if diff := cmp.Diff(canonical(samplePlan()), got.Plan); diff != "" {
			t.Errorf("plan of the first data source (-want +got):\n%s", diff)
		}
		loc := got.Location.Events
		if loc.Sources != 2 || loc.Database == "" || strings.EqualFold(loc.ID, ds) {
			t.Errorf("location %+v: want the first of 2 data sources", loc)
		}
		if logs := c.logs.String(); !strings.Contains(logs, "several data sources") || !strings.Contains(logs, "the first") {
			t.Errorf("the choice of data source is not logged:\n%s", logs)
		}

		srv.ResetCounts()
		if ch, err := c.Push(ctx, samplePlan(), notion.PushOptions{}); err != nil || len(ch) != 0 || srv.Writes() != 0 {
			t.Errorf("push of the same plan: %v, %d writes, %v", ch, srv.Writes(), err)
		}
		ch, err := c.Push(ctx, editedPlan(), notion.PushOptions{Prune: true})
		if err != nil || len(ch) == 0 {
			t.Fatalf("push of an edited plan: %v %v", ch, err)
		}
		if got, err := c.ReadPlan(ctx); err != nil {
			t.Fatal(err)
		} else if diff := cmp.Diff(canonical(editedPlan()), got.Plan); diff != "" {
			t.Errorf("edited plan read back (-want +got):\n%s", diff)
		}
		if _, err := c.WriteObserved(ctx, observations(), propertyObservations(), notion.WriteOptions{AddUnplanned: true}); err != nil {
			t.Fatalf("write-back: %v", err)
		}
		srv.ResetCounts()
		if ch, err := c.WriteObserved(ctx, observations(), propertyObservations(), notion.WriteOptions{AddUnplanned: true}); err != nil || len(ch) != 0 || srv.Writes() != 0 {
			t.Errorf("second write-back: %v, %d writes, %v", ch, srv.Writes(), err)
		}
		// The second source's rows stay apart.
		rows, _ := srv.Rows(ds)
		if len(rows) != 1 || rows[0].Name != "Legacy Export Clicked" {
			t.Errorf("the second data source was written to: %v", rows)
		}

		// notion.events_source picks the other one, by name (any case) or id;
		// the database's id, one of its data sources' or their URLs locate it.
		for _, pick := range []struct{ db, source string }{
			{res.EventsDB, "Deprecated events"},
			{res.EventsDB, "deprecated EVENTS"},
			{res.EventsDB, ds},
			{ds, ""},
			{"https://www.notion.so/acme/Tracking-plan-Events-" + strings.ReplaceAll(res.EventsDB, "-", "") + "?v=0123456789abcdef0123456789abcdef", "Deprecated events"},
			{"collection://" + ds, ""},
		} {
			c := newClient(t, srv, pick.db, "", func(cfg *notion.Config) { cfg.EventsSource = pick.source })
			got, err := c.ReadPlan(ctx)
			if err != nil {
				t.Errorf("%+v: %v", pick, err)
				continue
			}
			if len(got.Plan.Events) != 1 || got.Plan.Events[0].Name != "Legacy Export Clicked" || got.Plan.Events[0].Status != trackplan.StatusDeprecated {
				t.Errorf("%+v: plan %v, want the second source's one event", pick, got.Plan.Events)
			}
			if !strings.EqualFold(got.Location.Events.ID, ds) || !strings.EqualFold(got.Location.Events.Database, res.EventsDB) {
				t.Errorf("%+v: location %+v", pick, got.Location.Events)
			}
		}

		c = newClient(t, srv, res.EventsDB, "", func(cfg *notion.Config) { cfg.EventsSource = "Archive" })
		_, err = c.ReadPlan(ctx)
		var ve *trackplan.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "notion.events_source") || !strings.Contains(err.Error(), `"Deprecated events"`) {
			t.Errorf("unknown data source: %v; want a config error naming the sources", err)
		}
	})
}

func TestParseID(t *testing.T) {
	const want = "1a2b3c4d-5e6f-4a0b-9c8d-0123456789ab"
	for _, in := range []string{
		"1a2b3c4d5e6f4a0b9c8d0123456789ab",
		"1A2B3C4D-5E6F-4A0B-9C8D-0123456789AB",
		" 1a2b3c4d5e6f4a0b9c8d0123456789ab ",
		"https://www.notion.so/1a2b3c4d5e6f4a0b9c8d0123456789ab",
		"https://www.notion.so/acme/Tracking-plan-Events-1a2b3c4d5e6f4a0b9c8d0123456789ab?v=ffffffffffffffffffffffffffffffff",
		"https://acme.notion.site/Events-1a2b3c4d5e6f4a0b9c8d0123456789ab",
		"https://www.notion.so/acme/1a2b3c4d-5e6f-4a0b-9c8d-0123456789ab",
		"collection://1a2b3c4d-5e6f-4a0b-9c8d-0123456789ab",
	} {
		got, err := notion.ParseID(in)
		if err != nil || got != want {
			t.Errorf("ParseID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "https://www.notion.so/acme/Events", "1a2b3c4d5e6f4a0b9c8d0123456789ax"} {
		if got, err := notion.ParseID(in); err == nil {
			t.Errorf("ParseID(%q) = %q, want an error", in, got)
		}
	}
}
