package alerts_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/alerts"
	"github.com/trackplan/trackplan/store"
)

// TestTrackingScenarios: clean traffic pages nobody; a release that stops
// Report Exported, sends an unplanned event and adds an unplanned property
// pages once for the stopped event and once for the new error, holds the
// new warnings for the digest, and pages nothing more within the
// cooldowns; a plan edit's re-check pages nobody; the digest groups the
// rest.
func TestTrackingScenarios(t *testing.T) {
	e := newEnv(t, nil)
	msgs := traffic(t, e.plan, 120)
	release := tNow.Add(-30 * time.Hour)
	var before, after []*trackplan.Message
	for _, m := range msgs {
		if m.Timestamp.Before(release) {
			before = append(before, m)
		} else {
			after = append(after, m)
		}
	}

	// Clean traffic up to the release: the first evaluation learns what
	// is there, the next ones find nothing.
	e.now = release
	e.ingest(before)
	for range 2 {
		if r := e.tracking(); r.Sent+r.Held+r.Failed != 0 {
			t.Fatalf("clean traffic: %+v", r)
		}
		e.now = e.now.Add(5 * time.Minute)
	}
	// And after 30 more hours of clean traffic, still nothing.
	clean := newEnv(t, nil)
	clean.now = release
	clean.ingest(before)
	clean.tracking()
	clean.now = tNow
	clean.ingest(after)
	if r := clean.tracking(); r.Sent+r.Held+r.Failed != 0 {
		t.Fatalf("clean traffic after 30 h: %+v %v", r, clean.records(store.AlertQuery{}))
	}

	// The release: Report Exported stops; an unplanned event and an
	// unplanned property arrive in the last two hours.
	var released []*trackplan.Message
	unplanned := 0
	for _, m := range after {
		if m.Event == "Report Exported" {
			continue
		}
		if m.Timestamp.After(tNow.Add(-2*time.Hour)) && m.Type == trackplan.Track {
			m.Properties = cloneProps(m.Properties)
			m.Properties["release_channel"] = "beta"
			if unplanned < 40 {
				unplanned++
				released = append(released, &trackplan.Message{Source: "web", Type: trackplan.Track, Event: "<!channel> Export Clicked",
					MessageID: fmt.Sprintf("x-%d", unplanned), UserID: m.UserID, Timestamp: m.Timestamp, ReceivedAt: m.ReceivedAt})
			}
		}
		released = append(released, m)
	}
	if unplanned == 0 {
		t.Fatal("no traffic in the last two hours")
	}
	e.now = tNow
	e.ingest(released)
	r := e.tracking()
	sent := e.records(store.AlertQuery{Status: store.AlertSent})
	// More than a day since the last evaluation: the 09:00 digest is due
	// too, and holds the warnings held just before it.
	if got := rules(sent, ""); got[alerts.RuleNewFinding] != 1 || got[alerts.RuleVolumeDrop] != 1 || got[alerts.RuleDigest] != 1 || len(got) != 3 {
		t.Fatalf("pages after the release: %v (%+v)\n%v", got, r, sent)
	}
	for _, a := range sent {
		switch a.Rule {
		case alerts.RuleVolumeDrop:
			if !strings.Contains(a.Title, "Report Exported stopped arriving") || !strings.HasPrefix(a.Link, "https://trackplan.example.com/events?event=") {
				t.Errorf("volume alert: %+v", a)
			}
		case alerts.RuleDigest:
			if !strings.Contains(a.Text, "release_channel") || strings.Contains(a.Text, "UNPLANNED_EVENT") {
				t.Errorf("first digest: %+v", a)
			}
		case alerts.RuleNewFinding:
			if !strings.Contains(a.Title, "UNPLANNED_EVENT") || !strings.Contains(a.Title, "Export Clicked") {
				t.Errorf("new finding alert: %+v", a)
			}
		}
	}
	held := e.records(store.AlertQuery{Status: store.AlertHeld})
	if len(held) == 0 || rules(held, "")[alerts.RuleNewFinding] != len(held) {
		t.Fatalf("held: %v", held)
	}
	for _, h := range held {
		if !strings.Contains(h.Title, "UNPLANNED_PROPERTY") || !strings.Contains(h.Title, "release_channel") {
			t.Errorf("held alert: %+v", h)
		}
	}
	if got := len(e.slack.got()); got != 3 {
		t.Fatalf("Slack got %d messages, want 3", got)
	}
	if got := len(e.webhook.got()); got != 3 {
		t.Fatalf("the webhook got %d messages, want 3", got)
	}
	for _, b := range e.slack.got() {
		if strings.Contains(string(b), "Export Clicked") && !strings.Contains(string(b), `\u0026lt;!channel\u0026gt; Export Clicked`) {
			t.Errorf("the event name is not escaped: %s", b)
		}
	}
	var p alerts.WebhookPayload
	if err := json.Unmarshal(e.webhook.got()[0], &p); err != nil || p.Type != "alert" || len(p.Alerts) != 1 {
		t.Errorf("webhook payload: %s (%v)", e.webhook.got()[0], err)
	}

	// Within the cooldowns, the same conditions page nobody again.
	for range 3 {
		e.now = e.now.Add(20 * time.Minute)
		e.tracking()
	}
	if got := len(e.slack.got()); got != 3 {
		t.Fatalf("Slack got %d messages within the cooldown, want 3", got)
	}

	// A plan edit: Signed In is removed, so the whole window's Signed In
	// traffic becomes UNPLANNED_EVENT when re-checked. Nobody is paged.
	edited := *e.plan
	edited.Events = nil
	for _, ev := range e.plan.Events {
		if ev.Name != "Signed In" {
			edited.Events = append(edited.Events, ev)
		}
	}
	if len(edited.Events) == len(e.plan.Events) {
		t.Fatal("the template has no Signed In event")
	}
	e.setPlan(&edited)
	e.now = e.now.Add(5 * time.Minute)
	r = e.tracking()
	if r.Sent != 0 || r.Held == 0 {
		t.Fatalf("after the plan edit: %+v", r)
	}
	if got := len(e.slack.got()); got != 3 {
		t.Fatalf("a plan edit paged: Slack got %d messages", got)
	}

	// The digest at 09:00 UTC groups what did not page. (The traffic ends
	// at tNow, so the digest is asked for alone: an evaluation this late
	// would rightly find every event stopped.)
	e.now = time.Date(2026, 11, 21, 9, 3, 0, 0, time.UTC)
	r, err := e.n.Digest(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	bodies := e.slack.got()
	if r.Sent != 1 || len(bodies) != 4 {
		t.Fatalf("digest: %+v, %d messages", r, len(bodies))
	}
	digest := string(bodies[3])
	for _, want := range []string{"digest", "new_finding", "After a plan edit", "Signed In"} {
		if !strings.Contains(digest, want) {
			t.Errorf("digest lacks %q:\n%s", want, digest)
		}
	}
	// Only once a day.
	e.now = e.now.Add(time.Hour)
	if _, err := e.n.Digest(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(e.slack.got()); got != 4 {
		t.Errorf("a second digest on the same day: %d messages\n%v", got, e.records(store.AlertQuery{Limit: 3}))
	}
}

func cloneProps(p map[string]any) map[string]any {
	out := make(map[string]any, len(p)+1)
	for k, v := range p {
		out[k] = v
	}
	return out
}
