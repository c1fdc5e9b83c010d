//go:build unix

package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trackplan/trackplan/internal/browsertest"
)

func TestBrowser(t *testing.T) {
	bin := browsertest.Require(t)
	artifacts := os.Getenv("TRACKPLAN_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/", newTestHandler(t, fixture()))
	// A page with console output and an uncaught exception, served without
	// the dashboard's Content-Security-Policy, checks that the detector
	// still recognises what this Chromium prints.
	mux.HandleFunc("GET /broken-for-test", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!DOCTYPE html><title>broken</title><p>broken</p>`+
			`<script>console.error("dashboard-test-error")</script><script>notDefined()</script>`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	// Enough accounts for the list to paginate.
	big := httptest.NewServer(newTestHandler(t, bigFixture(240)))
	defer big.Close()

	t.Run("detector", func(t *testing.T) {
		_, log := browsertest.Run(t, bin, "--dump-dom", srv.URL+"/broken-for-test")
		got := strings.Join(browsertest.ConsoleErrors(log), "\n")
		for _, want := range []string{"dashboard-test-error", "Uncaught ReferenceError"} {
			if !strings.Contains(got, want) {
				t.Errorf("the console detector missed %q; Chromium's log format may have changed:\n%s", want, log)
			}
		}
	})

	pages := []struct {
		name, base, path string
		want             []string // in the DOM after scripts ran
	}{
		{"overview", srv.URL, "/", []string{`id="health-bar"`, `class="seg k-live"`, `id="top-findings"`, `id="unplanned"`,
			`id="score-histogram"`, `class="bar k-most"`, `id="bands"`, "Biggest risers", "Soylent", `<option value="trial">`}},
		{"accounts", srv.URL, "/accounts", []string{`id="accounts"`, `aria-sort="descending"`, "Acme Corp", "Stark &amp; Sons",
			`class="spark"`, `id="band-select"`, `<label for="band-select">`}},
		{"account", srv.URL, "/accounts/acme", []string{`id="account-score"`, `id="history-chart"`, `class="line"`, `id="adoption"`,
			`id="traits"`, `id="users"`, "u-alice", `class="sort-button"`, "is-sortable"}},
		{"user", srv.URL, "/users/u-alice", []string{`id="user-score"`, `id="user-scores"`, `id="user-accounts"`,
			`id="user-traits"`, `id="also-known-as"`, "anon-1", "Alice Liddell"}},
		{"events", srv.URL, "/events", []string{`id="events"`, "Feature Used", "Button Clicked", `class="spark"`,
			`class="data props is-sortable"`, `class="sort-button"`, "UNPLANNED_PROPERTY"}},
		{"accounts-paginated", big.URL, "/accounts?page=2", []string{`aria-label="Pages of accounts"`,
			`aria-current="page">2</a>`, `rel="prev"`, `rel="next"`, "Showing 51–100 of 240"}},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			browsertest.CheckPage(t, bin, p.base+p.path, p.want, filepath.Join(artifacts, p.name+".png"))
		})
	}
}
