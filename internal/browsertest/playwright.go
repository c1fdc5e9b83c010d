//go:build unix

package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// NodeModules returns the node_modules folder of internal/browsertest/node,
// where `make test` installs Playwright's driver and analytics.js 2.0. It
// skips the test when they are not installed (and fails it under CI=true,
// where the Makefile installs them).
func NodeModules(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
	nm := filepath.Join(dir, "internal", "browsertest", "node", "node_modules")
	if _, err := os.Stat(filepath.Join(nm, "playwright-core", "package.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("playwright-core is not installed; `make test` installs it with npm ci")
		}
		t.Skip("playwright-core is not installed; `make test` installs it (npm ci --prefix internal/browsertest/node)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	return nm
}

// Script runs a Node.js script that drives Chromium with playwright-core
// and returns its standard output. The script finds the packages of
// NodeModules through NODE_PATH, the options for chromium.launch as JSON in
// $LAUNCH_OPTIONS (Debian's Chromium, headless) and a fresh profile folder
// in $PROFILE_DIR; args follow the script's path. It
// fails the test when the script exits non-zero or runs past timeout.
func Script(t testing.TB, timeout time.Duration, script string, env []string, args ...string) []byte {
	t.Helper()
	bin := Require(t)
	nm := NodeModules(t)
	profile, err := os.MkdirTemp("", "trackplan-playwright-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nm, "LAUNCH_OPTIONS="+launchOptions(bin), "PROFILE_DIR="+profile)
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := runGroup(cmd); err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(script), err, out.String(), errOut.String())
	}
	return out.Bytes()
}

// launchOptions is what a script passes to chromium.launch, from
// $LAUNCH_OPTIONS: Debian's Chromium, headless, with the flags that keep it
// off the network it has no business reaching.
func launchOptions(bin string) string {
	opts, _ := json.Marshal(map[string]any{
		"executablePath": bin,
		"headless":       true,
		"args": []string{"--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
			"--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"},
	})
	return string(opts)
}
