package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan/store"
)

// TestJunkCannotCrowdOutThePlan: one client fills the cardinality guard
// with 2,000+ junk event names and a planned event with 500+ junk property
// keys; the first planned, scored `Report Exported` afterwards is still
// observed with its planned properties, rolled up and scored, end to end
// through import and score, on SQLite and on PostgreSQL; another source's
// unplanned events are not blocked.
func TestJunkCannotCrowdOutThePlan(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "junk.db")
			if kind == "postgres" {
				db = pgSchemaDSN(t)
			}
			testJunkCannotCrowdOutThePlan(t, db)
		})
	}
}

func testJunkCannotCrowdOutThePlan(t *testing.T, db string) {
	day := time.Date(2026, 11, 18, 10, 0, 0, 0, time.UTC)
	limits := store.DefaultLimits()
	var lines []string
	add := func(m map[string]any) {
		m["messageId"] = fmt.Sprint("m-", len(lines))
		m["timestamp"] = day.Add(time.Duration(len(lines)) * time.Second).Format(time.RFC3339)
		b, _ := json.Marshal(m)
		lines = append(lines, string(b))
	}
	for i := range limits.MaxEventsPerSource + 50 {
		add(map[string]any{"type": "track", "userId": "bot", "event": fmt.Sprintf("Junk %04d", i)})
	}
	junkKeys := map[string]any{}
	for i := range limits.MaxPathsPerEvent + 100 {
		junkKeys[fmt.Sprintf("k%04d", i)] = 1
	}
	add(map[string]any{"type": "track", "userId": "bot", "event": "Report Exported", "properties": junkKeys})
	add(map[string]any{"type": "track", "userId": "alice", "event": "Report Exported",
		"properties": map[string]any{"report_id": "r-1", "format": "csv"}})
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.ndjson")
	if err := os.WriteFile(junk, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.ndjson")
	if err := os.WriteFile(other, []byte(`{"type":"track","userId":"job","event":"Nightly Sync Ran","messageId":"o-1","timestamp":"`+
		day.Format(time.RFC3339)+`"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	if code, out, errOut := trackplanRun(t, "--db", db, "import", "--no-progress", junk); code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := trackplanRun(t, "--db", db, "import", "--no-progress", "--source", "other", other); code != 0 {
		t.Fatalf("import --source other: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("imported %d lines in %s", len(lines)+1, time.Since(start).Round(time.Millisecond))

	st, err := openStore(t.Context(), db, limits)
	if err != nil {
		t.Fatal(err)
	}
	o, err := st.Observed(t.Context())
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	junkEvents := 0
	var report *store.ObservedEvent
	var others []string
	for i, e := range o.Events {
		switch {
		case e.Source == "other":
			others = append(others, e.Name)
		case strings.HasPrefix(e.Name, "Junk "):
			junkEvents++
		case e.Name == "Report Exported":
			report = &o.Events[i]
		}
	}
	if junkEvents != limits.MaxEventsPerSource {
		t.Errorf("%d junk events stored; the guard takes %d", junkEvents, limits.MaxEventsPerSource)
	}
	if report == nil {
		t.Fatal("Report Exported (planned) is not observed after the junk")
	}
	var paths []string
	for _, p := range report.Properties {
		paths = append(paths, p.Path)
	}
	for _, p := range []string{"format", "report_id"} {
		if !slices.Contains(paths, p) {
			t.Errorf("planned property %q of Report Exported is not recorded after 600 junk keys", p)
		}
	}
	if n := len(paths) - 2; n != limits.MaxPathsPerEvent {
		t.Errorf("Report Exported stores %d junk paths; the guard takes %d", n, limits.MaxPathsPerEvent)
	}
	if !slices.Equal(others, []string{"Nightly Sync Ran"}) {
		t.Errorf("source other's events = %v; one source's junk must not block another's", others)
	}

	code, out, errOut := trackplanRun(t, "--db", db, "score", "--users", "--top", "0",
		"--at", day.AddDate(0, 0, 1).Format(time.RFC3339), "--format", "json")
	if code != 0 {
		t.Fatalf("score --users: exit %d\n%s", code, errOut)
	}
	var scored struct {
		Users []struct {
			ID    string `json:"id"`
			Raw   int64  `json:"raw"`
			Score int    `json:"score"`
		} `json:"users"`
	}
	if err := json.Unmarshal([]byte(out), &scored); err != nil {
		t.Fatalf("score --users: %v\n%s", err, out)
	}
	for _, u := range scored.Users {
		if u.ID == "alice" {
			if u.Raw <= 0 || u.Score <= 0 {
				t.Errorf("alice scores raw %d, score %d; her Report Exported must count", u.Raw, u.Score)
			}
			return
		}
	}
	t.Errorf("alice is not scored: %s", out)
}
