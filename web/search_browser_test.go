//go:build unix

package web

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan/internal/browsertest"
)

// TestBrowserSearchAndFilters loads the search page and filtered views in
// headless Chromium: they render without console errors, and their
// screenshots land in $TRACKPLAN_ARTIFACTS with the other pages'.
func TestBrowserSearchAndFilters(t *testing.T) {
	bin := browsertest.Require(t)
	artifacts := os.Getenv("TRACKPLAN_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newDriftHandler(t, newDriftData()))
	defer srv.Close()

	pages := []struct {
		name, path string
		want       []string // in the DOM after scripts ran
	}{
		{"search", "/search?q=report", []string{`id="search-input"`, `<label for="search-page-input">`, `id="results-events"`,
			"Report Exported", `id="results-users"`}},
		{"overview-filtered", "/?source=web&window=30d", []string{`id="violations-chart"`, `class="bar sev-bar-error"`,
			`class="plan-mark"`, `<option value="web" selected="">web</option>`, `id="health-bar"`}},
		{"events-filtered", "/events?source=backend&window=24h", []string{`class="chart timeline timeline-small"`,
			`<option value="24h" selected="">`, "Report Exported"}},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			browsertest.CheckPage(t, bin, srv.URL+p.path, p.want, filepath.Join(artifacts, p.name+".png"))
		})
	}
}

// TestBrowserSearchKeyboard drives the search and the filter form from the
// keyboard in Chromium (testdata/browser/search_keys.js).
func TestBrowserSearchKeyboard(t *testing.T) {
	srv := httptest.NewServer(newDriftHandler(t, newDriftData()))
	defer srv.Close()
	cfg, err := json.Marshal(map[string]any{"dashboard": srv.URL, "timeoutMs": 15000})
	if err != nil {
		t.Fatal(err)
	}
	out := browsertest.Script(t, 60*time.Second, filepath.Join("testdata", "browser", "search_keys.js"), nil, string(cfg))
	if !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		t.Errorf("search_keys.js did not finish:\n%s", out)
	}
}
