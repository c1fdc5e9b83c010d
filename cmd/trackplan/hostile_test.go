package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan/metrics"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
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

// TestShutdownWithSlowClient: a client that never finishes its request does
// not make a graceful shutdown fail; what was acknowledged stays.
func TestShutdownWithSlowClient(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := startServer(serverConfig{Listen: "127.0.0.1:0", Sources: []segment.Source{{Name: "web", WriteKey: testKey}},
		Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{server: srv, st: st, url: "http://" + srv.Addr}
	if got := ts.post(t, "/v1/batch", batch(msg("kept", "")), nil); got.status != 200 {
		t.Fatalf("batch: %d %s", got.status, got.body)
	}
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers sent, the body promised and never sent.
	fmt.Fprintf(conn, "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"batch\":[")
	time.Sleep(50 * time.Millisecond)
	if err := srv.Shutdown(300 * time.Millisecond); err != nil {
		t.Fatalf("shutdown with a slow client: %v", err)
	}
	o, err := st.Observed(context.Background())
	if err != nil || o.Totals.Messages != 1 {
		t.Errorf("after shutdown: %+v, %v; want the acknowledged message", o, err)
	}
}

// TestDatabaseNames: a libpq keyword/value string is PostgreSQL (never a
// SQLite file named after the password), a URL of another database or a
// PostgreSQL URL that does not parse is a usage error, and no answer
// repeats a password.
func TestDatabaseNames(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		name, dsn string
		code      int
		says      string
	}{
		{"libpq string, nothing listening", "host=127.0.0.1 port=1 user=x password=s3cret-pw dbname=x connect_timeout=2", exitUpstream, "open store"},
		{"mysql URL", "mysql://root:s3cret-pw@127.0.0.1/db", exitUsage, "mysql:// is not a store"},
		{"postgres URL that does not parse", "postgres://u:s3cret-pw%zz@127.0.0.1/db", exitUsage, "does not parse"},
		{"empty", " ", exitUsage, "db: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := trackplanRun(t, "--db", tt.dsn, "observed")
			if code != tt.code || !strings.Contains(stderr, tt.says) {
				t.Errorf("exit %d, stderr %q; want exit %d saying %q", code, stderr, tt.code, tt.says)
			}
			if strings.Contains(stdout+stderr, "s3cret-pw") {
				t.Errorf("the password is repeated: %s%s", stdout, stderr)
			}
		})
	}
	_, out, _ := trackplanRun(t, "--db", "host=127.0.0.1 password='s3cret pw' dbname=x", "config", "check")
	if strings.Contains(out, "s3cret") {
		t.Errorf("config check prints the password: %s", out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a file was created for a connection string: %v", entries)
	}
}

// TestPrivateEndpoints: with dashboard credentials, /metrics and the
// details of /readyz need them; /readyz's status code stays public and its
// public body names no database host or user.
func TestPrivateEndpoints(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := DefaultConfig()
	cfg.Listen, cfg.Dashboard.Token = "127.0.0.1:0", "tok-123456"
	srv, err := startServer(serverConfig{Listen: "127.0.0.1:0", Sources: []segment.Source{{Name: "web", WriteKey: testKey}},
		Store: st, Logger: slog.New(slog.DiscardHandler), Metrics: metrics.New(nil), Private: privateEndpoints(cfg),
		Ready: func(context.Context) error {
			return errors.New("failed to connect to `user=tp database=prod`: db.internal:5432")
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(time.Second)
	get := func(path string, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+srv.Addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz", ""); code != http.StatusServiceUnavailable || strings.Contains(body, "db.internal") || strings.Contains(body, "user=") {
		t.Errorf("public /readyz: %d %q", code, body)
	}
	if code, _ := get("/readyz/details", ""); code != http.StatusUnauthorized {
		t.Errorf("/readyz/details without credentials: %d", code)
	}
	if code, body := get("/readyz/details", "tok-123456"); code != http.StatusServiceUnavailable || !strings.Contains(body, "db.internal") {
		t.Errorf("/readyz/details with credentials: %d %q", code, body)
	}
	if code, _ := get("/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without credentials: %d", code)
	}
	if code, _ := get("/metrics", "tok-123456"); code != http.StatusOK {
		t.Errorf("/metrics with credentials: %d", code)
	}
}

// TestBadRequestsVisible: a request refused as a whole from a known write
// key is counted in observed as bad_request; one without a known key is
// not stored at all.
func TestBadRequestsVisible(t *testing.T) {
	ts := startTestServer(t, "")
	if got := ts.post(t, "/v1/batch", []byte(`{"batch": not json`), nil); got.status != 400 {
		t.Fatalf("bad JSON: %d %s", got.status, got.body)
	}
	if got := ts.post(t, "/v1/batch", []byte(`not json`), map[string]string{"Authorization": "Basic bm9wZTo="}); got.status != 400 {
		t.Fatalf("bad JSON, unknown key: %d %s", got.status, got.body)
	}
	o := ts.observed(t)
	if got := rejectionsByReason(o)[segment.ReasonBadRequest]; got != 1 || o.Totals.Rejected != 1 {
		t.Errorf("bad_request rejections = %d (totals %+v); want 1, from the known key only", got, o.Totals)
	}
}

// TestLogQuota: once the event log reaches its quota, the collector answers
// 503 (clients retry) and says so in /metrics; what it acknowledged before
// stays.
func TestLogQuota(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := metrics.New(nil)
	empty, err := st.LogDiskBytes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// A quota just above the empty log: the first append reaches it.
	srv, err := startServer(serverConfig{Listen: "127.0.0.1:0", Sources: []segment.Source{{Name: "web", WriteKey: testKey}},
		Store: st, Logger: slog.New(slog.DiscardHandler), Metrics: m, LogQuota: empty + 1, QuotaEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(time.Second)
	ts := &testServer{server: srv, st: st, url: "http://" + srv.Addr}
	if got := ts.post(t, "/v1/batch", batch(msg("first", "")), nil); got.status != 200 {
		t.Fatalf("below the quota: %d %s", got.status, got.body)
	}
	deadline := time.Now().Add(5 * time.Second)
	var got response
	for time.Now().Before(deadline) {
		if got = ts.post(t, "/v1/batch", batch(msg(fmt.Sprint("more-", time.Now().UnixNano()), "")), nil); got.status == 503 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got.status != 503 {
		t.Fatalf("at the quota: %d %s; want 503", got.status, got.body)
	}
	resp, err := http.Get(ts.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "trackplan_log_full 1") {
		t.Errorf("/metrics does not say the log is full")
	}
	if n, err := st.Stored(context.Background(), "web", []string{"first"}); err != nil || n != 1 {
		t.Errorf("the acknowledged message: stored %d, %v", n, err)
	}
}
