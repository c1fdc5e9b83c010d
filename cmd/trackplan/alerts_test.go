package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/alerts"
	"github.com/trackplan/trackplan/store"
)

// TestAlertsCommands: `alerts test` reaches a fake Slack and a webhook
// sink (signed), `alerts list` shows both, and neither the URLs nor the
// signing secret appear in any output, `config check` included.
func TestAlertsCommands(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.HasPrefix(r.URL.Path, "/hooks/") {
			if err := alerts.Verify([]byte("sign-me-please"), r.Header.Get(alerts.TimestampHeader), r.Header.Get(alerts.SignatureHeader), body, time.Now()); err != nil {
				t.Errorf("webhook signature: %v", err)
			}
		}
		mu.Lock()
		got = append(got, r.URL.Path)
		mu.Unlock()
	}))
	defer srv.Close()
	t.Setenv("SLACK_URL", srv.URL+"/services/T1/B1/slacksecretpath")
	t.Setenv("HOOK_URL", srv.URL+"/hooks/hooksecretpath")
	path := writeConfig(t, "dashboard:\n  base_url: https://trackplan.example.com\nalerts:\n  slack:\n    webhook_url: ${SLACK_URL}\n  webhook:\n    url: ${HOOK_URL}\n    secret: sign-me-please\n")
	db := filepath.Join(t.TempDir(), "t.db")
	if code, _, stderr := trackplanRun(t, "migrate", "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	var outputs []string
	for _, ch := range []string{"slack", "webhook"} {
		code, out, stderr := trackplanRun(t, "--config", path, "--db", db, "alerts", "test", ch)
		if code != 0 {
			t.Fatalf("alerts test %s: %d %s", ch, code, stderr)
		}
		outputs = append(outputs, out, stderr)
	}
	if len(got) != 2 {
		t.Fatalf("requests: %v", got)
	}
	code, out, stderr := trackplanRun(t, "--config", path, "--db", db, "alerts", "list", "--format", "json")
	if code != 0 {
		t.Fatalf("alerts list: %d %s", code, stderr)
	}
	var recs []store.AlertRecord
	if err := json.Unmarshal([]byte(out), &recs); err != nil || len(recs) != 2 || recs[0].Status != store.AlertSent {
		t.Fatalf("alerts list: %v\n%s", err, out)
	}
	outputs = append(outputs, out, stderr)
	code, out, stderr = trackplanRun(t, "--config", path, "--db", db, "alerts", "list")
	if code != 0 || !strings.Contains(out, "trackplan test alert") {
		t.Fatalf("alerts list (text): %d %s %s", code, out, stderr)
	}
	outputs = append(outputs, out, stderr)
	code, out, stderr = trackplanRun(t, "--config", path, "config", "check")
	if code != 0 || !strings.Contains(out, "base_url: https://trackplan.example.com") {
		t.Fatalf("config check: %d %s %s", code, out, stderr)
	}
	outputs = append(outputs, out, stderr)
	// A failing channel's error names no URL either.
	t.Setenv("SLACK_URL", "http://127.0.0.1:1/services/T1/B1/slacksecretpath")
	code, out, stderr = trackplanRun(t, "--config", path, "--db", db, "alerts", "test", "slack")
	if code != 3 {
		t.Errorf("alerts test against nothing: exit %d, want 3", code)
	}
	outputs = append(outputs, out, stderr)
	for _, o := range outputs {
		for _, secret := range []string{"slacksecretpath", "hooksecretpath", "sign-me-please"} {
			if strings.Contains(o, secret) {
				t.Errorf("output holds %q:\n%s", secret, o)
			}
		}
	}
	if code, _, stderr := trackplanRun(t, "--config", path, "--db", db, "alerts", "test", "email"); code != 2 {
		t.Errorf("alerts test email: exit %d (%s), want 2", code, stderr)
	}
}

// TestAlertsNewFindingSeverity: `alerts.new_finding.severity: warning`
// reaches the notifier's configuration (so new warnings page, as the
// alerts package's tests show), the default stays error, and a severity
// that is neither is refused.
func TestAlertsNewFindingSeverity(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		want trackplan.Severity
	}{
		{"alerts:\n  new_finding:\n    severity: warning\n", trackplan.SeverityWarning},
		{"alerts:\n  new_finding:\n    enabled: true\n", trackplan.SeverityError},
	} {
		cfg, err := loadConfigFile(writeConfig(t, tt.yaml), func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		if got := alertsConfig(cfg).NewFinding.Severity; got != tt.want {
			t.Errorf("%q: severity %q, want %q", tt.yaml, got, tt.want)
		}
	}
	cfg, err := loadConfigFile(writeConfig(t, "alerts:\n  new_finding:\n    severity: info\n"), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "alerts.new_finding.severity") {
		t.Errorf("severity info: %v, want a problem naming alerts.new_finding.severity", err)
	}
}
