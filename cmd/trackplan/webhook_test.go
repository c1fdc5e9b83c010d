package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/notion/notiontest"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
)

const hookToken = "secret_notion_webhook_token_for_tests"

// hookEvent is a page.properties_updated event of the plan's Events data
// source, shaped like the fake's (and Notion's) events.
func hookEvent(id string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"timestamp":%q,"workspace_id":"w","workspace_name":"Acme","subscription_id":"s","integration_id":"i",`+
		`"type":"page.properties_updated","authors":[{"id":"u","type":"person"}],"attempt_number":1,"api_version":"2025-09-03",`+
		`"entity":{"id":"59833787-2cf9-4fdf-8782-e53db20768a5","type":"page"},`+
		`"data":{"parent":{"id":"248104cd-477e-80fd-b757-e945d38000bd","type":"database","data_source_id":"248104cd-477e-80af-bc30-000bd28de8f9"},"updated_properties":["a"]}}`,
		id, at.UTC().Format("2006-01-02T15:04:05.000Z")))
}

// TestNotionWebhookHandler checks the handshake, the signature, the replay
// window and which events ask for a refresh.
func TestNotionWebhookHandler(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	var refreshes atomic.Int32
	planIDs := map[string]bool{normNotionID("248104cd-477e-80af-bc30-000bd28de8f9"): true}
	tokenFile := filepath.Join(t.TempDir(), "notion-webhook-token")
	newHook := func(token string) *notionWebhook {
		cfg := DefaultConfig()
		cfg.Notion.WebhookToken = Secret(token)
		cfg.Notion.WebhookTokenFile = tokenFile
		h := newNotionWebhook(cfg, slog.New(slog.NewTextHandler(&logs, nil)),
			func() map[string]bool { return planIDs }, func() { refreshes.Add(1) })
		h.now = func() time.Time { return now }
		return h
	}
	post := func(h http.Handler, body []byte, sig string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/webhook/notion", bytes.NewReader(body))
		if sig != "" {
			req.Header.Set("X-Notion-Signature", sig)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}

	// Before the token is configured: the verification request is
	// answered and its token written to the token file, never logged;
	// events are refused.
	h := newHook("")
	code, _ := post(h, []byte(`{"verification_token":"`+hookToken+`"}`), "")
	kept, err := os.ReadFile(tokenFile)
	if code != 200 || err != nil || !strings.Contains(string(kept), hookToken) || strings.Contains(logs.String(), hookToken) ||
		!strings.Contains(logs.String(), tokenFile) {
		t.Errorf("verification: %d; the token must be in %s (%q, %v) and the log must name the file, not the token:\n%s",
			code, tokenFile, kept, err, logs.String())
	}
	if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v %v; want mode 0600", fi.Mode(), err)
	}
	ev := hookEvent("e1", now)
	if code, _ := post(h, ev, notiontest.Sign(hookToken, ev)); code != 401 || refreshes.Load() != 0 {
		t.Errorf("event without a configured token: %d, want 401", code)
	}

	h = newHook(hookToken)
	logs.Reset()
	if code, _ := post(h, []byte(`{"verification_token":"`+hookToken+`"}`), ""); code != 200 || strings.Contains(logs.String(), hookToken) ||
		!strings.Contains(logs.String(), "the one configured") {
		t.Errorf("verification with the token configured: %d; the token must not be logged:\n%s", code, logs.String())
	}
	for _, bad := range []struct{ name, sig string }{
		{"no signature", ""},
		{"another token", notiontest.Sign("secret_other", ev)},
		{"not sha256=", strings.TrimPrefix(notiontest.Sign(hookToken, ev), "sha256=")},
		{"not hex", "sha256=zz"},
		{"another body", notiontest.Sign(hookToken, hookEvent("e2", now))},
	} {
		if code, _ := post(h, ev, bad.sig); code != 401 {
			t.Errorf("%s: %d, want 401", bad.name, code)
		}
	}
	if refreshes.Load() != 0 {
		t.Fatalf("a refused event asked for a refresh")
	}
	if code, _ := post(h, ev, notiontest.Sign(hookToken, ev)); code != 200 || refreshes.Load() != 1 {
		t.Errorf("signed event: %d, %d refreshes; want 200 and one", code, refreshes.Load())
	}
	// Replays: the same event again is acknowledged and ignored; an old one
	// (or one from the future) is refused.
	if code, body := post(h, ev, notiontest.Sign(hookToken, ev)); code != 200 || !strings.Contains(body, "already") || refreshes.Load() != 1 {
		t.Errorf("replayed event: %d %s, %d refreshes", code, body, refreshes.Load())
	}
	for _, at := range []time.Time{now.Add(-11 * time.Minute), now.Add(11 * time.Minute)} {
		old := hookEvent("e-"+at.Format("150405"), at)
		if code, _ := post(h, old, notiontest.Sign(hookToken, old)); code != 400 {
			t.Errorf("event of %s: %d, want 400 (outside the 10m replay window)", at, code)
		}
	}
	inWindow := hookEvent("e3", now.Add(-9*time.Minute))
	if code, _ := post(h, inWindow, notiontest.Sign(hookToken, inWindow)); code != 200 || refreshes.Load() != 2 {
		t.Errorf("event 9 minutes old: %d, %d refreshes", code, refreshes.Load())
	}
	// An event about another database asks for nothing.
	other := bytes.ReplaceAll(hookEvent("e4", now), []byte("248104cd-477e-80af-bc30-000bd28de8f9"), []byte("11111111-477e-80af-bc30-000bd28de8f9"))
	other = bytes.ReplaceAll(other, []byte("248104cd-477e-80fd"), []byte("11111111-477e-80fd"))
	if code, _ := post(h, other, notiontest.Sign(hookToken, other)); code != 200 || refreshes.Load() != 2 {
		t.Errorf("event of another database: %d, %d refreshes", code, refreshes.Load())
	}
	if code, _ := post(h, []byte("not json"), ""); code != 400 {
		t.Errorf("not JSON: %d", code)
	}
}

// TestPlanRefresherCoalesces: a burst of requests is one run; a request
// while a run is going makes one more after it.
func TestPlanRefresherCoalesces(t *testing.T) {
	var runs atomic.Int32
	release := make(chan struct{})
	p := newPlanRefresher(func(ctx context.Context) error {
		if runs.Add(1) == 1 {
			<-release
		}
		return nil
	}, 20*time.Millisecond, slog.New(slog.DiscardHandler))
	stop := p.start(context.Background())
	defer stop()
	for range 10 {
		p.Request()
	}
	replanMust(t, 2*time.Second, "the first run", func() (bool, string) { return runs.Load() == 1, "" })
	p.Request() // during the run
	p.Request()
	close(release)
	replanMust(t, 2*time.Second, "a second run", func() (bool, string) { return runs.Load() == 2, "" })
	time.Sleep(100 * time.Millisecond)
	if n := runs.Load(); n != 2 {
		t.Errorf("%d runs, want 2", n)
	}
}

// serveInProcess runs `serve` with args until the returned stop is called
// and returns its base URL and logs.
func serveInProcess(t *testing.T, args ...string) (string, *syncBuffer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		all := append([]string{"trackplan"}, args...)
		all = append(all, "serve", "--listen", "127.0.0.1:0", "--write-key", "web="+testKey, "--shutdown-grace", "5s")
		done <- run(ctx, all, nil, io.Discard, logs)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d\n%s", code, logs.String())
			}
		case <-time.After(15 * time.Second):
			t.Errorf("serve did not stop within 15s")
		}
	}
	t.Cleanup(stop)
	var base string
	replanMust(t, 10*time.Second, "serve to listen", func() (bool, string) {
		if m := listenRE.FindStringSubmatch(logs.String()); m != nil {
			base = "http://" + m[1]
			return true, ""
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d before listening:\n%s", code, logs.String())
		default:
		}
		return false, logs.String()
	})
	return base, logs, stop
}

// TestNotionWebhookRefreshesPlan runs `serve` on a plan kept in the fake
// Notion with its webhooks subscribed to /webhook/notion. With polling
// off, an edit in Notion reaches the store's verdicts and the drift report
// within seconds, by the webhook alone; a lost webhook leaves the plan as
// it was. With polling on, a lost webhook is repaired by the next poll.
func TestNotionWebhookRefreshesPlan(t *testing.T) {
	const exported = "Report Exported"
	srv := notiontest.New(t, notiontest.Options{})
	dir := t.TempDir()
	db := filepath.Join(dir, "hook.db")
	config := func(poll string) string {
		path := filepath.Join(dir, "trackplan-"+strings.Trim(strings.ReplaceAll(poll, " ", ""), "@\"")+".yaml")
		body := fmt.Sprintf(`notion:
  token: %s
  base_url: %s
  rate: 100
  add_unplanned: false
  webhook_token: %s
schedule:
  plan_refresh: %q
  notion_sync: ""
  score: ""
  prune: ""
`, notiontest.DefaultToken, srv.URL, hookToken, poll)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	noPoll := config("")
	code, out, stderr := trackplanRun(t, "--config", noPoll, "plan", "init", "--template", "b2b-saas", "--notion-parent", notiontest.RootPage)
	if code != 0 {
		t.Fatalf("plan init: exit %d\n%s", code, stderr)
	}
	eventsDB := regexp.MustCompile(`--plan notion:(\S+)`).FindStringSubmatch(out)
	propsDB := regexp.MustCompile(`Properties database:\s+(\S+)`).FindStringSubmatch(out)
	if eventsDB == nil || propsDB == nil {
		t.Fatalf("plan init did not print the database ids:\n%s", out)
	}
	plan := "notion:" + eventsDB[1]
	formatRow, err := srv.PageID(propsDB[1], "format")
	if err != nil {
		t.Fatal(err)
	}
	allow := func(values string) {
		t.Helper()
		if err := srv.UpdatePage(formatRow, map[string]any{"Allowed values": map[string]any{
			"rich_text": []any{map[string]any{"text": map[string]any{"content": values}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	allow("csv\npdf")

	st, err := sqlite.Open(context.Background(), db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// follows waits until the daemon has derived everything and its
	// verdicts follow a plan whose format enum is enum.
	follows := func(what string, limit time.Duration, enum ...string) (store.PlanVersion, bool) {
		t.Helper()
		var v store.PlanVersion
		ok := replanWait(t, limit, what, func() (bool, string) {
			var err error
			v, err = st.VerdictPlan(context.Background())
			head, err1 := st.LogHead(context.Background())
			cur, err2 := st.Cursor(context.Background())
			var got []string
			if v.Plan != nil {
				if e := v.Plan.Lookup(trackplan.Track, exported); e != nil && e.Property("format") != nil {
					got = e.Property("format").Enum
				}
			}
			return err == nil && err1 == nil && err2 == nil && cur == head && v.Origin == plan && slices.Equal(got, enum),
				fmt.Sprintf("verdicts follow %s (format enum %v) (%v); cursor %d of %d (%v %v)", v.ID, got, err, cur, head, err1, err2)
		})
		return v, ok
	}
	enumViolations := func() []string {
		t.Helper()
		code, out, stderr := trackplanRun(t, "--config", noPoll, "--db", db, "--plan", plan, "drift", "--format", "json", "--fail-on", "never")
		if code != 0 {
			t.Fatalf("drift: exit %d\n%s", code, stderr)
		}
		if strings.Contains(stderr, "re-checking the log") {
			t.Errorf("drift re-checked the store itself; the daemon should have:\n%s", stderr)
		}
		var rep report.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("drift json: %v", err)
		}
		var obs []string
		for _, f := range rep.Findings {
			if f.Code == trackplan.EnumViolation && f.Event == exported && f.Path == "format" {
				obs = append(obs, f.Observed)
			}
		}
		return obs
	}

	// Polling off: only webhooks refresh the plan.
	base, logs, stop := serveInProcess(t, "--config", noPoll, "--db", db, "--plan", plan)
	now := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339Nano)
	var items []string
	for i, f := range []string{"csv", "docx", "docx"} {
		items = append(items, string(mustJSON(t, map[string]any{"type": "track", "messageId": fmt.Sprintf("hook-%d", i),
			"userId": "u1", "event": exported, "timestamp": now, "properties": map[string]any{"report_id": "r", "format": f}})))
	}
	if err := postBatch(&http.Client{Timeout: 10 * time.Second}, base, batch(items...)); err != nil {
		t.Fatal(err)
	}
	if _, ok := follows("the traffic to be judged by the Notion plan", 20*time.Second, "csv", "pdf"); !ok {
		t.FailNow()
	}
	if obs := enumViolations(); len(obs) != 1 || !strings.Contains(obs[0], "docx") {
		t.Errorf("before the edit: ENUM_VIOLATION format %v, want docx", obs)
	}

	_, status, err := srv.Subscribe(notiontest.WebhookOptions{URL: base + "/webhook/notion", Token: hookToken})
	if err != nil || status != 200 {
		t.Fatalf("subscription's verification request: %d %v", status, err)
	}
	if strings.Contains(logs.String(), hookToken) {
		t.Errorf("the webhook token reached the log:\n%s", logs.String())
	}
	edited := time.Now()
	allow("csv\npdf\ndocx")
	if _, ok := follows("the webhook to refresh the plan", 10*time.Second, "csv", "pdf", "docx"); !ok {
		t.Fatalf("serve log:\n%s", logs.String())
	}
	t.Logf("edit in Notion → verdicts re-checked by the daemon in %s, by webhook", time.Since(edited).Round(time.Millisecond))
	if obs := enumViolations(); len(obs) != 0 {
		t.Errorf("after the edit allowing docx: ENUM_VIOLATION format %v, want none", obs)
	}

	// A lost webhook: nothing happens without polling.
	srv.DropWebhooks(1)
	allow("pdf\ndocx")
	time.Sleep(2 * time.Second)
	if v, _ := st.VerdictPlan(context.Background()); v.Plan == nil ||
		!slices.Equal(v.Plan.Lookup(trackplan.Track, exported).Property("format").Enum, []string{"csv", "pdf", "docx"}) {
		t.Errorf("with the webhook lost and no polling, the plan changed anyway: %+v", v.Plan.Lookup(trackplan.Track, exported).Property("format"))
	}
	ds := srv.Deliveries()
	if len(ds) < 3 || !ds[len(ds)-1].Lost || ds[len(ds)-2].Status != 200 {
		t.Errorf("deliveries %+v: want the edit delivered (200), then one lost", ds)
	}
	stop()

	// Polling on: the next poll repairs a lost webhook.
	base, logs, _ = serveInProcess(t, "--config", config("@every 1s"), "--db", db, "--plan", plan)
	if _, _, err := srv.Subscribe(notiontest.WebhookOptions{URL: base + "/webhook/notion", Token: hookToken}); err != nil {
		t.Fatal(err)
	}
	if _, ok := follows("serve to start on the current plan", 10*time.Second, "pdf", "docx"); !ok {
		t.FailNow()
	}
	srv.DropWebhooks(1)
	allow("csv\ndocx")
	if _, ok := follows("the poll to repair the lost webhook", 10*time.Second, "csv", "docx"); !ok {
		t.Fatalf("serve log:\n%s", logs.String())
	}
	if obs := enumViolations(); len(obs) != 0 {
		t.Errorf("after the repaired edit: ENUM_VIOLATION format %v, want none (csv and docx allowed)", obs)
	}
	if ds := srv.Deliveries(); len(ds) != 2 || !ds[1].Lost {
		t.Errorf("deliveries %+v: want the verification, then the lost event", ds)
	}
}
