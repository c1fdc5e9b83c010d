package alerts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/alerts"
	"github.com/trackplan/trackplan/store"
)

// TestEngagement: daily snapshots of an account going quiet (cooling, then
// no active user), one heating up, and a steady one: each rule fires once
// on the day its condition starts, the steady account never, and hourly
// re-evaluations of the same day page nothing more.
func TestEngagement(t *testing.T) {
	e := newEnv(t, nil)
	type day struct{ quiet, quietUsers, hot, steady float64 }
	days := []day{{60, 3, 40, 55}, {58, 3, 42, 54}, {45, 2, 60, 56}, {30, 1, 80, 55}, {0, 0, 81, 56}, {0, 0, 82, 55}}
	start := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	prev := map[string]float64{}
	acct := func(id string, avg float64, active int) trackplan.AccountScore {
		change := 0.0
		if p, ok := prev[id]; ok {
			change = avg - p
		}
		prev[id] = avg
		return trackplan.AccountScore{ID: id, Name: "<!channel> " + id, AverageScore: avg, Band: trackplan.BandOf(avg, active > 0),
			Trend: trackplan.TrendOf(change), ActiveUsers: active, TotalUsers: 3}
	}
	for i, d := range days {
		end := start.AddDate(0, 0, i)
		run := &trackplan.ScoreRun{Profile: "default", At: end.Add(time.Hour), WindowDays: 7, WindowStart: end.AddDate(0, 0, -7), WindowEnd: end,
			Accounts: []trackplan.AccountScore{acct("hot", d.hot, 3), acct("quiet", d.quiet, int(d.quietUsers)), acct("steady", d.steady, 3)}}
		if err := e.st.SaveScores(e.ctx, run); err != nil {
			t.Fatal(err)
		}
		for h := range 3 { // hourly score runs of the same day
			e.now = run.At.Add(time.Duration(h) * time.Hour)
			if _, err := e.n.Engagement(e.ctx, []string{"default"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	sent := e.records(store.AlertQuery{Status: store.AlertSent})
	got := map[string]string{}
	for _, a := range sent {
		if strings.Contains(a.Key, "steady") {
			t.Errorf("the steady account: %+v", a)
		}
		got[a.Rule] += a.Key + " "
	}
	want := map[string]string{alerts.RuleScoreDrop: "account:default/quiet ", alerts.RuleNoActiveUsers: "account:default/quiet ",
		alerts.RuleTopBand: "account:default/hot "}
	for r, k := range want {
		if got[r] != k {
			t.Errorf("%s fired for %q, want %q (all: %v)", r, got[r], k, sent)
		}
	}
	if len(e.slack.got()) != 3 {
		t.Errorf("Slack got %d messages, want 3", len(e.slack.got()))
	}
	for _, a := range sent {
		if !strings.HasPrefix(a.Link, "https://trackplan.example.com/accounts/") {
			t.Errorf("link %q", a.Link)
		}
	}
}
