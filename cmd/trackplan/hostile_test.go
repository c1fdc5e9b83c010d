package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan/store"
)

// TestHostileTimestampsAndIDs: a timestamp far in the future (year 10000
// in UTC) or before 2000 is taken as the receive time and counted, so the
// reports keep working; identical calls without a messageId are three
// events; a write key under another spelling never reaches the reservoir.
func TestHostileTimestampsAndIDs(t *testing.T) {
	ts := startTestServer(t, "")
	invoice := `{"type":"track","userId":"billing-job","event":"Invoice Paid","properties":{"amount":10}}`
	body := batch(
		`{"type":"group","userId":"u1","groupId":"g1","traits":{"name":"Forged"},"timestamp":"9999-12-31T23:59:59-23:59","messageId":"far"}`,
		`{"type":"track","userId":"u1","event":"Signed In","timestamp":"0000-01-01T00:00:00Z","messageId":"zero"}`,
		invoice, invoice, invoice,
		`{"WriteKey":"`+testKey+`","type":"track","userId":"u2","event":"Report Exported","messageId":"k1"}`,
		`{"write\u004bey":"`+testKey+`","type":"track","userId":"u2","event":"Report Exported","messageId":"k2"}`,
	)
	if got := ts.post(t, "/v1/batch", body, nil); got.status != 200 {
		t.Fatalf("batch: %d %s", got.status, got.body)
	}
	o := ts.observed(t)
	if o.Totals.Messages != 7 || o.Totals.ClampedTimestamps != 2 || o.Totals.Duplicates != 0 {
		t.Errorf("totals = %+v; want 7 messages (three Invoice Paid), 2 clamped timestamps, no duplicates", o.Totals)
	}
	msgs, err := ts.st.Reservoir(context.Background(), store.EventKey{Source: "web", Type: "track", Name: "Report Exported"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if strings.Contains(string(m), testKey) {
			t.Errorf("the write key reached the reservoir: %s", m)
		}
	}
}

// TestHostileOutput: text from events cannot forge terminal lines, run a
// spreadsheet formula or render live links and mentions in a pull request.
func TestHostileOutput(t *testing.T) {
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	at := day.Add(time.Hour).Format(time.RFC3339)
	lines := []string{
		`{"type":"track","messageId":"h1","userId":"u1","event":"X\u001b[2K\r0 errors","timestamp":"` + at + `"}`,
		`{"type":"track","messageId":"h2","userId":"u1","event":"[click](https://evil.example) ![i](https://evil.example/i.png) @everyone","timestamp":"` + at + `"}`,
		`{"type":"group","messageId":"h3","userId":"u1","groupId":"=HYPERLINK(\"https://evil.example\",\"x\")","traits":{"name":"=1+1"},"timestamp":"` + at + `"}`,
		`{"type":"track","messageId":"h4","userId":"u1","event":"Report Exported","context":{"groupId":"=HYPERLINK(\"https://evil.example\",\"x\")"},"timestamp":"` + at + `"}`,
	}
	dir := t.TempDir()
	events, db := filepath.Join(dir, "events.ndjson"), filepath.Join(dir, "t.db")
	if err := os.WriteFile(events, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := trackplanRun(t, "--db", db, "import", "--source", "web", events); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	_, out, _ := trackplanRun(t, "--db", db, "observed")
	if strings.ContainsAny(out, "\x1b\r") || !strings.Contains(out, `\x1b[2K\r0 errors`) {
		t.Errorf("observed prints the control characters raw:\n%q", out)
	}
	_, out, _ = trackplanRun(t, "--db", db, "drift", "--since", "720h", "--at", day.AddDate(0, 0, 1).Format(time.RFC3339))
	if strings.ContainsAny(out, "\x1b\r") {
		t.Errorf("drift prints the control characters raw:\n%q", out)
	}
	_, out, _ = trackplanRun(t, "--db", db, "drift", "--since", "720h", "--at", day.AddDate(0, 0, 1).Format(time.RFC3339), "--format", "markdown")
	if !strings.Contains(out, `\[click\]`) {
		t.Errorf("drift markdown does not report the event:\n%s", out)
	}
	for _, live := range []string{"[click](", "![i](", "@everyone", "https://"} {
		if strings.Contains(out, live) {
			t.Errorf("drift markdown keeps %q live:\n%s", live, out)
		}
	}
	code, out, stderr := trackplanRun(t, "--db", db, "score", "--at", day.AddDate(0, 0, 1).Format(time.RFC3339), "--format", "csv")
	if code != 0 {
		t.Fatalf("score: %d %s", code, stderr)
	}
	if !strings.Contains(out, `"'=HYPERLINK(""https://evil.example"",""x"")",'=1+1`) {
		t.Errorf("score csv does not neutralise formulas:\n%s", out)
	}
}
