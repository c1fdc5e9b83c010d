package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// identityEvents is the traffic of the identity scenarios, as Segment
// sends it, one message per line, in arrival order (a link arrives after
// the activity it re-attributes).
func identityEvents(day time.Time) []string {
	at := func(h int) string { return day.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	return []string{
		// old2 joins g1 and exports a report; then alias old2 → u2; u2
		// exports a report in g2.
		`{"type":"group","messageId":"m1","userId":"old2","groupId":"g1","traits":{"name":"G One"},"timestamp":"` + at(1) + `"}`,
		`{"type":"track","messageId":"m2","userId":"old2","event":"Report Exported","context":{"groupId":"g1"},"timestamp":"` + at(2) + `"}`,
		`{"type":"alias","messageId":"m3","previousId":"old2","userId":"u2","timestamp":"` + at(3) + `"}`,
		`{"type":"group","messageId":"m4","userId":"u2","groupId":"g2","traits":{"name":"G Two"},"timestamp":"` + at(4) + `"}`,
		`{"type":"track","messageId":"m5","userId":"u2","event":"Report Exported","context":{"groupId":"g2"},"timestamp":"` + at(5) + `"}`,
		// A visitor exports twice before signing up as u5 on that device.
		`{"type":"track","messageId":"v1","anonymousId":"anon-v","event":"Report Exported","timestamp":"` + at(1) + `"}`,
		`{"type":"track","messageId":"v2","anonymousId":"anon-v","event":"Report Exported","timestamp":"` + at(2) + `"}`,
		`{"type":"identify","messageId":"v3","anonymousId":"anon-v","userId":"u5","traits":{"email":"u5@example.com"},"timestamp":"` + at(6) + `"}`,
		`{"type":"group","messageId":"v4","userId":"u5","groupId":"g5","timestamp":"` + at(6) + `"}`,
		// u7 names their account in a trait only.
		`{"type":"identify","messageId":"c1","userId":"u7","traits":{"company_id":"acme"},"timestamp":"` + at(1) + `"}`,
		`{"type":"track","messageId":"c2","userId":"u7","event":"Report Exported","timestamp":"` + at(2) + `"}`,
		// A visitor who never signs up is not scored.
		`{"type":"track","messageId":"n1","anonymousId":"anon-x","event":"Report Exported","timestamp":"` + at(3) + `"}`,
	}
}

// writeIdentitySetup writes the events (split in two files: the links come
// in a second import, after the activity is derived) and a config with a
// profile scoring "Report Exported" 5 and membership_trait: company_id.
func writeIdentitySetup(t *testing.T, day time.Time) (db, config string, files []string) {
	t.Helper()
	dir := t.TempDir()
	lines := identityEvents(day)
	var first, late []string
	for _, l := range lines {
		if strings.Contains(l, `"type":"alias"`) || strings.Contains(l, `"messageId":"v3"`) {
			late = append(late, l)
		} else {
			first = append(first, l)
		}
	}
	for i, part := range [][]string{first, late} {
		p := filepath.Join(dir, []string{"first.ndjson", "late.ndjson"}[i])
		if err := os.WriteFile(p, []byte(strings.Join(part, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	config = filepath.Join(dir, "trackplan.yaml")
	cfg := "scoring:\n  membership_trait: company_id\n  profiles:\n    - name: default\n      events:\n        Report Exported: 5\n"
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "t.db"), config, files
}

type scoredUser struct {
	ID       string   `json:"id"`
	Raw      int64    `json:"raw"`
	Accounts []string `json:"accounts"`
}

func scoreUsers(t *testing.T, db, config string, at time.Time) map[string]scoredUser {
	t.Helper()
	code, out, stderr := trackplanRun(t, "--db", db, "--config", config, "score", "--users", "--top", "0",
		"--at", at.Format(time.RFC3339), "--format", "json")
	if code != 0 {
		t.Fatalf("score --users: exit %d: %s", code, stderr)
	}
	var v struct{ Users []scoredUser }
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("score --users: %v\n%s", err, out)
	}
	users := map[string]scoredUser{}
	for _, u := range v.Users {
		slices.Sort(u.Accounts)
		users[u.ID] = u
	}
	return users
}

// TestIdentityScenarios: an alias that arrives after the activity merges
// it, anonymous activity is credited after sign-up, and membership_trait
// makes a member — end to end through import and score, and the same after
// a rebuild from the log.
func TestIdentityScenarios(t *testing.T) {
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	at := day.AddDate(0, 0, 2)
	db, config, files := writeIdentitySetup(t, day)
	if code, _, stderr := trackplanRun(t, "--db", db, "--config", config, "import", "--source", "web", files[0]); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	before := scoreUsers(t, db, config, at)
	if _, ok := before["old2"]; !ok {
		t.Fatalf("before the alias, old2 is a user of its own: %v", before)
	}
	if code, _, stderr := trackplanRun(t, "--db", db, "--config", config, "import", "--source", "web", files[1]); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}

	want := map[string]scoredUser{
		"u2": {ID: "u2", Raw: 10, Accounts: []string{"g1", "g2"}},
		"u5": {ID: "u5", Raw: 10, Accounts: []string{"g5"}},
		"u7": {ID: "u7", Raw: 5, Accounts: []string{"acme"}},
	}
	got := scoreUsers(t, db, config, at)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scored users after the links (-want +got):\n%s", diff)
	}

	code, out, stderr := trackplanRun(t, "--db", db, "--config", config, "observed", "--format", "json")
	if code != 0 {
		t.Fatalf("observed: %d %s", code, stderr)
	}
	var o struct {
		Totals struct {
			Users     int64 `json:"users"`
			LinkedIDs int64 `json:"linked_ids"`
		}
	}
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatal(err)
	}
	if o.Totals.Users != 3 || o.Totals.LinkedIDs != 2 {
		t.Errorf("observed totals = %+v; want 3 users (u2, u5, u7) and 2 linked ids (old2, anon-v)", o.Totals)
	}

	// A rebuild from the log gives the same people and scores.
	if code, _, stderr := trackplanRun(t, "--db", db, "--config", config, "rebuild"); code != 0 {
		t.Fatalf("rebuild: %d %s", code, stderr)
	}
	if diff := cmp.Diff(want, scoreUsers(t, db, config, at)); diff != "" {
		t.Errorf("scored users after a rebuild (-want +got):\n%s", diff)
	}

	// Forgetting the merged-away id forgets the person: u2 and old2.
	if code, _, stderr := trackplanRun(t, "--db", db, "--config", config, "forget", "--user", "old2"); code != 0 {
		t.Fatalf("forget: %d %s", code, stderr)
	}
	after := scoreUsers(t, db, config, at)
	if _, ok := after["u2"]; ok || len(after) != 2 {
		t.Errorf("after forgetting old2, users = %v; want u5 and u7 only", after)
	}
}
