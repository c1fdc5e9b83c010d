package alerts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/alerts"
	"github.com/trackplan/trackplan/store"
)

// TestNewFindingSeverityWarning: a release adds an unplanned property (a
// warning). With the default new_finding.severity (error) the new warning
// waits for the digest; with new_finding.severity: warning it pages, once.
func TestNewFindingSeverityWarning(t *testing.T) {
	release := tNow.Add(-2 * time.Hour)
	for _, tt := range []struct {
		severity trackplan.Severity
		pages    bool
	}{{trackplan.SeverityError, false}, {trackplan.SeverityWarning, true}} {
		t.Run(string(tt.severity), func(t *testing.T) {
			e := newEnv(t, func(c *alerts.Config) { c.NewFinding.Severity = tt.severity })
			msgs := simulateUntil(t, e.plan, 20, 3, tNow)
			for _, m := range msgs {
				if !m.Timestamp.Before(release) && m.Type == trackplan.Track {
					m.Properties = cloneProps(m.Properties)
					m.Properties["release_channel"] = "beta"
				}
			}
			e.now = release
			pending := e.feed(msgs)
			if r := e.tracking(); r.Sent+r.Held != 0 {
				t.Fatalf("the first evaluation: %+v", r)
			}
			e.now = tNow
			e.feed(pending)
			r := e.tracking()
			var found []store.AlertRecord
			for _, a := range e.records(store.AlertQuery{Rule: alerts.RuleNewFinding}) {
				if !strings.Contains(a.Title, "UNPLANNED_PROPERTY") || !strings.Contains(a.Title, "release_channel") ||
					a.Severity != alerts.Warning {
					t.Errorf("new finding: %+v", a)
				}
				found = append(found, a)
			}
			if len(found) == 0 {
				t.Fatalf("no new finding recorded: %+v", r)
			}
			want, slack := store.AlertHeld, 0
			if tt.pages {
				want, slack = store.AlertSent, len(found)
			}
			for _, a := range found {
				if a.Status != want {
					t.Errorf("%s: status %s, want %s", a.Title, a.Status, want)
				}
			}
			if got := len(e.slack.got()); got != slack {
				t.Errorf("Slack got %d messages, want %d", got, slack)
			}
			// Within the cooldown, nothing more pages.
			e.now = tNow.Add(10 * time.Minute)
			e.tracking()
			if got := len(e.slack.got()); got != slack {
				t.Errorf("Slack got %d messages within the cooldown, want %d", got, slack)
			}
		})
	}
}
