package alerts_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/alerts"
	"github.com/trackplan/trackplan/store"
)

// TestRetryAfterHonoured: a 429 with Retry-After is waited out (on the
// fake clock) and the alert delivered; a 500 is retried with backoff; a
// 400 is not retried.
func TestRetryAfterHonoured(t *testing.T) {
	e := newEnv(t, func(c *alerts.Config) { c.WebhookURL = "" })
	e.slack.answers = [][2]string{{"429", "7"}, {"500", ""}}
	if err := e.n.Test(e.ctx, alerts.ChannelSlack); err != nil {
		t.Fatal(err)
	}
	if len(e.sleeps) != 2 || e.sleeps[0] != 7*time.Second || e.sleeps[1] != 4*time.Second {
		t.Errorf("waits = %v, want [7s 4s] (the backoff doubles per attempt)", e.sleeps)
	}
	if len(e.slack.got()) != 1 {
		t.Errorf("Slack got %d messages", len(e.slack.got()))
	}
	e.sleeps = nil
	e.slack.answers = [][2]string{{"400", ""}}
	if err := e.n.Test(e.ctx, alerts.ChannelSlack); err == nil || len(e.sleeps) != 0 {
		t.Errorf("a 400: err %v, waits %v; want an error and no retry", err, e.sleeps)
	}
	recs := e.records(store.AlertQuery{Rule: alerts.RuleTest})
	if len(recs) != 2 || recs[0].Status != store.AlertFailed || recs[1].Status != store.AlertSent {
		t.Errorf("records: %+v", recs)
	}
}

// TestWebhookSignature: the generic webhook's signature verifies; a
// changed body, another secret or an old timestamp (a replay) do not.
func TestWebhookSignature(t *testing.T) {
	e := newEnv(t, func(c *alerts.Config) { c.SlackURL = "" })
	var hdr http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr = r.Header.Clone()
		body = make([]byte, r.ContentLength)
		r.Body.Read(body)
	}))
	defer srv.Close()
	cfg := alerts.DefaultConfig()
	cfg.WebhookURL, cfg.WebhookSecret = srv.URL+"/hooks/trackplan", webhookSecret
	n, err := alerts.New(alerts.Options{Config: cfg, Store: e.st, Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Test(e.ctx, alerts.ChannelWebhook); err != nil {
		t.Fatal(err)
	}
	ts, sig := hdr.Get(alerts.TimestampHeader), hdr.Get(alerts.SignatureHeader)
	if ts != strconv.FormatInt(e.now.Unix(), 10) || !strings.HasPrefix(sig, "sha256=") {
		t.Fatalf("headers: %s=%q %s=%q", alerts.TimestampHeader, ts, alerts.SignatureHeader, sig)
	}
	if err := alerts.Verify([]byte(webhookSecret), ts, sig, body, e.now.Add(time.Minute)); err != nil {
		t.Errorf("the signature does not verify: %v", err)
	}
	var p alerts.WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil || p.Type != "test" || len(p.Alerts) != 1 {
		t.Errorf("payload %s: %v", body, err)
	}
	tampered := []byte(strings.Replace(string(body), "test", "tset", 1))
	for name, err := range map[string]error{
		"tampered body": alerts.Verify([]byte(webhookSecret), ts, sig, tampered, e.now),
		"other secret":  alerts.Verify([]byte("other"), ts, sig, body, e.now),
		"replayed":      alerts.Verify([]byte(webhookSecret), ts, sig, body, e.now.Add(10*time.Minute)),
		"no timestamp":  alerts.Verify([]byte(webhookSecret), "", sig, body, e.now),
	} {
		if err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

// TestSlackLimitsAndEscaping: a digest of hundreds of alerts with long,
// hostile names stays within Slack's limits, and no value pings anyone.
func TestSlackLimitsAndEscaping(t *testing.T) {
	e := newEnv(t, func(c *alerts.Config) { c.WebhookURL = "" })
	if _, err := e.n.Digest(e.ctx); err != nil { // the first call starts the count
		t.Fatal(err)
	}
	long := strings.Repeat("<!here> & <@U123|x> ", 200)
	for i := range 300 {
		rec := store.AlertRecord{At: e.now, Rule: alerts.RuleNewFinding, Key: fmt.Sprint(i), Severity: alerts.Warning,
			Title: fmt.Sprintf("<!channel> event %d %s", i, long), Link: "https://trackplan.example.com/events#x",
			Status: store.AlertHeld}
		if err := e.st.RecordAlert(e.ctx, &rec); err != nil {
			t.Fatal(err)
		}
	}
	e.now = e.now.Add(24 * time.Hour)
	r, err := e.n.Digest(e.ctx)
	if err != nil || r.Sent != 1 {
		t.Fatalf("digest: %+v %v", r, err)
	}
	got := e.slack.got()
	if len(got) != 1 {
		t.Fatalf("Slack got %d messages", len(got))
	}
	// checkSlack (in the fake Slack) checked the limits and mentions.
	if !strings.Contains(string(got[0]), "more: `trackplan alerts list`") {
		t.Errorf("the digest does not say what it left out")
	}
	if s := alerts.SlackEscape("<!channel> & <b>"); s != "&lt;!channel&gt; &amp; &lt;b&gt;" {
		t.Errorf("SlackEscape = %q", s)
	}
}

// TestOperations: a job failing three runs in a row pages once, then not
// within the cooldown; push failures page; a lag past the bound pages.
func TestOperations(t *testing.T) {
	lag := time.Duration(0)
	e := newEnv(t, nil)
	n, err := alerts.New(alerts.Options{Config: e.cfg, Store: e.st, Now: func() time.Time { return e.now },
		Lag:   func(context.Context) (time.Duration, error) { return lag, nil },
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("notion: 503")
	for i := range 6 {
		e.now = e.now.Add(5 * time.Minute)
		if _, err := n.AfterJob(e.ctx, "plan-refresh", nil, boom); err != nil {
			t.Fatal(err)
		}
		run := &trackplan.JobRun{Job: "plan-refresh", Started: e.now, Finished: e.now, Outcome: trackplan.OutcomeFailed, Error: boom.Error()}
		if err := e.st.RecordRun(e.ctx, run); err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 1, false: 0}[i >= 2]; rules(e.records(store.AlertQuery{Status: store.AlertSent}), "")[alerts.RuleJobFailures] != want {
			t.Fatalf("after %d failures: %v", i+1, e.records(store.AlertQuery{}))
		}
	}
	if _, err := n.AfterJob(e.ctx, "push", map[string]int64{"failed": 12, "acknowledged": 3}, nil); err != nil {
		t.Fatal(err)
	}
	lag = 20 * time.Minute
	if _, err := n.Tracking(e.ctx); err != nil {
		t.Fatal(err)
	}
	lag = 0
	e.now = e.now.Add(5 * time.Minute)
	n.Tracking(e.ctx)
	got := rules(e.records(store.AlertQuery{Status: store.AlertSent}), "")
	if got[alerts.RuleJobFailures] != 1 || got[alerts.RulePushFailures] != 1 || got[alerts.RuleLag] != 1 {
		t.Errorf("pages: %v", got)
	}
}
