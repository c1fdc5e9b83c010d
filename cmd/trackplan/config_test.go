package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trackplan.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigBadFiles(t *testing.T) {
	env := map[string]string{"WEB_KEY": "k-web"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name string
		body string
		want string // substring of the error
	}{
		{"unknown key", "listen: 127.0.0.1:1\nlisten_port: 9\n", "field listen_port not found"},
		{"unknown nested key", "notion:\n  tokn: x\n", "field tokn not found"},
		{"not yaml", "sources: [\n", "config"},
		{"wrong type", "notion:\n  rate: fast\n", "line 2: cannot unmarshal"},
		{"missing env var", "sources:\n  - name: web\n    write_key: ${NOPE_KEY}\n", "NOPE_KEY is not set"},
		{"source without name", "sources:\n  - write_key: ${WEB_KEY}\n", "sources[0].name: must not be empty"},
		{"source without key", "sources:\n  - {name: web}\n", "sources[0].write_key: must not be empty"},
		{"duplicate source", "sources:\n  - {name: web, write_key: a}\n  - {name: web, write_key: b}\n", `sources[1].name: source "web" is defined twice`},
		{"shared key", "sources:\n  - {name: web, write_key: a}\n  - {name: ios, write_key: a}\n", "sources[1].write_key: the same write key"},
		{"bad rate", "notion:\n  rate: 0\n", "notion.rate"},
		{"bad base url", "notion:\n  base_url: api.notion.com\n", "notion.base_url: must be an http(s) URL"},
		{"bad duration", "drift:\n  window: 7 days\n", "bad duration"},
		{"bad cron", "schedule:\n  score: every hour\n", "schedule.score: bad cron expression"},
		{"bad group user", "push:\n  group_user: first\n", "push.group_user"},
		{"bad on_removed", "push:\n  on_removed: delete\n", "push.on_removed: must be zero or ignore"},
		{"listen not an address", "listen: not an address\n", `listen: "not an address" is not a host:port address`},
		{"listen without port", "listen: 127.0.0.1\n", "is not a host:port address"},
		{"short dedupe", "retention:\n  dedupe: 1h\n", "retention.dedupe: must be at least 24h"},
		{"short log", "retention:\n  events: 12h\n", "retention.events: must be at least 24h"},
		{"log shorter than dedupe", "retention:\n  events: 48h\n  dedupe: 72h\n", "retention.events: must be at least retention.dedupe"},
		{"half basic auth", "dashboard:\n  user: admin\n", "dashboard: user and password go together"},
		{"profile weight", "scoring:\n  profiles:\n    - name: trial\n      events: {Report Exported: 12}\n", `scoring.profiles[0].events["Report Exported"]`},
		{"profile twice", "scoring:\n  profiles:\n    - {name: a, events: {X: 1}}\n    - {name: a, events: {X: 1}}\n", `profile "a" is defined twice`},
		{"forward without key", "sources:\n  - {name: web, write_key: a, forward: {endpoint: 'https://api.segment.io'}}\n", "sources[0].forward.write_key: must not be empty"},
		{"forward bad endpoint", "sources:\n  - {name: web, write_key: a, forward: {endpoint: api.segment.io, write_key: b}}\n", "sources[0].forward.endpoint: must be an http(s) URL"},
		{"forward credentials in endpoint", "sources:\n  - {name: web, write_key: a, forward: {endpoint: 'https://k@api.segment.io', write_key: b}}\n", "must not hold credentials"},
		{"forward unknown rule", "sources:\n  - {name: web, write_key: a, forward: {write_key: b, policy: [block_all]}}\n", `sources[0].forward.policy: unknown enforcement rule "block_all"`},
		{"forward with other rules", "sources:\n  - {name: web, write_key: a, forward: {write_key: b, policy: [forward, block_invalid]}}\n", "cannot be combined"},
		{"forward unknown status", "sources:\n  - {name: web, write_key: a, forward: {write_key: b, policy: [block_unplanned], block_statuses: [gone]}}\n", `unknown plan status "gone"`},
		{"forward unknown key", "sources:\n  - {name: web, write_key: a, forward: {write_key: b, endpiont: x}}\n", "field endpiont not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfigFile(writeConfig(t, tt.body), getenv)
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "k-web") {
				t.Errorf("error leaks a secret: %q", err)
			}
		})
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	env := map[string]string{"TRACKPLAN_WEB_WRITE_KEY": "a", "TRACKPLAN_IOS_WRITE_KEY": "b",
		"NOTION_TOKEN": "secret_x", "SEGMENT_WRITE_KEY": "w", "SEGMENT_WEBHOOK_SECRET": "s", "DASHBOARD_TOKEN": "t"}
	cfg, err := loadConfigFile(filepath.Join("..", "..", "trackplan.example.yaml"), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sources) != 2 || cfg.Sources[0].WriteKey != "a" {
		t.Errorf("sources = %+v", cfg.Sources)
	}
}

func TestConfigCheckMasksSecrets(t *testing.T) {
	t.Setenv("TRACKPLAN_WEB_KEY", "wk-123456")
	path := writeConfig(t, "sources:\n  - name: web\n    write_key: ${TRACKPLAN_WEB_KEY}\n    forward: {write_key: fwd-secret-9}\nnotion:\n  token: secret_abc\n")
	code, out, stderr := trackplanRun(t, "--config", path, "--db", "postgres://u:hunter2@db.example/x?password=p2", "config", "check")
	if code != 0 {
		t.Fatalf("config check: %d %s", code, stderr)
	}
	for _, secret := range []string{"wk-123456", "secret_abc", "hunter2", "p2", "fwd-secret-9"} {
		if strings.Contains(out, secret) {
			t.Errorf("config check prints %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "name: web") {
		t.Errorf("config check output:\n%s", out)
	}
}
