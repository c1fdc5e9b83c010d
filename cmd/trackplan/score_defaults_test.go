package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/templates"
)

// TestScoreDefaultsConfiguredDefaultInheritsPlanWeights: a config profile
// named default keeps the plan's weights (its own events override them, 0
// leaves one out) and its own window and activation; it needs no events
// to be valid.
func TestScoreDefaultsConfiguredDefaultInheritsPlanWeights(t *testing.T) {
	plan, err := templates.Plan(defaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Scoring.Profiles = []trackplan.Profile{
		{Name: trackplan.DefaultProfileName, WindowDays: 14, Activation: trackplan.Activation{Events: []string{"Report Created"}}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("a default profile without events is refused: %v", err)
	}
	ps, err := scoringProfiles(plan, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := trackplan.DefaultProfile(plan).Events
	if diff := cmp.Diff(want, ps[0].Events); diff != "" {
		t.Errorf("configured default without events: weights (-plan +got):\n%s", diff)
	}
	if ps[0].WindowDays != 14 || len(ps[0].Activation.Events) != 1 {
		t.Errorf("configured default lost its own settings: %+v", ps[0])
	}

	cfg.Scoring.Profiles[0].Events = map[string]int{"Signed In": 3, "Report Created": 0, "Trial Started": 2}
	ps, err = scoringProfiles(plan, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := ps[0].Events
	if got["Signed In"] != 3 || got["Trial Started"] != 2 || got["Integration Connected"] != want["Integration Connected"] {
		t.Errorf("overrides: %v", got)
	}
	if _, ok := got["Report Created"]; ok {
		t.Errorf("weight 0 does not leave Report Created out: %v", got)
	}
	if cfg.Scoring.Profiles[0].Events["Integration Connected"] != 0 {
		t.Error("scoringProfiles changed the config")
	}
}

// TestScoreDefaultsEmptyListsAndUserFields: the list a score shows is []
// when empty, never missing or null; users carry activation and all-time
// adoption.
func TestScoreDefaultsEmptyListsAndUserFields(t *testing.T) {
	at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	start, end := trackplan.ScoreWindow(at, 7)
	empty := &trackplan.ScoreRun{Profile: "default", At: at, WindowDays: 7, WindowStart: start, WindowEnd: end}
	for _, users := range []bool{false, true} {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(mustJSON(t, newScoreView(empty, users, 0)), &m); err != nil {
			t.Fatal(err)
		}
		key, other := "accounts", "users"
		if users {
			key, other = other, key
		}
		if string(m[key]) != "[]" {
			t.Errorf("users=%v: %s = %s, want []", users, key, m[key])
		}
		if _, ok := m[other]; ok {
			t.Errorf("users=%v: %s is there too", users, other)
		}
	}

	act := 50.0
	run := *empty
	run.Users = []trackplan.UserScore{{ID: "u1", Score: 10, Active: true, Band: trackplan.BandLeastEngaged,
		Adoption: trackplan.Adoption{Window: 20, AllTime: 60}, Activation: &act}}
	var v struct {
		Users []map[string]any `json:"users"`
	}
	if err := json.Unmarshal(mustJSON(t, newScoreView(&run, true, 0)), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Users) != 1 || v.Users[0]["adoption"] != 20.0 || v.Users[0]["adoption_all_time"] != 60.0 || v.Users[0]["activation"] != 50.0 {
		t.Errorf("user = %v; want adoption 20, adoption_all_time 60, activation 50", v.Users)
	}
}

// TestScoreDefaultsWindowText: the window names its days and says where
// today is.
func TestScoreDefaultsWindowText(t *testing.T) {
	now := time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC)
	start, end := trackplan.ScoreWindow(now, 7)
	run := &trackplan.ScoreRun{At: now, WindowDays: 7, WindowStart: start, WindowEnd: end}
	if got, want := run.WindowText(now), "7 whole days, 26 Nov – 2 Dec 2026 (UTC); today counts from tomorrow"; got != want {
		t.Errorf("WindowText = %q, want %q", got, want)
	}
	w := newWindowView(run, now)
	if w.FirstDay != "2026-11-26" || w.LastDay != "2026-12-02" || w.IncludeToday || w.Days != 7 {
		t.Errorf("window = %+v", w)
	}
	partial := &trackplan.ScoreRun{At: now, WindowDays: 7, WindowStart: start.AddDate(0, 0, 1), WindowEnd: end.AddDate(0, 0, 1)}
	if got, want := partial.WindowText(now), "6 whole days and today so far, 27 Nov – 3 Dec 2026 (UTC)"; got != want {
		t.Errorf("WindowText (today included) = %q, want %q", got, want)
	}
	if w := newWindowView(partial, now); !w.IncludeToday || w.LastDay != "2026-12-03" {
		t.Errorf("window (today included) = %+v", w)
	}
	if got, want := run.WindowText(now.AddDate(0, 0, 2)), "7 whole days, 26 Nov – 2 Dec 2026 (UTC); 3 Dec, the day of the run, is not in it"; got != want {
		t.Errorf("WindowText, two days later = %q, want %q", got, want)
	}
}

// TestScoreDefaultsIncludeToday: activity of today is not in the window
// of a score run today, and the output says so; --include-today scores
// it.
func TestScoreDefaultsIncludeToday(t *testing.T) {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	ts := today.Format(time.RFC3339)
	var lines []string
	for i := range 3 {
		lines = append(lines,
			fmt.Sprintf(`{"type":"group","messageId":"g%d","userId":"u%d","groupId":"acme","traits":{"name":"Acme"},"timestamp":%q}`, i, i, ts),
			fmt.Sprintf(`{"type":"track","messageId":"t%d","userId":"u%d","event":"Report Created","properties":{"report_id":"r%d"},"timestamp":%q}`, i, i, i, ts))
	}
	events := filepath.Join(t.TempDir(), "today.ndjson")
	if err := os.WriteFile(events, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "s.db")
	if code, _, stderr := trackplanRun(t, "--db", db, "import", "--no-progress", events); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}

	type out struct {
		Window   windowView `json:"window"`
		Accounts []struct {
			ID   string `json:"id"`
			Band string `json:"band"`
		} `json:"accounts"`
	}
	score := func(args ...string) out {
		t.Helper()
		code, stdout, stderr := trackplanRun(t, append([]string{"--db", db, "score", "--format", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("score %v: %d %s", args, code, stderr)
		}
		var o out
		if err := json.Unmarshal([]byte(stdout), &o); err != nil {
			t.Fatalf("%v\n%s", err, stdout)
		}
		return o
	}

	o := score()
	if o.Window.IncludeToday || o.Window.End != today || !strings.Contains(o.Window.Text, "today counts from tomorrow") {
		t.Errorf("window = %+v; want it to end today, and say so", o.Window)
	}
	if len(o.Accounts) != 1 || o.Accounts[0].Band != string(trackplan.BandInactive) {
		t.Errorf("accounts = %+v; want acme, inactive (today is not in the window)", o.Accounts)
	}

	o = score("--include-today")
	if !o.Window.IncludeToday || o.Window.LastDay != today.Format(time.DateOnly) || !strings.Contains(o.Window.Text, "today so far") {
		t.Errorf("--include-today window = %+v", o.Window)
	}
	if len(o.Accounts) != 1 || o.Accounts[0].Band == string(trackplan.BandInactive) {
		t.Errorf("--include-today accounts = %+v; want acme active", o.Accounts)
	}

	code, stdout, stderr := trackplanRun(t, "--db", db, "score")
	if code != 0 || !strings.Contains(stdout, "window: 7 whole days") || !strings.Contains(stdout, "today counts from tomorrow") {
		t.Errorf("text output does not say the window: %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = trackplanRun(t, "--db", db, "score", "--format", "csv")
	if code != 0 || !strings.Contains(stderr, "window: 7 whole days") {
		t.Errorf("csv: the window is not on stderr: %d %s", code, stderr)
	}
	if head, _, _ := strings.Cut(stdout, "\n"); !strings.HasSuffix(head, ",adoption,adoption_all_time,activation") {
		t.Errorf("csv header = %q; want the adoption and activation columns", head)
	}
	code, stdout, _ = trackplanRun(t, "--db", db, "score", "--users", "--format", "csv")
	if head, _, _ := strings.Cut(stdout, "\n"); code != 0 || !strings.HasSuffix(head, ",accounts,adoption,adoption_all_time,activation") {
		t.Errorf("users csv: exit %d, header %q; want the adoption and activation columns", code, head)
	}
	for _, args := range [][]string{{"--include-today", "--save"}, {"--include-today", "--at", "2026-01-01T00:00:00Z"}} {
		if code, _, _ := trackplanRun(t, append([]string{"--db", db, "score"}, args...)...); code != exitUsage {
			t.Errorf("score %v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
