package notion_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/notion"
	"github.com/trackplan/trackplan/notion/notiontest"
)

func TestRoundTrip(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		srv := notiontest.New(t, notiontest.Options{Users: testUsers})
		plan := samplePlan()

		c := newClient(t, srv, "", "")
		res, err := c.Init(ctx, notiontest.RootPage, plan, notion.InitOptions{})
		if err != nil {
			t.Fatalf("init: %v", err)
		}
		t.Logf("init: %d requests: %v (%d changes)", srv.Total(), srv.Counts(), len(res.Changes))
		if got, want := res.Changes.Count(notion.Created), 6+10; got != want {
			t.Errorf("init created %d rows, want %d:\n%s", got, want, res.Changes)
		}

		srv.ResetCounts()
		r := newClient(t, srv, res.EventsDB, "") // the Properties database is found through the relation
		got, err := r.ReadPlan(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if len(got.Problems) > 0 {
			t.Errorf("problems: %v", got.Problems)
		}
		if diff := cmp.Diff(canonical(plan), got.Plan); diff != "" {
			t.Errorf("plan read back (-want +got):\n%s", diff)
		}
		wantReads := readCounts(t, 2, 2, nil)
		if diff := cmp.Diff(wantReads, srv.Counts()); diff != "" {
			t.Errorf("read requests (-want +got):\n%s", diff)
		}

		srv.ResetCounts()
		changes, err := r.Push(ctx, plan, notion.PushOptions{})
		if err != nil {
			t.Fatalf("push: %v", err)
		}
		if len(changes) != 0 || srv.Writes() != 0 {
			t.Errorf("push of the same plan: %d changes, %d writes, want none:\n%s", len(changes), srv.Writes(), changes)
		}
		if diff := cmp.Diff(wantReads, srv.Counts()); diff != "" {
			t.Errorf("push requests (-want +got):\n%s", diff)
		}
		t.Logf("read: %v; push unchanged: %v; client total %s", wantReads, srv.Counts(), r.Requests())
	})
}

// bigPlan has 300 events and 1,000 Properties rows: 990 properties of one
// event each, and shared properties linked to 25, 26, 30, 60, 100, 150 (two
// rows) and 300 (three rows) events.
func bigPlan() (*trackplan.Plan, int) {
	plan := &trackplan.Plan{Version: 1}
	for i := range 300 {
		e := &trackplan.Event{Name: fmt.Sprintf("Event %03d Done", i), Type: trackplan.Track, Status: trackplan.StatusLive}
		extra := 3
		if i < 90 {
			extra = 4
		}
		for j := range extra {
			e.Properties = append(e.Properties, &trackplan.Property{Name: fmt.Sprintf("p%03d_%d", i, j), Type: trackplan.PropString})
		}
		plan.Events = append(plan.Events, e)
	}
	itemCalls := 0
	for _, sh := range []struct {
		name string
		n    int
	}{{"shared_f", 25}, {"shared_g", 26}, {"shared_a", 30}, {"shared_b", 60}, {"shared_c", 100}, {"shared_d", 150}, {"shared_e", 300}} {
		for i := range sh.n {
			plan.Events[i].Properties = append(plan.Events[i].Properties, &trackplan.Property{Name: sh.name, Type: trackplan.PropNumber})
		}
		// Rows of at most 100 events; each row over 25 costs one item call.
		for left := sh.n; left > 0; left -= 100 {
			if min(left, 100) > 25 {
				itemCalls++
			}
		}
	}
	return plan, itemCalls
}

func TestReadBigPlanRequestCount(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		srv := notiontest.New(t, notiontest.Options{})
		plan, itemCalls := bigPlan()
		if itemCalls != 9 {
			t.Fatalf("plan needs %d item calls, want 9", itemCalls)
		}
		c, res := initPlan(t, srv, plan)
		if got := res.Changes.Count(notion.Created); got != 300+1000 {
			t.Fatalf("init created %d rows, want 1300", got)
		}

		srv.ResetCounts()
		got, err := c.ReadPlan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(canonical(plan), got.Plan); diff != "" {
			t.Errorf("plan read back (-want +got):\n%s", diff)
		}
		want := readCounts(t, 2,
			3+10, // 300 events, 1,000 properties, 100 a page
			map[string]int{"GET /v1/pages/{id}/properties/{prop}": 9}) // one per row linked to more than 25 events
		if diff := cmp.Diff(want, srv.Counts()); diff != "" {
			t.Errorf("requests (-want +got):\n%s", diff)
		}

		srv.ResetCounts()
		changes, err := c.Push(ctx, plan, notion.PushOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 0 || srv.Writes() != 0 {
			t.Errorf("push of the same plan: %d changes, %d writes", len(changes), srv.Writes())
		}
		if diff := cmp.Diff(want, srv.Counts()); diff != "" {
			t.Errorf("push requests (-want +got):\n%s", diff)
		}
	})
}

// editedPlan changes samplePlan in every way Push handles.
func editedPlan() *trackplan.Plan {
	p := samplePlan()
	ac := p.Events[0]
	ac.Weight = 4
	ac.Tags = []string{"core"}
	ac.Status = ""
	ac.Properties[1].Enum = append(ac.Properties[1].Enum, "team") // plan of Account Created parts from group's
	re := p.Events[1]
	re.Properties[4].Min, re.Properties[4].Max = nil, nil // cleared numbers
	re.Properties[2].Type = ""                            // cleared select
	re.Properties = append(re.Properties[:1], re.Properties[2:]...)
	p.Events = append(p.Events[:4], p.Events[5:]...) // Signed Up leaves the plan
	p.Events = append(p.Events, &trackplan.Event{Name: "Invite Sent", Type: trackplan.Track, Weight: 2,
		Properties: []*trackplan.Property{{Name: "invitee_email", Type: trackplan.PropString, PII: true}, {Name: "account_name", Type: trackplan.PropString, Required: true}}})
	return p
}

func TestPushChanges(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		srv := notiontest.New(t, notiontest.Options{Users: testUsers})
		c, res := initPlan(t, srv, samplePlan())
		edited := editedPlan()

		srv.ResetCounts()
		dry, err := c.Push(ctx, edited, notion.PushOptions{Prune: true, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if srv.Writes() != 0 {
			t.Errorf("dry run wrote %d times", srv.Writes())
		}
		changes, err := c.Push(ctx, edited, notion.PushOptions{Prune: true})
		if err != nil {
			t.Fatal(err)
		}
		strip := func(cs notion.Changes) []string {
			var out []string
			for _, ch := range cs {
				ch.PageID = ""
				out = append(out, ch.String())
			}
			return out
		}
		if diff := cmp.Diff(strip(dry), strip(changes)); diff != "" {
			t.Errorf("dry run and run differ (-dry +run):\n%s", diff)
		}
		want := []string{
			`updated events row "Account Created": Status, Tags, Weight`,
			`created events row "Invite Sent": Name, Type, Weight`,
			`updated properties row "account_name" (Account Created, Report Exported, Invite Sent): Events`,
			`created properties row "plan" (Account Created): Name, Events, Type, Allowed values`,
			`updated properties row "format" (Report Exported): Type`,
			`updated properties row "row_count" (Report Exported): Min, Max`,
			`updated properties row "plan" (group): Events`,
			`created properties row "invitee_email" (Invite Sent): Name, Events, Type, PII`,
			`archived properties row "filter" (Report Exported)`,
			`archived events row "Signed Up"`,
		}
		if diff := cmp.Diff(want, strip(changes)); diff != "" {
			t.Errorf("changes (-want +got):\n%s", diff)
		}
		if got := srv.Writes(); got != len(want) {
			t.Errorf("%d writes for %d changes", got, len(want))
		}

		got, err := c.ReadPlan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(canonical(edited), got.Plan); diff != "" {
			t.Errorf("plan read back (-want +got):\n%s", diff)
		}
		again, err := c.Push(ctx, edited, notion.PushOptions{Prune: true})
		if err != nil || len(again) != 0 {
			t.Errorf("second push: %v, %v", again, err)
		}
		_ = res
	})
}

func TestPushWithoutPruneKeepsRowsButUnlinksThem(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		srv := notiontest.New(t, notiontest.Options{Users: testUsers})
		c, res := initPlan(t, srv, samplePlan())
		edited := samplePlan()
		edited.Events[1].Properties = edited.Events[1].Properties[2:] // Report Exported loses account_name and filter
		edited.Events = edited.Events[1:]                             // Account Created leaves the plan
		if _, err := c.Push(ctx, edited, notion.PushOptions{}); err != nil {
			t.Fatal(err)
		}
		rows, err := srv.Rows(res.PropertiesDB)
		if err != nil {
			t.Fatal(err)
		}
		links := map[string]string{}
		for _, r := range rows {
			links[r.Name+"/"+r.Values["Type"]+"/"+r.Values["Allowed values"]] = r.Values["Events"]
		}
		// account_name stays linked to Account Created, which is not in the
		// plan and so not the plan's to change; filter is no one's now.
		if got := links["account_name/string/"]; got != "Account Created" {
			t.Errorf("account_name linked to %q, want Account Created", got)
		}
		if got, ok := links["filter/string/a, b\n"]; !ok || got != "" {
			t.Errorf("filter row: %q (exists %v), want kept and unlinked", got, ok)
		}
		got, err := c.ReadPlan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got.Plan.Events {
			if e.Name == "Report Exported" && e.Property("filter") != nil {
				t.Error("Report Exported still has filter")
			}
			if e.Name == "Account Created" && e.Property("account_name") == nil {
				t.Error("Account Created, kept without prune, lost account_name")
			}
		}
	})
}

// TestFlakyNotion runs read, push and write-back against a Notion that
// answers 429 to every third request and 503 to one in ten.
func TestFlakyNotion(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		srv := notiontest.New(t, notiontest.Options{Users: testUsers})
		c, _ := initPlan(t, srv, samplePlan())
		srv.SetFault(notiontest.Chain(
			notiontest.EveryNth(3, notiontest.Fault{Status: 429, RetryAfter: "1"}),
			notiontest.EveryNth(10, notiontest.Fault{Status: 503}),
		))
		srv.ResetCounts()

		got, err := c.ReadPlan(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if diff := cmp.Diff(canonical(samplePlan()), got.Plan); diff != "" {
			t.Errorf("plan read back (-want +got):\n%s", diff)
		}
		edited := editedPlan()
		if _, err := c.Push(ctx, edited, notion.PushOptions{Prune: true}); err != nil {
			t.Fatalf("push: %v", err)
		}
		got, err = c.ReadPlan(ctx)
		if err != nil {
			t.Fatalf("read after push: %v", err)
		}
		if diff := cmp.Diff(canonical(edited), got.Plan); diff != "" {
			t.Errorf("plan after push (-want +got):\n%s", diff)
		}
		if _, err := c.WriteObserved(ctx, observations(), propertyObservations(), notion.WriteOptions{AddUnplanned: true}); err != nil {
			t.Fatalf("write-back: %v", err)
		}
		again, err := c.WriteObserved(ctx, observations(), propertyObservations(), notion.WriteOptions{AddUnplanned: true})
		if err != nil || len(again) != 0 {
			t.Errorf("second write-back: %v, %v", again, err)
		}

		counts := c.Requests()
		var r429, r503 int64
		for k, n := range counts {
			switch k.Status {
			case 429:
				r429 += n
			case 503:
				r503 += n
			}
		}
		if r429 == 0 || r503 == 0 {
			t.Errorf("no faults met: %s", counts)
		}
		waited := false
		for _, d := range c.sleeps.all() {
			if d == time.Second {
				waited = true
			}
		}
		if !waited {
			t.Errorf("Retry-After: 1 never honoured; waits %v", c.sleeps.all())
		}
		t.Logf("requests: %s", counts)
	})
}

func TestDatabaseErrors(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		srv := notiontest.New(t, notiontest.Options{Users: testUsers})
		_, res := initPlan(t, srv, samplePlan())
		const missingDB = "0123456789abcdef0123456789abcdef"

		tests := []struct {
			name     string
			token    string
			events   string
			props    string
			unshare  string
			sentinel error
			want     []string
		}{
			{name: "wrong token", token: "secret_wrong_token_123", events: res.EventsDB, sentinel: trackplan.ErrUnauthorized,
				want: []string{"events database " + res.EventsDB, "401", "check the integration token"}},
			{name: "unknown events database", events: missingDB, sentinel: trackplan.ErrNotFound,
				want: []string{"events database " + missingDB, "404", "check the database id", "shared with the integration"}},
			{name: "events database not shared", events: res.EventsDB, unshare: res.EventsDB, sentinel: trackplan.ErrNotFound,
				want: []string{"events database " + res.EventsDB, "not found", "shared with the integration"}},
			{name: "properties database not shared", events: res.EventsDB, unshare: res.PropertiesDB, sentinel: trackplan.ErrNotFound,
				want: []string{"properties database " + res.PropertiesDB, "not found", "shared with the integration"}},
			{name: "configured properties database wrong", events: res.EventsDB, props: missingDB, sentinel: trackplan.ErrNotFound,
				want: []string{"properties database " + missingDB, "not found"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				srv.ResetCounts()
				if tt.unshare != "" {
					srv.Unshare(tt.unshare)
					t.Cleanup(func() { srv.Reshare(tt.unshare) })
				}
				c := newClient(t, srv, tt.events, tt.props, func(cfg *notion.Config) {
					if tt.token != "" {
						cfg.Token = tt.token
					}
				})
				ops := map[string]func() error{
					"read": func() error { _, err := c.ReadPlan(ctx); return err },
					"push": func() error { _, err := c.Push(ctx, samplePlan(), notion.PushOptions{}); return err },
					"write-back": func() error {
						_, err := c.WriteObserved(ctx, observations(), propertyObservations(), notion.WriteOptions{})
						return err
					},
				}
				for op, run := range ops {
					err := run()
					if err == nil {
						t.Fatalf("%s: no error", op)
					}
					msg := err.Error()
					if strings.Contains(msg, "\n") {
						t.Errorf("%s: error spans lines: %q", op, msg)
					}
					for _, w := range tt.want {
						if !strings.Contains(msg, w) {
							t.Errorf("%s: error %q does not say %q", op, msg, w)
						}
					}
					if !errors.Is(err, tt.sentinel) {
						t.Errorf("%s: error %q is not %v", op, msg, tt.sentinel)
					}
					var dbErr *notion.DatabaseError
					if !errors.As(err, &dbErr) {
						t.Errorf("%s: error %q is not a *notion.DatabaseError", op, msg)
					}
					if tt.token != "" && (strings.Contains(msg, tt.token) || strings.Contains(c.logs.String(), tt.token)) {
						t.Errorf("%s: the token leaked", op)
					}
				}
				if srv.Writes() != 0 {
					t.Errorf("%d writes", srv.Writes())
				}
			})
		}
	})
}

func TestUnknownColumnTypes(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		srv := notiontest.New(t, notiontest.Options{Users: testUsers})
		c, res := initPlan(t, srv, samplePlan())
		for _, db := range []string{res.EventsDB, res.PropertiesDB} {
			if err := srv.AddColumn(db, "Location", "place", json.RawMessage(`{"zoom":3}`), json.RawMessage(`null`)); err != nil {
				t.Fatal(err)
			}
			if err := srv.AddColumn(db, "Mood", "reaction_v2", nil, json.RawMessage(`{"emoji":[]}`)); err != nil {
				t.Fatal(err)
			}
		}
		// Also a column named like one of trackplan's, of a type it cannot use.
		if err := srv.AddColumn(res.EventsDB, "Why", "place", nil, json.RawMessage(`null`)); err == nil {
			t.Fatal("duplicate column accepted")
		}
		id, err := srv.PageID(res.EventsDB, "Account Created")
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.SetRawValue(id, "Location", json.RawMessage(`{"lat":48.85,"lon":2.35,"name":"Paris"}`)); err != nil {
			t.Fatal(err)
		}

		got, err := c.ReadPlan(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if diff := cmp.Diff(canonical(samplePlan()), got.Plan); diff != "" {
			t.Errorf("plan read back (-want +got):\n%s", diff)
		}
		srv.ResetCounts()
		if ch, err := c.Push(ctx, samplePlan(), notion.PushOptions{}); err != nil || len(ch) != 0 {
			t.Errorf("push: %v %v", ch, err)
		}
		edited := editedPlan()
		if _, err := c.Push(ctx, edited, notion.PushOptions{Prune: true}); err != nil {
			t.Fatalf("push with creates into databases with unknown columns: %v", err)
		}
		if _, err := c.WriteObserved(ctx, observations(), propertyObservations(), notion.WriteOptions{AddUnplanned: true}); err != nil {
			t.Fatalf("write-back: %v", err)
		}
		got, err = c.ReadPlan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(canonical(edited), withoutUnplanned(got.Plan)); diff != "" {
			t.Errorf("plan after push (-want +got):\n%s", diff)
		}
	})
}

// withoutUnplanned drops the rows the write-back added (status proposed,
// no properties, not in editedPlan).
func withoutUnplanned(p *trackplan.Plan) *trackplan.Plan {
	out := &trackplan.Plan{Version: p.Version}
	for _, e := range p.Events {
		if strings.HasPrefix(e.Name, "Unplanned ") {
			continue
		}
		out.Events = append(out.Events, e)
	}
	return out
}

func TestBadRows(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		title := func(s string) map[string]any {
			return map[string]any{"title": []any{map[string]any{"text": map[string]any{"content": s}}}}
		}
		sel := func(s string) map[string]any { return map[string]any{"select": map[string]any{"name": s}} }
		num := func(f float64) map[string]any { return map[string]any{"number": f} }
		text := func(s string) map[string]any {
			return map[string]any{"rich_text": []any{map[string]any{"text": map[string]any{"content": s}}}}
		}

		type env struct {
			srv         *notiontest.Server
			res         *notion.InitResult
			eventID     func(name string) string
			propertyID  func(name string) string
			relateAllTo func(name string) map[string]any
		}
		tests := []struct {
			name  string
			edit  func(t *testing.T, e env) error
			want  string // a problem containing this, "" for none
			check func(t *testing.T, p *trackplan.Plan)
		}{
			{name: "unknown event type skips the row",
				edit: func(t *testing.T, e env) error {
					return e.srv.UpdatePage(e.eventID("Signed Up"), map[string]any{"Type": sel("click")})
				},
				want: `notion events row "Signed Up" column "Type": unknown type "click"`,
				check: func(t *testing.T, p *trackplan.Plan) {
					if p.Lookup(trackplan.Track, "Signed Up") != nil {
						t.Error("Signed Up is still in the plan")
					}
				}},
			{name: "type in another case is fine",
				edit: func(t *testing.T, e env) error {
					return e.srv.UpdatePage(e.eventID("Signed Up"), map[string]any{"Type": sel("Track")})
				},
				check: func(t *testing.T, p *trackplan.Plan) {
					if e := p.Lookup(trackplan.Track, "Signed Up"); e == nil || e.Type != trackplan.Track {
						t.Errorf("Signed Up = %+v", e)
					}
				}},
			{name: "weight not whole",
				edit: func(t *testing.T, e env) error {
					return e.srv.UpdatePage(e.eventID("Account Created"), map[string]any{"Weight": num(2.5)})
				},
				want: `notion events row "Account Created" column "Weight": weight 2.5 is not a whole number from 0 to 10`,
				check: func(t *testing.T, p *trackplan.Plan) {
					if w := p.Lookup(trackplan.Track, "Account Created").Weight; w != 0 {
						t.Errorf("weight = %d, want 0", w)
					}
				}},
			{name: "weight over 10",
				edit: func(t *testing.T, e env) error {
					return e.srv.UpdatePage(e.eventID("Account Created"), map[string]any{"Weight": num(11)})
				},
				want: `weight 11 is not a whole number from 0 to 10`},
			{name: "unknown status",
				edit: func(t *testing.T, e env) error {
					return e.srv.UpdatePage(e.eventID("Account Created"), map[string]any{"Status": sel("shipped")})
				},
				want: `column "Status": unknown status "shipped"`,
				check: func(t *testing.T, p *trackplan.Plan) {
					if s := p.Lookup(trackplan.Track, "Account Created").Status; s != "" {
						t.Errorf("status = %q", s)
					}
				}},
			{name: "row without a name",
				edit: func(t *testing.T, e env) error {
					_, err := e.srv.CreatePage(e.res.EventsDB, map[string]any{"Type": sel("track")})
					return err
				},
				want: "row has no name; skipped"},
			{name: "two rows of one name",
				edit: func(t *testing.T, e env) error {
					_, err := e.srv.CreatePage(e.res.EventsDB, map[string]any{"Name": title("Signed Up"), "Type": sel("page")})
					return err
				},
				want: `notion events row "Signed Up": another row has the same name`},
			{name: "unknown property type",
				edit: func(t *testing.T, e env) error {
					return e.srv.UpdatePage(e.propertyID("format"), map[string]any{"Type": sel("str")})
				},
				want: `notion properties row "format" column "Type": unknown type "str"`,
				check: func(t *testing.T, p *trackplan.Plan) {
					if pr := p.Lookup(trackplan.Track, "Report Exported").Property("format"); pr == nil || pr.Type != "" || !pr.Required {
						t.Errorf("format = %+v, want kept, type empty", pr)
					}
				}},
			{name: "property linked to nothing",
				edit: func(t *testing.T, e env) error {
					_, err := e.srv.CreatePage(e.res.PropertiesDB, map[string]any{"Name": title("orphan")})
					return err
				},
				want: `notion properties row "orphan" column "Events": not linked to any event`},
			{name: "a second row for a property of an event",
				edit: func(t *testing.T, e env) error {
					_, err := e.srv.CreatePage(e.res.PropertiesDB, map[string]any{"Name": title("format"), "Events": e.relateAllTo("Report Exported")})
					return err
				},
				want: `event "Report Exported" already has a property "format" from another row`},
			{name: "allowed values comma-separated",
				edit: func(t *testing.T, e env) error {
					return e.srv.UpdatePage(e.propertyID("format"), map[string]any{"Allowed values": text("csv, pdf,xlsx ,")})
				},
				check: func(t *testing.T, p *trackplan.Plan) {
					got := p.Lookup(trackplan.Track, "Report Exported").Property("format").Enum
					if diff := cmp.Diff([]string{"csv", "pdf", "xlsx"}, got); diff != "" {
						t.Errorf("enum (-want +got):\n%s", diff)
					}
				}},
			{name: "allowed values one per line",
				edit: func(t *testing.T, e env) error {
					return e.srv.UpdatePage(e.propertyID("format"), map[string]any{"Allowed values": text("csv\n pdf, zipped\n\nxlsx")})
				},
				check: func(t *testing.T, p *trackplan.Plan) {
					got := p.Lookup(trackplan.Track, "Report Exported").Property("format").Enum
					if diff := cmp.Diff([]string{"csv", "pdf, zipped", "xlsx"}, got); diff != "" {
						t.Errorf("enum (-want +got):\n%s", diff)
					}
				}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				srv := notiontest.New(t, notiontest.Options{Users: testUsers})
				c, res := initPlan(t, srv, samplePlan())
				id := func(db string) func(string) string {
					return func(name string) string {
						id, err := srv.PageID(db, name)
						if err != nil {
							t.Fatal(err)
						}
						return id
					}
				}
				e := env{srv: srv, res: res, eventID: id(res.EventsDB), propertyID: id(res.PropertiesDB)}
				e.relateAllTo = func(name string) map[string]any {
					return map[string]any{"relation": []any{map[string]any{"id": e.eventID(name)}}}
				}
				if err := tt.edit(t, e); err != nil {
					t.Fatal(err)
				}
				got, err := c.ReadPlan(ctx)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				var msgs []string
				for _, p := range got.Problems {
					msgs = append(msgs, p.Error())
				}
				switch {
				case tt.want == "" && len(msgs) > 0:
					t.Errorf("problems: %q, want none", msgs)
				case tt.want != "" && !strings.Contains(strings.Join(msgs, "\n"), tt.want):
					t.Errorf("problems: %q, want one with %q", msgs, tt.want)
				}
				if tt.want != "" {
					var v *trackplan.ValidationError
					if !errors.As(got.Err(), &v) || len(v.Problems) != len(msgs) {
						t.Errorf("Err() = %v", got.Err())
					}
				}
				if tt.check != nil {
					tt.check(t, got.Plan)
				}
				// Push repairs what it owns and never duplicates a row.
				if _, err := c.Push(ctx, samplePlan(), notion.PushOptions{}); err != nil {
					t.Fatalf("push: %v", err)
				}
			})
		}
	})
}

func TestPushRejectsBadValuesBeforeWriting(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		srv := notiontest.New(t, notiontest.Options{Users: testUsers})
		c, _ := initPlan(t, srv, samplePlan())
		bad := samplePlan()
		bad.Events[0].Tags = []string{"fine", "a,b"}
		bad.Events = append(bad.Events, &trackplan.Event{Name: "New Event", Type: trackplan.Track})
		srv.ResetCounts()
		_, err := c.Push(ctx, bad, notion.PushOptions{})
		if err == nil || !strings.Contains(err.Error(), `events row "Account Created": column "Tags": option "a,b": Notion option names cannot contain commas`) {
			t.Errorf("err = %v", err)
		}
		if srv.Writes() != 0 {
			t.Errorf("%d writes before the error", srv.Writes())
		}

		dup := samplePlan()
		dup.Events = append(dup.Events, &trackplan.Event{Name: "Signed Up"})
		var v *trackplan.ValidationError
		if _, err := c.Push(ctx, dup, notion.PushOptions{}); !errors.As(err, &v) {
			t.Errorf("duplicate event: err = %v, want a validation error", err)
		}
	})
}

func TestOwnerByNameAndUnknownOwner(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		srv := notiontest.New(t, notiontest.Options{Users: testUsers})
		p := samplePlan()
		// A new database holds owners as text; this team keeps them in a
		// people column of its own, which the config names.
		_, res := initPlan(t, srv, samplePlan())
		if err := srv.AddColumn(res.EventsDB, "Owner (people)", "people", nil, json.RawMessage(`[]`)); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, srv, res.EventsDB, "", func(cfg *notion.Config) { cfg.Columns.Events.Owner = "Owner (people)" })
		p.Events[0].Owner = "Ana Lytics"
		p.Events[1].Owner = "nobody@example.com"
		if _, err := c.Push(ctx, p, notion.PushOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := c.ReadPlan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if o := got.Plan.Lookup(trackplan.Track, "Account Created").Owner; o != "ana@example.com" {
			t.Errorf("owner by name reads back %q, want the email", o)
		}
		if o := got.Plan.Lookup(trackplan.Track, "Report Exported").Owner; o != "" {
			t.Errorf("unknown owner reads back %q, want empty", o)
		}
		srv.ResetCounts()
		changes, err := c.Push(ctx, p, notion.PushOptions{})
		if err != nil || len(changes) != 0 || srv.Writes() != 0 {
			t.Errorf("push again: %v, %v, %d writes", changes, err, srv.Writes())
		}
		if !strings.Contains(c.logs.String(), `msg="notion owner not written" row="Report Exported" owner=nobody@example.com`) {
			t.Errorf("no warning about the unknown owner; logs:\n%s", c.logs.String())
		}
		// Owners by name cost one users listing per push, nothing else.
		if got := srv.Counts()["GET /v1/users"]; got != 1 {
			t.Errorf("users listed %d times, want 1", got)
		}
	})
}
