package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan/templates"
)

// Versions of the peer tools `make peer-check` installs from npm.
const (
	peerTypewriter  = "typewriter@9.2.0"
	peerTypeScript  = "typescript@5.9.3"
	peerAnalytics   = "@segment/analytics-node@2.3.0"
	peerCheckEnvVar = "TRACKPLAN_PEER_CHECK"
)

// TestPeerTools checks the exports with the owners' own tools, for every
// template: Typewriter builds a TypeScript client from the Segment export
// (as plan.json) and `tsc --strict` compiles it; rudder-cli, when it is on
// the PATH, validates the RudderStack export against a loopback stub of
// the workspace endpoint it fetches first. It needs node, npm and the npm
// registry, so it runs only under `make peer-check`
// (TRACKPLAN_PEER_CHECK=1).
func TestPeerTools(t *testing.T) {
	if os.Getenv(peerCheckEnvVar) == "" {
		t.Skip("set " + peerCheckEnvVar + "=1 (make peer-check) to run Typewriter, tsc and rudder-cli on the exports")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	run := func(dir string, env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	tools := t.TempDir()
	if err := os.WriteFile(filepath.Join(tools, "package.json"), []byte(`{"name": "peer-check", "version": "1.0.0", "private": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	run(tools, nil, "npm", "install", "--no-audit", "--no-fund", peerTypewriter, peerTypeScript, peerAnalytics)

	rudder, _ := exec.LookPath("rudder-cli")
	var stub *httptest.Server
	if rudder != "" {
		stub = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Path == "/v2/workspace" {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"workspace": {"id": "ws_peer_check", "name": "peer check", "environment": "DEVELOPMENT", "status": "ACTIVE", "region": "US"}}`))
				return
			}
			http.Error(w, "not stubbed", http.StatusNotFound)
		}))
		defer stub.Close()
	} else {
		t.Log("rudder-cli is not on the PATH: the RudderStack export is not checked by it")
	}

	for _, name := range templates.Names() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			plan := filepath.Join(dir, name+".yaml")
			if code, _, stderr := trackplanRun(t, "plan", "init", "--template", name, "--out", plan); code != 0 {
				t.Fatal(stderr)
			}

			// Typewriter: plan.json from the Segment export, a client, tsc.
			tw := filepath.Join(dir, "typewriter")
			if err := os.MkdirAll(filepath.Join(tw, "analytics"), 0o755); err != nil {
				t.Fatal(err)
			}
			if code, _, stderr := trackplanRun(t, "--plan", plan, "plan", "export", "--format", "segment", "--name", name, "--out", filepath.Join(tw, "analytics", "plan.json")); code != 0 {
				t.Fatal(stderr)
			}
			id := strings.ReplaceAll(name, "-", "_")
			config := "client:\n  sdk: analytics-node\n  language: typescript\ntrackingPlans:\n  - id: " + id + "\n    path: ./analytics\n"
			if err := os.WriteFile(filepath.Join(tw, "typewriter.yml"), []byte(config), 0o644); err != nil {
				t.Fatal(err)
			}
			bin := filepath.Join(tools, "node_modules", ".bin")
			out := run(tw, []string{"HOME=" + dir}, filepath.Join(bin, "typewriter"), "build")
			if !strings.Contains(out, "Loaded tracking plan from file: "+name) {
				t.Errorf("typewriter build did not load the export:\n%s", out)
			}
			if err := os.Symlink(filepath.Join(tools, "node_modules"), filepath.Join(tw, "node_modules")); err != nil {
				t.Fatal(err)
			}
			run(tw, nil, filepath.Join(bin, "tsc"), "--strict", "--noEmit", "--target", "ES2020", "--module", "commonjs",
				"--moduleResolution", "node", "--esModuleInterop", "--skipLibCheck", filepath.Join("analytics", "segment.ts"))

			if rudder == "" {
				return
			}
			project := filepath.Join(dir, "rudder")
			if code, _, stderr := trackplanRun(t, "--plan", plan, "plan", "export", "--format", "rudderstack", "--out", project); code != 0 {
				t.Fatal(stderr)
			}
			out = run(dir, []string{
				"HOME=" + dir,
				"RUDDERSTACK_API_URL=" + stub.URL,
				"RUDDERSTACK_ACCESS_TOKEN=peer-check",
				"RUDDERSTACK_CLI_TELEMETRY_DISABLED=true",
				"RUDDERSTACK_CLI_TELEMETRY_DATAPLANE_URL=http://127.0.0.1:9",
			}, rudder, "validate", "--location", project)
			if !strings.Contains(out, "valid") {
				t.Errorf("rudder-cli validate:\n%s", out)
			}
		})
	}
}
