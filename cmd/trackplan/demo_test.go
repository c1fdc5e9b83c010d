package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackplan/trackplan/internal/browsertest"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDemo runs `trackplan demo` end to end and checks each part of the
// loop shows up: observed traffic, drift, top accounts and the push dry run.
func TestDemo(t *testing.T) {
	code, out, stderr := trackplanRun(t, "demo", "--accounts", "12", "--users-per-account", "4", "--days", "14")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"acknowledged, 0 failed", "== Observed ==", "== Drift", "UNPLANNED_EVENT",
		"TYPE_MISMATCH", "REQUIRED_MISSING", "PLANNED_NOT_SEEN", "== Top accounts", "P90", "Engaged", "dry run", "would send"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}

// TestDemoInBrowser loads every dashboard page of a running demo in
// headless Chromium: key elements present, no console errors, screenshots
// saved (to $TRACKPLAN_ARTIFACTS when set).
func TestDemoInBrowser(t *testing.T) {
	bin := browsertest.Require(t)
	artifacts := os.Getenv("TRACKPLAN_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	os.MkdirAll(artifacts, 0o755)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"trackplan", "demo", "--serve", "--listen", addr, "--accounts", "30", "--users-per-account", "4"},
			nil, out, &bytes.Buffer{})
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo --serve exited %d", code)
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "press Ctrl-C") {
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not come up:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	base := "http://" + addr
	resp, err := http.Get(base + "/accounts")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	pages := []struct {
		name, path string
		want       []string
	}{
		{"demo-overview", "/", []string{`id="health-bar"`, `id="top-findings"`, "UNPLANNED_EVENT", `id="score-histogram"`}},
		{"demo-accounts", "/accounts", []string{`id="accounts"`, `class="spark"`, `id="band-select"`}},
		{"demo-events", "/events", []string{`id="events"`, "Report Exported", "Report Shared"}},
	}
	// The account page of the top account, found on the accounts page.
	dom, _ := browsertest.Run(t, bin, "--dump-dom", base+"/accounts")
	if i := bytes.Index(dom, []byte(`href="/accounts/`)); i >= 0 {
		rest := dom[i+len(`href="`):]
		path := string(rest[:bytes.IndexByte(rest, '"')])
		if !strings.Contains(path, "?") {
			pages = append(pages, struct {
				name, path string
				want       []string
			}{"demo-account", path, []string{`id="account-score"`, `id="history-chart"`, `id="users"`}})
		}
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			browsertest.CheckPage(t, bin, base+p.path, p.want, filepath.Join(artifacts, p.name+".png"))
		})
	}
}
