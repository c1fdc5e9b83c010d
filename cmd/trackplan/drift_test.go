package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/templates"
)

// segmentJSON renders a message the way Segment's archives hold it.
func segmentJSON(t testing.TB, m *trackplan.Message) []byte {
	t.Helper()
	out := map[string]any{"type": m.Type, "messageId": m.MessageID, "timestamp": m.Timestamp.Format(time.RFC3339Nano)}
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	set("userId", m.UserID)
	set("anonymousId", m.AnonymousID)
	set("event", m.Event)
	set("name", m.Name)
	set("previousId", m.PreviousID)
	if m.Type == trackplan.Group {
		out["groupId"] = m.GroupID
	} else if m.GroupID != "" {
		out["context"] = map[string]any{"groupId": m.GroupID}
	}
	if m.Properties != nil {
		out["properties"] = m.Properties
	}
	if m.Traits != nil {
		out["traits"] = m.Traits
	}
	return mustJSON(t, out)
}

func writeDriftEvents(t *testing.T, now time.Time) string {
	t.Helper()
	plan, err := templates.Plan(defaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	g, err := simulate.New(plan, simulate.Options{Accounts: 15, UsersPerAccount: 3, Days: 10, Seed: 4, Drift: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	g.Generate(func(m *trackplan.Message) error {
		buf.Write(segmentJSON(t, m))
		buf.WriteByte('\n')
		return nil
	})
	buf.WriteString(`{"type":"track","userId":"u"}` + "\n") // an invalid message too
	path := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func trackplanRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"trackplan"}, args...), nil, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestDriftEventsFileMatchesStore checks `drift --events FILE` and `drift`
// on a store that imported the same file give the same report, and the exit
// codes of --fail-on and a baseline.
func TestDriftEventsFileMatchesStore(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	events := writeDriftEvents(t, now)
	at := now.Format(time.RFC3339)

	code, fromFile, stderr := trackplanRun(t, "drift", "--events", events, "--expect-all", "--at", at, "--format", "json")
	if code != exitFindings {
		t.Fatalf("drift --events: exit %d (%s); the drifted traffic must fail", code, stderr)
	}
	db := filepath.Join(t.TempDir(), "t.db")
	if code, _, stderr := trackplanRun(t, "--db", db, "import", "--source", "events", events); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	code, fromStore, _ := trackplanRun(t, "--db", db, "drift", "--at", at, "--format", "json")
	if code != exitFindings {
		t.Fatalf("drift on the store: exit %d", code)
	}
	// A rejected line has no time of its own: the file counts it in any
	// window, the store at its arrival (the import, after --at). All else
	// must agree.
	var fileRejections int
	type report struct {
		Summary  map[string]int
		Findings []trackplan.Finding
	}
	decode := func(s string) report {
		var r report
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			t.Fatal(err)
		}
		kept := r.Findings[:0]
		for _, f := range r.Findings {
			if f.Code == trackplan.InvalidMessage {
				fileRejections++
				r.Summary["warnings"]--
				continue
			}
			kept = append(kept, f)
		}
		r.Findings = kept
		return r
	}
	rep := decode(fromFile)
	if diff := cmp.Diff(rep, decode(fromStore)); diff != "" {
		t.Errorf("--events and the store disagree (-file +store):\n%s", diff)
	}
	if len(rep.Findings) == 0 {
		t.Fatal("no findings")
	}
	codes := map[trackplan.Code]bool{}
	for _, f := range rep.Findings {
		codes[f.Code] = true
	}
	if fileRejections == 0 {
		t.Error("no INVALID_MESSAGE finding for the file's bad lines")
	}
	for _, c := range []trackplan.Code{trackplan.UnplannedEvent, trackplan.TypeMismatch, trackplan.RequiredMissing,
		trackplan.PlannedNotSeen} {
		if !codes[c] {
			t.Errorf("no %s finding in %v", c, codes)
		}
	}

	if code, _, _ := trackplanRun(t, "--db", db, "drift", "--at", at, "--fail-on", "never"); code != 0 {
		t.Errorf("--fail-on never: exit %d", code)
	}
	baseline := filepath.Join(t.TempDir(), "baseline.yaml")
	if code, _, stderr := trackplanRun(t, "--db", db, "drift", "--at", at, "--baseline", baseline, "--write-baseline"); code != 0 {
		t.Errorf("writing the baseline accepts everything: exit %d %s", code, stderr)
	}
	code, out, _ := trackplanRun(t, "--db", db, "drift", "--at", at, "--baseline", baseline, "--fail-on", "warning")
	if code != 0 || !strings.Contains(out, "accepted by the baseline") {
		t.Errorf("with the baseline: exit %d\n%s", code, out)
	}
	for _, bad := range [][]string{{"drift", "--fail-on", "sometimes"}, {"drift", "--format", "pdf"}, {"drift", "--since", "a week"}} {
		if code, _, _ := trackplanRun(t, append([]string{"--db", db}, bad...)...); code != exitUsage {
			t.Errorf("%v: exit %d; want %d", bad, code, exitUsage)
		}
	}
}
