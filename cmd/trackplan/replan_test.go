package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/notion/notiontest"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
)

// TestServeFollowsPlanEdits runs `serve` in-process on a plan kept in the
// fake Notion, sends traffic that breaks the plan in ways an edit fixes
// (a format the enum does not allow, an unplanned property, an unplanned
// event), then edits the plan in Notion the way a person would: docx
// allowed and csv, which the traffic also used, dropped; the property
// added; the event added as a planned row. Without any command touching the
// store, the daemon's plan-refresh job must re-check the log against the
// edited plan: the drift report, the dashboard's events page and, after the
// next notion-sync, the Drift and Observed columns of the Notion rows then
// show the new plan's verdicts (csv now violates) and none of the old ones.
func TestServeFollowsPlanEdits(t *testing.T) {
	// Not parallel: run() writes to the package's flag definitions
	// (globalFlags), so in-process commands of two tests at once race.
	const (
		exported  = "Report Exported"
		scheduled = "Report Scheduled" // not in the b2b-saas template
	)
	srv := notiontest.New(t, notiontest.Options{})
	dir := t.TempDir()
	db := filepath.Join(dir, "replan.db")
	// The token and the fake's URL go in the config. Jobs run every
	// second; the write-back adds no rows for unplanned events, so the only
	// plan edits are the test's.
	cfg := filepath.Join(dir, "trackplan.yaml")
	cfgBody := fmt.Sprintf(`notion:
  token: %s
  base_url: %s
  rate: 100
  add_unplanned: false
schedule:
  plan_refresh: "@every 1s"
  notion_sync: "@every 1s"
  score: ""
  prune: ""
`, notiontest.DefaultToken, srv.URL)
	if err := os.WriteFile(cfg, []byte(cfgBody), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, stderr := trackplanRun(t, "--config", cfg, "plan", "init", "--template", "b2b-saas", "--notion-parent", notiontest.RootPage)
	if code != 0 {
		t.Fatalf("plan init --notion-parent: exit %d\n%s", code, stderr)
	}
	eventsDB := regexp.MustCompile(`--plan notion:(\S+)`).FindStringSubmatch(out)
	propsDB := regexp.MustCompile(`Properties database:\s+(\S+)`).FindStringSubmatch(out)
	if eventsDB == nil || propsDB == nil {
		t.Fatalf("plan init did not print the database ids:\n%s", out)
	}
	common := []string{"--config", cfg, "--db", db, "--plan", "notion:" + eventsDB[1]}

	// serve, in-process, until the test ends.
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		args := append([]string{"trackplan"}, common...)
		args = append(args, "serve", "--listen", "127.0.0.1:0", "--write-key", "web="+testKey, "--shutdown-grace", "5s")
		done <- run(ctx, args, nil, io.Discard, logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d\n%s", code, logs.String())
			}
		case <-time.After(15 * time.Second):
			t.Errorf("serve did not stop within 15s of its context ending")
		}
	})
	var base string
	replanMust(t, 10*time.Second, "serve to listen", func() (bool, string) {
		if m := listenRE.FindStringSubmatch(logs.String()); m != nil {
			base = "http://" + m[1]
			return true, ""
		}
		select {
		case code := <-done:
			done <- code // for the cleanup
			t.Fatalf("serve exited %d before listening:\n%s", code, logs.String())
		default:
		}
		return false, logs.String()
	})

	st, err := sqlite.Open(context.Background(), db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// caughtUp waits until the daemon has derived everything logged and its
	// verdicts follow a plan version accepted by ok.
	caughtUp := func(what string, ok func(store.PlanVersion) bool) store.PlanVersion {
		t.Helper()
		var v store.PlanVersion
		replanMust(t, 20*time.Second, what, func() (bool, string) {
			var err error
			v, err = st.VerdictPlan(context.Background())
			head, err1 := st.LogHead(context.Background())
			cur, err2 := st.Cursor(context.Background())
			if err == nil && err1 == nil && err2 == nil && cur == head && ok(v) {
				return true, ""
			}
			return false, fmt.Sprintf("verdicts follow plan %q (%s) (%v); cursor %d of log head %d (%v %v)\nserve log:\n%s",
				v.ID, v.Origin, err, cur, head, err1, err2, logs.String())
		})
		return v
	}

	// Traffic: csv (allowed now), docx with an unplanned property, and an
	// unplanned event.
	now := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339Nano)
	track := func(id, event string, props map[string]any) string {
		return string(mustJSON(t, map[string]any{"type": "track", "messageId": "replan-" + id, "userId": "u-" + id,
			"event": event, "timestamp": now, "properties": props}))
	}
	body := batch(
		track("1", exported, map[string]any{"report_id": "r1", "format": "csv"}),
		track("2", exported, map[string]any{"report_id": "r2", "format": "csv", "row_count": 10}),
		track("3", exported, map[string]any{"report_id": "r3", "format": "docx", "compression": "zip"}),
		track("4", scheduled, nil),
	)
	if err := postBatch(&http.Client{Timeout: 10 * time.Second}, base, body); err != nil {
		t.Fatalf("POST /v1/batch: %v", err)
	}
	origin := "notion:" + eventsDB[1]
	first := caughtUp("the traffic to be derived against the Notion plan", func(v store.PlanVersion) bool {
		return v.ID != "" && v.Origin == origin
	})

	// drift reads the daemon's verdicts: the store already follows the plan
	// the command reads, so the command must not re-check anything itself.
	drift := func() *report.Report {
		t.Helper()
		code, out, stderr := trackplanRun(t, append(slices.Clone(common), "drift", "--format", "json", "--fail-on", "never")...)
		if code != 0 {
			t.Fatalf("drift: exit %d\n%s", code, stderr)
		}
		if strings.Contains(stderr, "verdicts follow a new plan") || strings.Contains(stderr, "what-if") {
			t.Errorf("drift re-checked the store itself; the daemon should have:\n%s", stderr)
		}
		var rep report.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("drift --format json: %v\n%s", err, out)
		}
		return &rep
	}
	find := func(rep *report.Report, code trackplan.Code, event, path string) *trackplan.Finding {
		for i, f := range rep.Findings {
			if f.Code == code && f.Event == event && f.Path == path {
				return &rep.Findings[i]
			}
		}
		return nil
	}

	before := drift()
	if before.Plan != first.ID {
		t.Errorf("drift judged by plan %s; the store follows %s", before.Plan, first.ID)
	}
	if f := find(before, trackplan.EnumViolation, exported, "format"); f == nil || !strings.Contains(f.Observed, "docx") || strings.Contains(f.Observed, "csv") {
		t.Errorf("before the edit: want ENUM_VIOLATION %s.format observed docx (csv was allowed); got %+v", exported, f)
	}
	if find(before, trackplan.UnplannedProperty, exported, "compression") == nil {
		t.Errorf("before the edit: want UNPLANNED_PROPERTY %s.compression", exported)
	}
	if find(before, trackplan.UnplannedEvent, scheduled, "") == nil {
		t.Errorf("before the edit: want UNPLANNED_EVENT %s", scheduled)
	}
	if t.Failed() {
		t.Fatalf("drift before the edit:\n%s", mustJSON(t, before.Findings))
	}

	// The dashboard's events page, as served by the daemon.
	eventsPage := func() string {
		t.Helper()
		resp, err := http.Get(base + "/events")
		if err != nil {
			t.Fatalf("GET /events: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /events: %d\n%s", resp.StatusCode, b)
		}
		return string(b)
	}
	page := eventsPage()
	for _, want := range []dashFinding{
		{exported, "ENUM_VIOLATION", "format", "docx"},
		{exported, "UNPLANNED_PROPERTY", "compression", ""},
		{scheduled, "UNPLANNED_EVENT", "", ""},
	} {
		if !want.in(page) {
			t.Errorf("before the edit: the events page lacks %s; its findings:\n%s", want, dashFindingsFor(page, exported, scheduled))
		}
	}

	// The write-back has run against the unedited plan.
	rowsOf := func() map[string]notiontest.Row {
		rows, err := srv.Rows(eventsDB[1])
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]notiontest.Row{}
		for _, r := range rows {
			out[r.Name] = r
		}
		return out
	}
	replanMust(t, 10*time.Second, "notion-sync to write the drift of the unedited plan", func() (bool, string) {
		r := rowsOf()[exported]
		d := r.Values["Drift"]
		return strings.Contains(d, "ENUM_VIOLATION format") && strings.Contains(d, "observed docx") &&
			strings.Contains(d, "UNPLANNED_PROPERTY compression") && r.Values["Observed"] == "Violations", fmt.Sprintf("%s row: %q", exported, r.Values)
	})
	if _, ok := rowsOf()[scheduled]; ok {
		t.Fatalf("notion-sync added a row for %s though add_unplanned is false", scheduled)
	}

	// The edit, in Notion: docx allowed and csv dropped, compression added
	// to the event, and the unplanned event added as a planned row.
	text := func(s string) map[string]any {
		return map[string]any{"rich_text": []any{map[string]any{"text": map[string]any{"content": s}}}}
	}
	titled := func(s string) map[string]any {
		return map[string]any{"title": []any{map[string]any{"text": map[string]any{"content": s}}}}
	}
	sel := func(s string) map[string]any { return map[string]any{"select": map[string]any{"name": s}} }
	formatRow, err := srv.PageID(propsDB[1], "format")
	if err != nil {
		t.Fatal(err)
	}
	exportedRow, err := srv.PageID(eventsDB[1], exported)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.UpdatePage(formatRow, map[string]any{"Allowed values": text("pdf\nxlsx\ndocx")}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.CreatePage(propsDB[1], map[string]any{"Name": titled("compression"), "Type": sel("string"),
		"Events": map[string]any{"relation": []any{map[string]any{"id": exportedRow}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.CreatePage(eventsDB[1], map[string]any{"Name": titled(scheduled), "Type": sel("track"),
		"Status": sel("planned"), "Description": text("A user scheduled a report.")}); err != nil {
		t.Fatal(err)
	}
	edited := time.Now()

	// plan-refresh picks the edit up and the daemon re-checks the log.
	second := caughtUp("the daemon's verdicts to follow the edited plan", func(v store.PlanVersion) bool {
		if v.Plan == nil || v.Origin != origin {
			return false
		}
		e := v.Plan.Lookup(trackplan.Track, exported)
		return e != nil && e.Property("compression") != nil && e.Property("format") != nil &&
			slices.Equal(e.Property("format").Enum, []string{"pdf", "xlsx", "docx"}) &&
			v.Plan.Lookup(trackplan.Track, scheduled) != nil
	})
	t.Logf("the store follows the edited plan %s (was %s) %s after the edit", second.ID, first.ID, time.Since(edited).Round(time.Millisecond))
	// The run that switched is logged when it ends, a moment after the
	// switch the store shows.
	replanWait(t, 5*time.Second, "a plan-refresh run that re-checked records", func() (bool, string) {
		runs, err := st.Runs(context.Background(), jobPlanRefresh, 20)
		return err == nil && slices.ContainsFunc(runs, func(r trackplan.JobRun) bool {
			return r.Error == "" && r.Counts["rechecked"] > 0
		}), fmt.Sprintf("%v: %+v", err, runs)
	})

	after := drift()
	if after.Plan != second.ID {
		t.Errorf("drift judged by plan %s; the store follows %s", after.Plan, second.ID)
	}
	if f := find(after, trackplan.EnumViolation, exported, "format"); f == nil || !strings.Contains(f.Observed, "csv") || strings.Contains(f.Observed, "docx") || f.Count != 2 {
		t.Errorf("after the edit: want ENUM_VIOLATION %s.format observed csv (dropped from the enum) twice, docx no longer; got %+v", exported, f)
	}
	if f := find(after, trackplan.UnplannedProperty, exported, "compression"); f != nil {
		t.Errorf("after the edit: compression is planned, yet %+v", f)
	}
	if f := find(after, trackplan.UnplannedEvent, scheduled, ""); f != nil {
		t.Errorf("after the edit: %s is planned, yet %+v", scheduled, f)
	}
	for _, f := range after.Findings {
		if f.Event == scheduled && f.Severity != trackplan.SeverityInfo {
			t.Errorf("after the edit: %s (planned, seen, no properties) has a finding %+v", scheduled, f)
		}
	}
	if t.Failed() {
		t.Fatalf("drift after the edit:\n%s", mustJSON(t, after.Findings))
	}

	// The next notion-sync writes the new drift into the rows.
	replanMust(t, 10*time.Second, "notion-sync to write the edited plan's drift", func() (bool, string) {
		rows := rowsOf()
		ex, sc := rows[exported], rows[scheduled]
		d := ex.Values["Drift"]
		ok := strings.Contains(d, "ENUM_VIOLATION format") && strings.Contains(d, "observed csv") && !strings.Contains(d, "observed docx") &&
			!strings.Contains(d, "UNPLANNED_PROPERTY") && ex.Values["Observed"] == "Violations" &&
			sc.Values["Drift"] == "" && sc.Values["Observed"] == "Live"
		return ok, fmt.Sprintf("%s row: %q\n%s row: %q", exported, ex.Values, scheduled, sc.Values)
	})

	// The dashboard follows the edit too: its events page was loaded before
	// the edit, and must not keep showing the old plan's findings next to
	// the new plan's rows.
	replanWait(t, 10*time.Second, "the dashboard's events page to show the edited plan's findings (it showed the unedited plan's before the edit)", func() (bool, string) {
		page := eventsPage()
		ok := dashFinding{exported, "ENUM_VIOLATION", "format", "csv"}.in(page) &&
			!dashFinding{exported, "ENUM_VIOLATION", "format", "docx"}.in(page) &&
			!dashFinding{exported, "UNPLANNED_PROPERTY", "compression", ""}.in(page) &&
			!dashFinding{scheduled, "UNPLANNED_EVENT", "", ""}.in(page)
		return ok, fmt.Sprintf("findings of %s and %s (want ENUM_VIOLATION format observed csv; no ENUM_VIOLATION docx, UNPLANNED_PROPERTY compression or UNPLANNED_EVENT):\n%s",
			exported, scheduled, dashFindingsFor(page, exported, scheduled))
	})

	// /metrics judges the window by the edited plan as well.
	replanWait(t, 10*time.Second, "/metrics to expose the edited plan's drift", func() (bool, string) {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var lines []string
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(line, "trackplan_drift_") {
				lines = append(lines, line)
			}
		}
		got := strings.Join(lines, "\n")
		return strings.Contains(got, `trackplan_drift_messages{code="ENUM_VIOLATION"} 2`) &&
			!strings.Contains(got, `code="UNPLANNED_PROPERTY"`) && !strings.Contains(got, `code="UNPLANNED_EVENT"`), got
	})
}

// replanWait polls cond every 100ms until it holds and reports true; after
// limit it marks the test failed with what cond last described and reports
// false.
func replanWait(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) bool {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, state := cond()
		if ok {
			return true
		}
		if time.Now().After(deadline) {
			t.Errorf("waited %s for %s; last state:\n%s", limit, what, state)
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// replanMust is replanWait that ends the test when cond never holds.
func replanMust(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	if !replanWait(t, limit, what, cond) {
		t.FailNow()
	}
}

// dashFinding is a finding row of an event's section on the dashboard's
// events page; an empty Observed matches any.
type dashFinding struct{ Event, Code, Path, Observed string }

func (f dashFinding) String() string {
	return fmt.Sprintf("%s %s %s observed %q", f.Event, f.Code, f.Path, f.Observed)
}

// in reports whether the events page lists the finding under its event.
func (f dashFinding) in(page string) bool {
	return slices.ContainsFunc(dashFindingsOf(page), func(g dashFinding) bool {
		return g.Event == f.Event && g.Code == f.Code && g.Path == f.Path && (f.Observed == "" || strings.Contains(g.Observed, f.Observed))
	})
}

var (
	dashSectionRE = regexp.MustCompile(`(?s)<section class="card event"[^>]*>\s*<div class="event-head">\s*<h2[^>]*>([^<]*)</h2>(.*?)</section>`)
	dashFindingRE = regexp.MustCompile(`(?s)<tr>\s*<td class="nowrap">.*?<code>([^<]*)</code></td>\s*<td>(?:<code>([^<]*)</code>)?</td>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>`)
)

// dashFindingsOf reads the findings tables of the events page.
func dashFindingsOf(page string) []dashFinding {
	var out []dashFinding
	for _, s := range dashSectionRE.FindAllStringSubmatch(page, -1) {
		for _, m := range dashFindingRE.FindAllStringSubmatch(s[2], -1) {
			out = append(out, dashFinding{Event: html.UnescapeString(s[1]), Code: m[1],
				Path: html.UnescapeString(m[2]), Observed: html.UnescapeString(m[4])})
		}
	}
	return out
}

// dashFindingsFor lists the events page's findings of the named events.
func dashFindingsFor(page string, events ...string) string {
	var b strings.Builder
	for _, f := range dashFindingsOf(page) {
		if slices.Contains(events, f.Event) {
			fmt.Fprintln(&b, f)
		}
	}
	return b.String()
}
