//go:build unix

package web

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan/internal/browsertest"
)

// TestBrowserSignIn drives Chromium through signing in to a dashboard with
// a password, browsing it, refusing forged cross-site POSTs and signing
// out (testdata/browser/signin.js).
func TestBrowserSignIn(t *testing.T) {
	browsertest.Require(t)
	browsertest.NodeModules(t)
	shots := os.Getenv("TRACKPLAN_ARTIFACTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	auth, err := NewAuth(AuthOptions{Listen: ":8088", User: testUser, Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	f := fixture()
	h, err := New(Options{Data: f, Volumes: f, Traits: f, Activity: f, Plans: f, Rechecking: f.Rechecking, Auth: auth,
		Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	dash := httptest.NewServer(auth.Require(h))
	defer dash.Close()

	// Another site: its pages post a form to the dashboard as soon as they
	// load. It is reached as localhost, the dashboard as 127.0.0.1, so the
	// two are different sites to the browser.
	forge := func(action string, fields map[string]string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var inputs strings.Builder
			for k, v := range fields {
				fmt.Fprintf(&inputs, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(v))
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!DOCTYPE html><title>win a prize</title><form id="f" method="post" action="%s">%s</form>`+
				`<script>document.getElementById("f").submit()</script>`, html.EscapeString(dash.URL+action), inputs.String())
		}
	}
	evilMux := http.NewServeMux()
	evilMux.Handle("GET /forge-logout", forge("/logout", map[string]string{"csrf": "guessed"}))
	evilMux.Handle("GET /forge-login", forge("/login", map[string]string{"csrf": "guessed", "user": testUser, "password": testPassword}))
	evil := httptest.NewServer(evilMux)
	defer evil.Close()
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)

	cfg, err := json.Marshal(map[string]any{
		"dashboard": dash.URL, "evil": evilURL, "user": testUser, "password": testPassword, "shots": shots,
		"timeoutMs": 15000,
		"pages": []map[string]string{
			{"name": "overview", "path": "/", "selector": "#health-bar"},
			{"name": "accounts", "path": "/accounts", "selector": "#accounts"},
			{"name": "account", "path": "/accounts/acme", "selector": "#account-score"},
			{"name": "user", "path": "/users/u-alice", "selector": "#user-score"},
			{"name": "events", "path": "/events", "selector": "#events"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := browsertest.Script(t, 90*time.Second, filepath.Join("testdata", "browser", "signin.js"), nil, string(cfg))
	t.Logf("%s", out)
	if !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		t.Errorf("the script did not finish:\n%s", out)
	}
	for _, name := range []string{"login", "login-refused", "overview", "accounts", "account", "user", "events", "logout"} {
		png, err := os.ReadFile(filepath.Join(shots, "signin-"+name+".png"))
		if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
			t.Errorf("screenshot signin-%s.png: %v", name, err)
		}
	}
}
