package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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

// segmentSink is a Segment-compatible endpoint that records every call it
// accepts.
type segmentSink struct {
	url   string
	mu    sync.Mutex
	calls []sinkCall
}

type sinkCall struct {
	Type    string         `json:"type"`
	UserID  string         `json:"userId"`
	GroupID string         `json:"groupId"`
	Traits  map[string]any `json:"traits"`
}

func newSegmentSink(t *testing.T) *segmentSink {
	s := &segmentSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Batch []sinkCall }
		if r.URL.Path != "/v1/batch" || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.calls = append(s.calls, body.Batch...)
		s.mu.Unlock()
		w.Write([]byte(`{"success":true}`))
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// take returns the calls received since the last take, as "type id"
// strings sorted, with the score trait when asked.
func (s *segmentSink) take() map[string]sinkCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]sinkCall{}
	for _, c := range s.calls {
		id := c.UserID
		if c.Type == "group" {
			id = c.GroupID
		}
		out[c.Type+" "+id] = c
	}
	s.calls = nil
	return out
}

// TestIdentityPush: the push never addresses a merged-away id, sends a
// group call for every account with a resolved member, and sends one final
// zero update for an account (and its users) that a profile now excludes.
func TestIdentityPush(t *testing.T) {
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	at := day.AddDate(0, 0, 2)
	db, config, files := writeIdentitySetup(t, day)
	sink := newSegmentSink(t)
	cfg, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	withPush := string(cfg) + "push:\n  write_key: test-key\n  endpoint: " + sink.url + "\n  interval: 10ms\n"
	if err := os.WriteFile(config, []byte(withPush), 0o600); err != nil {
		t.Fatal(err)
	}
	step := func(when time.Time, args ...string) map[string]sinkCall {
		t.Helper()
		for _, cmd := range [][]string{args, {"score", "--save", "--at", when.Format(time.RFC3339)}, {"push"}} {
			if len(cmd) == 0 {
				continue
			}
			if code, _, stderr := trackplanRun(t, append([]string{"--db", db, "--config", config}, cmd...)...); code != 0 {
				t.Fatalf("%v: exit %d: %s", cmd, code, stderr)
			}
		}
		return sink.take()
	}

	first := step(at, "import", "--source", "web", files[0])
	if _, ok := first["identify old2"]; !ok {
		t.Fatalf("before the alias, old2 is pushed as a user of its own: %v", keysOf(first))
	}
	second := step(at.Add(time.Hour), "import", "--source", "web", files[1])
	for k := range second {
		if strings.HasSuffix(k, " old2") {
			t.Errorf("after the alias, a call addresses the merged-away id: %s", k)
		}
	}
	if c, ok := second["group g1"]; !ok || c.UserID != "u2" {
		t.Errorf("g1's group call = %+v (sent: %v); want it from its resolved member u2", c, keysOf(second))
	}
	if _, ok := second["identify u5"]; !ok {
		t.Errorf("u5, credited with its anonymous activity, is not pushed: %v", keysOf(second))
	}

	// Exclude g5: it and its user u5 get one final zero update, then
	// nothing.
	excluded := strings.Replace(withPush, "        Report Exported: 5\n", "        Report Exported: 5\n      exclude:\n        accounts: [g5]\n", 1)
	if err := os.WriteFile(config, []byte(excluded), 0o600); err != nil {
		t.Fatal(err)
	}
	third := step(at.Add(2 * time.Hour))
	g5, ok := third["group g5"]
	if !ok || g5.Traits["engagement_score"] != 0.0 || g5.Traits["engagement_tier"] != "inactive" {
		t.Errorf("g5's final update = %+v (sent: %v); want engagement_score 0, tier inactive", g5, keysOf(third))
	}
	if u5, ok := third["identify u5"]; !ok || u5.Traits["engagement_score"] != 0.0 {
		t.Errorf("u5's final update = %+v", u5)
	}
	for k := range third {
		if strings.HasSuffix(k, " old2") {
			t.Errorf("a call addresses the merged-away id: %s", k)
		}
	}
	if fourth := step(at.Add(3 * time.Hour)); len(fourth) != 0 {
		t.Errorf("after the final update, the push still sends %v", keysOf(fourth))
	}
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
