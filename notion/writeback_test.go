package notion_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/notion"
	"github.com/trackplan/trackplan/notion/notiontest"
)

func day(d int) time.Time { return time.Date(2026, 3, d, 15, 4, 5, 0, time.UTC) }

func observations() []notion.EventObservation {
	return []notion.EventObservation{
		{Name: "Account Created", Type: trackplan.Track, FirstSeen: day(1), LastSeen: day(4), Volume7d: 120, Observed: notion.ObservedLive},
		{Name: "Report Exported", Type: trackplan.Track, FirstSeen: day(2), LastSeen: day(3), Volume7d: 7, Observed: notion.ObservedViolations,
			Drift: "ENUM_VIOLATION format: 3 (got \"docx\")\nREQUIRED_MISSING account_name: 2"},
		{Name: "identify", Type: trackplan.Identify, FirstSeen: day(1), LastSeen: day(4), Volume7d: 40, Observed: notion.ObservedLive},
		{Name: "group", Type: trackplan.Group, Observed: notion.ObservedNotSeen},
		{Name: "Signed Up", Type: trackplan.Track, Observed: notion.ObservedNotSeen},
		{Name: "Unplanned Clicked", Type: trackplan.Track, FirstSeen: day(3), LastSeen: day(4), Volume7d: 3, Observed: notion.ObservedUnplanned},
		{Name: "Unplanned Pricing", Type: trackplan.Page, FirstSeen: day(4), LastSeen: day(4), Volume7d: 1, Observed: notion.ObservedUnplanned},
	}
}

func propertyObservations() []notion.PropertyObservation {
	return []notion.PropertyObservation{
		{Event: "Account Created", Path: "account_name", Types: []string{"string"}, Present: 120, Total: 120, LastSeen: day(4)},
		{Event: "Report Exported", Path: "account_name", Types: []string{"string", "null"}, Present: 5, Total: 7, LastSeen: day(3)},
		{Event: "Report Exported", Path: "format", Types: []string{"string"}, Present: 7, Total: 7, LastSeen: day(3)},
		{Event: "identify", Path: "email", Present: 0, Total: 0},
		{Event: "Nowhere", Path: "format", Types: []string{"number"}, Present: 1, Total: 1},
	}
}

// teamColumns keeps the columns the team owns.
func teamColumns(rows []notiontest.Row, owned ...string) []notiontest.Row {
	var out []notiontest.Row
	for _, r := range rows {
		v := map[string]string{}
		for k, x := range r.Values {
			keep := true
			for _, o := range owned {
				if k == o {
					keep = false
				}
			}
			if keep {
				v[k] = x
			}
		}
		out = append(out, notiontest.Row{Name: r.Name, Values: v})
	}
	return out
}

var (
	ownedEvents     = []string{"First seen", "Last seen", "Volume 7d", "Observed", "Drift", "Synced"}
	ownedProperties = []string{"Observed types", "Presence %", "Last seen"}
)

func rowByName(t *testing.T, srv *notiontest.Server, db, name string) map[string]string {
	t.Helper()
	rows, err := srv.Rows(db)
	if err != nil {
		t.Fatal(err)
	}
	var found []map[string]string
	for _, r := range rows {
		if r.Name == name {
			found = append(found, r.Values)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d rows named %q, want 1", len(found), name)
	}
	return found[0]
}

func TestWriteObserved(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		srv := notiontest.New(t, notiontest.Options{Users: testUsers})
		c, res := initPlan(t, srv, samplePlan())
		beforeEv, _ := srv.Rows(res.EventsDB)
		beforePr, _ := srv.Rows(res.PropertiesDB)

		srv.ResetCounts()
		dry, err := c.WriteObserved(ctx, observations(), propertyObservations(), notion.WriteOptions{AddUnplanned: true, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if srv.Writes() != 0 {
			t.Fatalf("dry run wrote %d times", srv.Writes())
		}
		changes, err := c.WriteObserved(ctx, observations(), propertyObservations(), notion.WriteOptions{AddUnplanned: true})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, ch := range changes {
			got = append(got, ch.String())
			dry[i].PageID = ch.PageID
		}
		if diff := cmp.Diff(dry, changes); diff != "" {
			t.Errorf("dry run and run differ (-dry +run):\n%s", diff)
		}
		want := []string{
			`updated events row "Account Created": First seen, Last seen, Volume 7d, Observed, Synced`,
			`updated events row "Report Exported": First seen, Last seen, Volume 7d, Observed, Drift, Synced`,
			`updated events row "identify": First seen, Last seen, Volume 7d, Observed, Synced`,
			`updated events row "group": Volume 7d, Observed, Synced`,
			`updated events row "Signed Up": Volume 7d, Observed, Synced`,
			`created events row "Unplanned Clicked": Name, Type, Status, First seen, Last seen, Volume 7d, Observed, Synced`,
			`created events row "Unplanned Pricing": Name, Type, Status, First seen, Last seen, Volume 7d, Observed, Synced`,
			`updated properties row "account_name" (Account Created, Report Exported): Observed types, Presence %, Last seen`,
			`updated properties row "format" (Report Exported): Observed types, Presence %, Last seen`,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("changes (-want +got):\n%s", diff)
		}
		if srv.Writes() != len(want) {
			t.Errorf("%d writes, want %d", srv.Writes(), len(want))
		}

		ac := rowByName(t, srv, res.EventsDB, "Account Created")
		wantAC := map[string]string{"First seen": "2026-03-01", "Last seen": "2026-03-04", "Volume 7d": "120",
			"Observed": "Live", "Drift": "", "Synced": "2026-03-04T10:30:00.000+00:00"}
		for k, v := range wantAC {
			if ac[k] != v {
				t.Errorf("Account Created %s = %q, want %q", k, ac[k], v)
			}
		}
		un := rowByName(t, srv, res.EventsDB, "Unplanned Pricing")
		if un["Status"] != "proposed" || un["Observed"] != "Unplanned" || un["Type"] != "page" {
			t.Errorf("unplanned row = %v", un)
		}
		an := rowByName(t, srv, res.PropertiesDB, "account_name")
		if an["Observed types"] != "null, string" || an["Presence %"] != "98.4" || an["Last seen"] != "2026-03-04" {
			t.Errorf("account_name = %v", an)
		}

		// The team's columns are untouched.
		afterEv, _ := srv.Rows(res.EventsDB)
		afterPr, _ := srv.Rows(res.PropertiesDB)
		var afterPlanned []notiontest.Row
		for _, r := range afterEv {
			if !strings.HasPrefix(r.Name, "Unplanned ") {
				afterPlanned = append(afterPlanned, r)
			}
		}
		if diff := cmp.Diff(teamColumns(beforeEv, ownedEvents...), teamColumns(afterPlanned, ownedEvents...)); diff != "" {
			t.Errorf("events team columns changed (-before +after):\n%s", diff)
		}
		if diff := cmp.Diff(teamColumns(beforePr, ownedProperties...), teamColumns(afterPr, ownedProperties...)); diff != "" {
			t.Errorf("properties team columns changed (-before +after):\n%s", diff)
		}

		// Again, later: nothing changed, nothing written, Synced kept.
		later := newClient(t, srv, res.EventsDB, "", func(cfg *notion.Config) {
			cfg.Now = func() time.Time { return fixedNow().Add(15 * time.Minute) }
		})
		srv.ResetCounts()
		again, err := later.WriteObserved(ctx, observations(), propertyObservations(), notion.WriteOptions{AddUnplanned: true})
		if err != nil || len(again) != 0 || srv.Writes() != 0 {
			t.Errorf("second run: %v, %v, %d writes", again, err, srv.Writes())
		}
		wantReads := readCounts(t, 2, 2, nil)
		if diff := cmp.Diff(wantReads, srv.Counts()); diff != "" {
			t.Errorf("second run requests (-want +got):\n%s", diff)
		}

		// One value changes: one write, Synced moves.
		obs := observations()
		obs[0].Volume7d = 121
		srv.ResetCounts()
		third, err := later.WriteObserved(ctx, obs, propertyObservations(), notion.WriteOptions{AddUnplanned: true})
		if err != nil || len(third) != 1 || srv.Writes() != 1 {
			t.Errorf("third run: %v, %v, %d writes", third, err, srv.Writes())
		}
		if s := rowByName(t, srv, res.EventsDB, "Account Created")["Synced"]; s != "2026-03-04T10:45:00.000+00:00" {
			t.Errorf("Synced = %q", s)
		}
	})
}

func TestDriftIsCutCleanly(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		srv := notiontest.New(t, notiontest.Options{Users: testUsers})
		c, res := initPlan(t, srv, samplePlan())
		var lines []string
		for i := range 200 {
			lines = append(lines, "TYPE_MISMATCH row_count: number expected, got string 🙃 ("+strings.Repeat("x", i%7)+")")
		}
		obs := []notion.EventObservation{{Name: "Report Exported", Observed: notion.ObservedViolations, Drift: strings.Join(lines, "\n")}}
		if _, err := c.WriteObserved(ctx, obs, nil, notion.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		drift := rowByName(t, srv, res.EventsDB, "Report Exported")["Drift"]
		if n := len(utf16.Encode([]rune(drift))); n > 2000 || n < 1800 {
			t.Errorf("drift is %d UTF-16 units, want at most 2,000 and most of it", n)
		}
		if !strings.HasSuffix(drift, ")…") {
			t.Errorf("drift ends %q, want a whole line and …", drift[len(drift)-20:])
		}
		srv.ResetCounts()
		if ch, err := c.WriteObserved(ctx, obs, nil, notion.WriteOptions{}); err != nil || len(ch) != 0 || srv.Writes() != 0 {
			t.Errorf("second run: %v %v", ch, err)
		}
		if srv.Counts()[queryRoute(t)] != 1 {
			t.Errorf("without property observations only the Events database is read: %v", srv.Counts())
		}
	})
}

// TestWriteObservedConverges breaks a write-back in the middle and checks
// that a rerun reaches the state of an unbroken run.
func TestWriteObservedConverges(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		ref := notiontest.New(t, notiontest.Options{Users: testUsers})
		refClient, refRes := initPlan(t, ref, samplePlan())
		if _, err := refClient.WriteObserved(ctx, observations(), propertyObservations(), notion.WriteOptions{AddUnplanned: true}); err != nil {
			t.Fatal(err)
		}

		for _, breakAt := range []int{1, 3, 6, 8} {
			srv := notiontest.New(t, notiontest.Options{Users: testUsers})
			c, res := initPlan(t, srv, samplePlan(), func(cfg *notion.Config) { cfg.MaxAttempts = 2 })
			var mu sync.Mutex
			writes := 0
			srv.SetFault(func(n int, r *http.Request) notiontest.Fault {
				if !strings.HasPrefix(r.URL.Path, "/v1/pages") || r.Method == http.MethodGet {
					return notiontest.Fault{}
				}
				mu.Lock()
				defer mu.Unlock()
				writes++
				if writes >= breakAt {
					return notiontest.Fault{Status: 500}
				}
				return notiontest.Fault{}
			})
			done, err := c.WriteObserved(ctx, observations(), propertyObservations(), notion.WriteOptions{AddUnplanned: true})
			if err == nil {
				t.Fatalf("break at write %d: no error", breakAt)
			}
			if len(done) != breakAt-1 {
				t.Errorf("break at write %d: %d changes reported done, want %d", breakAt, len(done), breakAt-1)
			}
			srv.SetFault(nil)
			if _, err := c.WriteObserved(ctx, observations(), propertyObservations(), notion.WriteOptions{AddUnplanned: true}); err != nil {
				t.Fatalf("break at write %d: rerun: %v", breakAt, err)
			}
			for _, db := range [][2]string{{refRes.EventsDB, res.EventsDB}, {refRes.PropertiesDB, res.PropertiesDB}} {
				want, _ := ref.Rows(db[0])
				got, _ := srv.Rows(db[1])
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("break at write %d: state after rerun (-unbroken +rerun):\n%s", breakAt, diff)
				}
			}
			srv.ResetCounts()
			if ch, err := c.WriteObserved(ctx, observations(), propertyObservations(), notion.WriteOptions{AddUnplanned: true}); err != nil || len(ch) != 0 || srv.Writes() != 0 {
				t.Errorf("break at write %d: third run: %v %v", breakAt, ch, err)
			}
		}
	})
}

// TestCreateWithoutAnswerIsNotDuplicated: a create that lands but whose
// answer is lost, or that is lost itself, leaves exactly one row.
func TestCreateWithoutAnswerIsNotDuplicated(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		tests := []struct {
			name  string
			fault notiontest.Fault
		}{
			{"answer too late", notiontest.Fault{DelayAfter: 600 * time.Millisecond}},
			{"connection dropped before", notiontest.Fault{Hangup: true}},
			{"503 before", notiontest.Fault{Status: 503}},
			{"504 before", notiontest.Fault{Status: 504}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				srv := notiontest.New(t, notiontest.Options{Users: testUsers})
				_, res := initPlan(t, srv, samplePlan())
				c := newClient(t, srv, res.EventsDB, "", func(cfg *notion.Config) { cfg.Timeout = 250 * time.Millisecond })
				var mu sync.Mutex
				faulted := false
				srv.SetFault(func(n int, r *http.Request) notiontest.Fault {
					mu.Lock()
					defer mu.Unlock()
					if r.Method == http.MethodPost && r.URL.Path == "/v1/pages" && !faulted {
						faulted = true
						return tt.fault
					}
					return notiontest.Fault{}
				})
				obs := observations()[5:6]
				if _, err := c.WriteObserved(ctx, obs, nil, notion.WriteOptions{AddUnplanned: true}); err != nil {
					t.Fatalf("write-back: %v", err)
				}
				time.Sleep(700 * time.Millisecond) // let a late answer go
				rowByName(t, srv, res.EventsDB, "Unplanned Clicked")
				if !strings.Contains(c.logs.String(), "notion create failed, looking for the row") {
					t.Errorf("the create was not checked before being retried; logs:\n%s", c.logs.String())
				}
				srv.ResetCounts()
				if ch, err := c.WriteObserved(ctx, obs, nil, notion.WriteOptions{AddUnplanned: true}); err != nil || len(ch) != 0 {
					t.Errorf("rerun: %v %v", ch, err)
				}
				rowByName(t, srv, res.EventsDB, "Unplanned Clicked")
			})
		}
	})
}

func TestWriteObservedNeedsOwnedColumns(t *testing.T) {
	eachVersion(t, func(t *testing.T) {
		ctx := context.Background()
		srv := notiontest.New(t, notiontest.Options{Users: testUsers})
		_, res := initPlan(t, srv, samplePlan())
		c := newClient(t, srv, res.EventsDB, "", func(cfg *notion.Config) { cfg.Columns.Events.Drift = "Drift notes" })
		srv.ResetCounts()
		_, err := c.WriteObserved(ctx, observations(), nil, notion.WriteOptions{})
		var se *notion.SchemaError
		if err == nil || !strings.Contains(err.Error(), `Drift notes: no column "Drift notes" (text)`) || !errors.As(err, &se) {
			t.Errorf("err = %v", err)
		}
		if srv.Writes() != 0 {
			t.Errorf("%d writes", srv.Writes())
		}
	})
}
