//go:build unix

// Package browsertest runs headless Chromium for the tests that check pages
// in a real browser: the DOM after scripts ran, console errors, screenshots.
package browsertest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Binary finds Chromium: /usr/bin/chromium, else chromium or
// chromium-browser on PATH; "" when there is none.
func Binary() string {
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Run runs headless Chromium with a fresh profile and returns its
// stdout and its log (stderr, with --enable-logging=stderr).
func Run(t testing.TB, bin string, args ...string) (stdout []byte, log string) {
	t.Helper()
	profile, err := os.MkdirTemp("", "trackplan-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Chromium's helper processes may still be writing for a moment after
	// it exits, so a failed removal is not a test failure.
	defer os.RemoveAll(profile)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + profile,
		"--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := runGroup(cmd); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.Bytes(), errOut.String()
}

// ConsoleErrors returns the lines of a Chromium log that report a page's
// console output or an uncaught exception. Chromium logs every console
// message, whatever its level, as `INFO:CONSOLE:<line>] "<message>",
// source: <url> (<line>)` (older versions: `INFO:CONSOLE(<line>)]`), and
// with them CSP violations, refused resources and uncaught exceptions
// ("Uncaught TypeError: …"). The dashboard logs nothing, so any such line
// is an error.
func ConsoleErrors(log string) []string {
	var lines []string
	for line := range strings.Lines(log) {
		if strings.Contains(line, ":CONSOLE") || strings.Contains(line, "CONSOLE(") || strings.Contains(line, "Uncaught") {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	return lines
}

// Require returns the Chromium binary, or skips the test when there is none
// (and fails it under CI=true, where CI installs Chromium) or when running
// with -short.
func Require(t testing.TB) string {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; CI must install it (apt-get install -y chromium)")
		}
		t.Skip("chromium is not installed; the browser tests run where it is (CI installs it)")
	}
	if testing.Short() {
		t.Skip("browser tests are slow; skipped with -short")
	}
	return bin
}

// runGroup runs cmd (made with exec.CommandContext) in a process group of
// its own and ends the whole group, on the context's end and after it
// exits: Chromium starts helper processes.
func runGroup(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return err
}

// CheckPage loads url in Chromium and checks what a visitor would get:
// every want string in the DOM after the page's scripts ran, and no console
// error; then it saves a 1280×1600 screenshot to shot and checks that it is
// a plausible PNG.
func CheckPage(t testing.TB, bin, url string, want []string, shot string) {
	t.Helper()
	dom, log := Run(t, bin, "--dump-dom", url)
	for _, w := range want {
		if !bytes.Contains(dom, []byte(w)) {
			t.Errorf("%s: %q missing from the DOM", url, w)
		}
	}
	for _, line := range ConsoleErrors(log) {
		t.Errorf("%s: console: %s", url, line)
	}
	_, log = Run(t, bin, "--screenshot="+shot, "--window-size=1280,1600", url)
	for _, line := range ConsoleErrors(log) {
		t.Errorf("%s: console: %s", url, line)
	}
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
		t.Errorf("screenshot %s: not a plausible PNG (%d bytes)", shot, len(png))
	}
	t.Logf("screenshot: %s", shot)
}
