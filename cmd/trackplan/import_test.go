package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
)

// archiveLines generates n NDJSON lines in Segment's archive shape: mostly
// single messages, some batch envelopes, some exact duplicates and some
// invalid messages.
func archiveLines(n int) []string {
	rng := rand.New(rand.NewPCG(1, 2))
	events := []string{"Signed In", "Report Exported", "Dashboard Viewed", "Feature Used", "Invite Sent"}
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	one := func(i int) string {
		ts := base.Add(time.Duration(rng.IntN(30*24*3600)) * time.Second).Format(time.RFC3339)
		user := fmt.Sprintf("user-%d", rng.IntN(2000))
		group := fmt.Sprintf("acct-%d", rng.IntN(200))
		switch r := rng.IntN(100); {
		case r < 8:
			return fmt.Sprintf(`{"type":"identify","messageId":"m%d","userId":%q,"timestamp":%q,"traits":{"email":"%s@example.com","plan":%q,"seats":%d}}`,
				i, user, ts, user, []string{"free", "pro", "enterprise"}[rng.IntN(3)], rng.IntN(50))
		case r < 12:
			return fmt.Sprintf(`{"type":"group","messageId":"m%d","userId":%q,"groupId":%q,"timestamp":%q,"traits":{"name":"Account %s","employees":%d}}`,
				i, user, group, ts, group, rng.IntN(500))
		case r < 14:
			return fmt.Sprintf(`{"type":"track","messageId":"m%d","userId":%q,"timestamp":%q}`, i, user, ts) // no event
		case r < 18:
			return fmt.Sprintf(`{"type":"page","messageId":"m%d","anonymousId":"anon-%d","timestamp":%q,"properties":{"name":"Pricing","path":"/pricing"}}`, i, rng.IntN(500), ts)
		default:
			return fmt.Sprintf(`{"type":"track","messageId":"m%d","userId":%q,"event":%q,"timestamp":%q,"receivedAt":%q,"context":{"groupId":%q},"properties":{"format":%q,"row_count":%d,"items":[{"sku":"s%d"}]}}`,
				i, user, events[rng.IntN(len(events))], ts, ts, group, []string{"csv", "pdf"}[rng.IntN(2)], rng.IntN(1000), rng.IntN(10))
		}
	}
	lines := make([]string, 0, n)
	for i := 0; len(lines) < n; i++ {
		switch r := rng.IntN(100); {
		case r < 2 && len(lines) > 0:
			lines = append(lines, lines[rng.IntN(len(lines))]) // exact resend
		case r < 4:
			lines = append(lines, fmt.Sprintf(`{"batch":[%s,%s,%s]}`, one(3*i+1_000_000), one(3*i+1_000_001), one(3*i+1_000_002)))
		default:
			lines = append(lines, one(i))
		}
	}
	return lines
}

// TestImportMatchesCollector imports a 100,000-line archive and sends the
// same messages to the collector: both stores must observe the same.
func TestImportMatchesCollector(t *testing.T) {
	lines := archiveLines(100_000)
	dir := t.TempDir()
	file := filepath.Join(dir, "archive.ndjson.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, l := range lines {
		zw.Write([]byte(l + "\n"))
	}
	zw.Close()
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	importDB := filepath.Join(dir, "import.db")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"trackplan", "--db", importDB, "import", "--source", "web", file}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("import exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "imported 100000 lines") {
		t.Errorf("import said: %s", stdout.String())
	}

	t.Logf("import: %s", time.Since(start))
	start = time.Now()
	ts := startTestServer(t, "")
	var pending []string
	flush := func() {
		if len(pending) > 0 {
			if got := ts.post(t, "/v1/batch", batch(pending...), nil); got.status != 200 {
				t.Fatalf("collector: %d %s", got.status, got.body)
			}
			pending = pending[:0]
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, `{"batch"`) {
			flush()
			if got := ts.post(t, "/v1/batch", []byte(l), nil); got.status != 200 {
				t.Fatalf("collector: %d %s", got.status, got.body)
			}
			continue
		}
		if pending = append(pending, l); len(pending) == 250 {
			flush()
		}
	}
	flush()
	t.Logf("collector: %s", time.Since(start))

	st, err := sqlite.Open(context.Background(), importDB, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	imported, err := st.Observed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	collected := ts.observed(t)
	// Rejections are timed at arrival, which differs between the runs.
	for _, o := range []*store.Observed{imported, collected} {
		for i := range o.Rejections {
			o.Rejections[i].FirstSeen, o.Rejections[i].LastSeen = time.Time{}, time.Time{}
		}
	}
	if diff := cmp.Diff(collected, imported); diff != "" {
		t.Errorf("import and collector disagree (-collector +import):\n%s", diff)
	}
	if imported.Totals.Duplicates == 0 || imported.Totals.Rejected == 0 {
		t.Errorf("the archive should hold duplicates and invalid messages: %+v", imported.Totals)
	}
}

// TestImportBadLines checks that unusable lines are counted with their line
// number, never dropped silently, and do not stop the import.
func TestImportBadLines(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		reason string
	}{
		{"not JSON", `{"type":"track"`, "malformed_line"},
		{"a JSON array", `[1,2]`, "malformed_line"},
		{"a bare string", `"hello"`, "malformed_line"},
		{"batch over the limit", `{"batch":[` + strings.Repeat(`{},`, 2500) + `{}]}`, "malformed_line"},
		{"line over 500 KB", `{"x":"` + strings.Repeat("y", 600<<10) + `"}`, "malformed_line"},
		{"message without ids", `{"type":"track","event":"E"}`, "no_user_anon_id"},
		{"bad receivedAt", `{"type":"track","event":"E","userId":"u","receivedAt":"soon"}`, "bad_timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "in.ndjson")
			content := msg("before", "") + "\n" + tt.line + "\n\n" + msg("after", "") + "\n"
			if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(dir, "t.db")
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{"trackplan", "--db", db, "import", file}, nil, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			st, err := sqlite.Open(context.Background(), db, store.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			o, _ := st.Observed(context.Background())
			if o.Totals.Messages != 2 || o.Totals.Rejected != 1 || len(o.Rejections) != 1 || o.Rejections[0].Reason != tt.reason {
				t.Fatalf("totals %+v, rejections %+v", o.Totals, o.Rejections)
			}
			if tt.reason == "malformed_line" && !strings.HasPrefix(o.Rejections[0].Sample, "line 2:") {
				t.Errorf("sample does not name the line: %q", o.Rejections[0].Sample)
			}
			if !strings.Contains(stdout.String(), "1 rejected") {
				t.Errorf("summary does not report the rejection: %s", stdout.String())
			}
		})
	}
}
