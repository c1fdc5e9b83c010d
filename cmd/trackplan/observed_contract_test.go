package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// contractPlan marks two properties pii and plans the page name.
const contractPlan = `version: 1
events:
  - name: Invite Sent
    type: track
    status: live
    properties:
      - name: invitee_name
        type: string
        pii: true
      - name: due
        type: string
      - name: tags
        type: array
  - name: Page Viewed
    type: page
    status: live
    properties:
      - name: name
        type: string
        required: true
      - name: path
        type: string
  - name: identify
    type: identify
    properties:
      - name: last_name
        type: string
        pii: true
`

func writeContractFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// observedOutput runs `observed --format json` and decodes it loosely, so
// that missing and null lists show.
func observedOutput(t *testing.T, args ...string) map[string]any {
	t.Helper()
	code, out, stderr := trackplanRun(t, append(args, "observed", "--format", "json")...)
	if code != 0 {
		t.Fatalf("observed: exit %d: %s", code, stderr)
	}
	var o map[string]any
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("observed JSON: %v\n%s", err, out)
	}
	return o
}

// TestContractImportDatesBySentAt: an archived message with sentAt and no
// receivedAt arrived at sentAt: its event time is originalTimestamp (the
// skew is sentAt − originalTimestamp), not the import's clock minus it.
func TestContractImportDatesBySentAt(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "t.db")
	file := writeContractFile(t, "in.ndjson",
		`{"type":"track","messageId":"m1","userId":"u1","event":"Signed In","originalTimestamp":"2026-11-02T09:00:00Z","sentAt":"2026-11-02T09:00:30Z"}`+"\n"+
			`{"sentAt":"2026-11-03T12:00:05Z","batch":[{"type":"track","messageId":"m2","userId":"u2","event":"Signed In","originalTimestamp":"2026-11-03T12:00:00Z"}]}`+"\n")
	if code, _, stderr := trackplanRun(t, "--db", db, "import", file); code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	code, out, stderr := trackplanRun(t, "--db", db, "events", "--format", "ndjson")
	if code != 0 {
		t.Fatalf("events: %s", stderr)
	}
	var got [][2]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m struct{ Timestamp, ReceivedAt string }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, [2]string{m.Timestamp, m.ReceivedAt})
	}
	want := [][2]string{
		{"2026-11-02T09:00:00Z", "2026-11-02T09:00:30Z"},
		{"2026-11-03T12:00:00Z", "2026-11-03T12:00:05Z"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("timestamp, receivedAt (-want +got):\n%s", diff)
	}
}

// TestContractImportNumericTimestamp: a numeric timestamp is a
// bad_timestamp rejection with the message as its sample.
func TestContractImportNumericTimestamp(t *testing.T) {
	db := filepath.Join(t.TempDir(), "t.db")
	line := `{"type":"track","messageId":"m1","userId":"u1","event":"Signed In","timestamp":1733212800}`
	file := writeContractFile(t, "in.ndjson", line+"\n"+msg("ok", "")+"\n")
	if code, _, stderr := trackplanRun(t, "--db", db, "import", file); code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	o := observedOutput(t, "--db", db)
	rejs, _ := o["rejections"].([]any)
	if len(rejs) != 1 {
		t.Fatalf("rejections: %v", o["rejections"])
	}
	r := rejs[0].(map[string]any)
	if r["reason"] != "bad_timestamp" || r["sample"] != line {
		t.Errorf("rejection %v", r)
	}
}

// TestContractObservedJSON: the JSON of `observed` shows every list,
// empty or not; the examples of pii properties are masked, dates are not
// taken for phone numbers, and a page call's name is observed as the
// name property of Page Viewed, as the check sees it.
func TestContractObservedJSON(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "t.db")
	plan := writeContractFile(t, "plan.yaml", contractPlan)
	ts := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC).Format(time.RFC3339)
	file := writeContractFile(t, "in.ndjson", strings.Join([]string{
		`{"type":"track","messageId":"m1","userId":"u1","event":"Invite Sent","timestamp":"` + ts + `","properties":{"invitee_name":"Ada Lovelace","due":"2024-01-31","tags":["a"]}}`,
		`{"type":"identify","messageId":"m2","userId":"u1","timestamp":"` + ts + `","traits":{"last_name":"Lovelace","phone":"+1 (555) 010-9999"}}`,
		`{"type":"page","messageId":"m3","userId":"u1","name":"Pricing","timestamp":"` + ts + `","properties":{"path":"/pricing"}}`,
	}, "\n")+"\n")
	if code, _, stderr := trackplanRun(t, "--db", db, "--plan", plan, "import", file); code != 0 {
		t.Fatalf("import: %s", stderr)
	}

	// The page call, named at the top level only, satisfies the plan's
	// required name property: the check sees the name where the observed
	// schema shows it. (drift also makes the store follow the plan.)
	code, out, stderr := trackplanRun(t, "--db", db, "--plan", plan, "drift", "--format", "json", "--at", ts)
	if code != 0 && code != 1 {
		t.Fatalf("drift: exit %d: %s", code, stderr)
	}
	var rep struct {
		Findings []struct{ Code, Event, Path string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("drift JSON: %v", err)
	}
	for _, f := range rep.Findings {
		if f.Event == "Page Viewed" && f.Path != "" {
			t.Errorf("drift: %s %s %s", f.Code, f.Event, f.Path)
		}
	}

	for _, args := range [][]string{
		{"--db", db, "--plan", plan},
		{"--db", db}, // the plan the store follows masks as well
	} {
		o := observedOutput(t, args...)
		if rejs, ok := o["rejections"].([]any); !ok || len(rejs) != 0 {
			t.Errorf("%v: rejections = %#v; want []", args, o["rejections"])
		}
		examples := map[string]any{}
		for _, e := range o["events"].([]any) {
			e := e.(map[string]any)
			for _, p := range e["properties"].([]any) {
				p := p.(map[string]any)
				ex, ok := p["examples"]
				if _, isList := ex.([]any); !ok || !isList {
					t.Errorf("%v: %s %s: examples = %#v; want a list", args, e["name"], p["path"], ex)
				}
				examples[e["name"].(string)+" "+p["path"].(string)] = ex
			}
		}
		want := map[string]any{
			"Invite Sent due":          []any{"2024-01-31"},
			"Invite Sent invitee_name": []any{"(pii)"},
			"Invite Sent tags":         []any{},
			"Invite Sent tags[]":       []any{"a"},
			"identify last_name":       []any{"(pii)"},
			"identify phone":           []any{"+*** (phone)"},
			"Page Viewed name":         []any{"Pricing"},
			"Page Viewed path":         []any{"/pricing"},
		}
		if diff := cmp.Diff(want, examples); diff != "" {
			t.Errorf("%v: examples (-want +got):\n%s", args, diff)
		}
	}

	// Only rejections: events is an empty list, not null.
	db2 := filepath.Join(dir, "t2.db")
	bad := writeContractFile(t, "bad.ndjson", `{"type":"track","event":"E"}`+"\n")
	if code, _, stderr := trackplanRun(t, "--db", db2, "import", bad); code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	o := observedOutput(t, "--db", db2)
	if evs, ok := o["events"].([]any); !ok || len(evs) != 0 {
		t.Errorf("events = %#v; want []", o["events"])
	}
}
