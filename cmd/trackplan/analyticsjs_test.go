//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/internal/browsertest"
)

// jsCall is one call the page makes through analytics.js.
type jsCall struct {
	Type     string         `json:"type"`
	ID       string         `json:"id,omitempty"`
	Name     string         `json:"name,omitempty"`
	Category string         `json:"category,omitempty"`
	Props    map[string]any `json:"props,omitempty"`
}

// jsSeen is what testdata/browser/analyticsjs.js reports of a run.
type jsSeen struct {
	Sent []struct {
		Type, Name, Failed string
		Errors             []string
	} `json:"sent"`
	Posts []struct {
		Path          string `json:"path"`
		Status        int    `json:"status"`
		Events        int    `json:"events"`
		BadBody       string `json:"badBody"`
		BodyWriteKey  bool   `json:"bodyWriteKey"`
		ContentType   string `json:"contentType"`
		Authorization bool   `json:"authorization"`
		RetryCount    string `json:"retryCount"`
		AllowOrigin   string `json:"allowOrigin"`
	} `json:"posts"`
	Metrics []struct {
		Status      int    `json:"status"`
		AllowOrigin string `json:"allowOrigin"`
	} `json:"metrics"`
	Preflights []jsPreflight `json:"preflights"`
	Failed     []struct {
		Path, Error string
	} `json:"failed"`
	Offsite       []string `json:"offsite"`
	PageErrors    []string `json:"pageErrors"`
	ConsoleErrors []string `json:"consoleErrors"`
	Title         string   `json:"title"`
	TimedOut      bool     `json:"timedOut"`
}

// jsPreflight is the answer to a CORS preflight the browser sent.
type jsPreflight struct {
	Path   string `json:"path"`
	Status int    `json:"status"`
}

// shopCalls is what the page sends: who the user is, their account, five
// tracks of two events with properties, and a page view.
func shopCalls() []jsCall {
	calls := []jsCall{
		{Type: "identify", ID: "user-1", Props: map[string]any{"email": "ada@example.com", "plan": "pro"}},
		{Type: "group", ID: "account-1", Props: map[string]any{"name": "Acme", "employees": 40}},
	}
	for i := range 5 {
		name := "Product Viewed"
		if i%2 == 1 {
			name = "Product Added"
		}
		calls = append(calls, jsCall{Type: "track", Name: name,
			Props: map[string]any{"sku": fmt.Sprintf("sku-%d", i), "price": 9.5 + float64(i), "in_stock": i != 3}})
	}
	return append(calls, jsCall{Type: "page", Category: "Shop", Name: "Product", Props: map[string]any{"path": "/products/1"}})
}

// TestAnalyticsJSInBrowser sends identify, group, track and page calls
// through analytics.js 2.0 (@segment/analytics-next, its UMD bundle) in
// headless Chromium, from a page of another origin, to a running `serve`
// set as its apiHost ("host:port/v1", the way Segment documents a proxy):
// with a request per call (each path preflighted: the library sends the
// write key in an Authorization header), with the batching delivery, and
// through a rate limit (the library reads Retry-After and retries with an
// X-Retry-Count header). Every call arrives once as what it was, nothing is
// rejected, the library's own counters (/v1/m) are answered, and nothing is
// fetched from Segment's CDN. A page of an origin left out of
// cors.allowed_origins gets nothing through and keeps running; the
// dashboard answers a page of another origin without CORS headers.
func TestAnalyticsJSInBrowser(t *testing.T) {
	browsertest.Require(t)
	umd := filepath.Join(browsertest.NodeModules(t), "@segment", "analytics-next", "dist", "umd")
	if _, err := os.Stat(filepath.Join(umd, "index.js")); err != nil {
		t.Fatalf("analytics.js 2.0's UMD bundle: %v", err)
	}
	html, err := os.ReadFile(filepath.Join("testdata", "browser", "analyticsjs.html"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(html)
	})
	mux.Handle("GET /analytics-next/bundles/", http.StripPrefix("/analytics-next/bundles/", http.FileServer(http.Dir(umd))))
	shop := httptest.NewServer(mux)
	defer shop.Close()

	calls := shopCalls()
	perCall := map[string]int{"/v1/i": 1, "/v1/g": 1, "/v1/t": 5, "/v1/p": 1}
	cases := []struct {
		name     string
		allowed  []string // cors.allowed_origins
		rate     float64  // collector.rate_per_key; 0 leaves the default
		strategy string
		// paths counts the requests answered 200, by path; nil: the
		// origin is refused.
		paths map[string]int
	}{
		{name: "per-call", allowed: []string{shop.URL}, strategy: "standard", paths: perCall},
		// Batches of at most 3: two full and the last two when the timeout
		// ends, or more when a slow machine lets the timeout end earlier
		// (checkBrowserRun counts at least ceil(8/3) and each batch's size).
		{name: "batching", strategy: "batching", paths: map[string]int{"/v1/b": 3}},
		// 2 requests/s, 4 at once, and the calls sent together: at least
		// four are answered 429 and sent again.
		{name: "rate-limited", rate: 2, strategy: "standard", paths: perCall},
		{name: "disallowed-origin", allowed: []string{"https://shop.example.com"}, strategy: "standard"},
	}
	// A serve for each case, then every case's calls at once in one
	// browser (a context each).
	servers := make([]*browserServe, len(cases))
	var runs []map[string]any
	for i, tc := range cases {
		servers[i] = startBrowserServe(t, tc.allowed, tc.rate)
		expect := "delivered"
		if tc.paths == nil {
			expect = "refused"
		}
		runs = append(runs, map[string]any{"name": tc.name, "apiHost": servers[i].addr + "/v1", "strategy": tc.strategy,
			"batchSize": 3, "batchTimeout": 300, "expect": expect, "together": tc.rate > 0})
	}
	cfg := map[string]any{"page": shop.URL + "/", "writeKey": testKey, "calls": calls, "timeoutMs": 15_000, "runs": runs}
	start := time.Now()
	out := browsertest.Script(t, 30*time.Second, filepath.Join("testdata", "browser", "analyticsjs.js"), nil, string(mustJSON(t, cfg)))
	t.Logf("browser: %v", time.Since(start).Round(time.Millisecond))
	var reports map[string]jsSeen
	if err := json.Unmarshal(out, &reports); err != nil {
		t.Fatalf("the script's report: %v\n%s", err, out)
	}

	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := servers[i]
			seen, ok := reports[tc.name]
			if !ok {
				t.Fatalf("no report of this run: %s", out)
			}
			checkBrowserRun(t, seen, len(calls), tc.paths, tc.rate > 0, shop.URL)
			if tc.paths != nil {
				dashboardIsSameOrigin(t, srv.url, shop.URL)
			}

			srv.stop(t)
			code, stdout, stderr := trackplanRun(t, "--config", srv.config, "observed", "--format", "json")
			if code != 0 {
				t.Fatalf("observed: exit %d: %s", code, stderr)
			}
			var o observedOut
			if err := json.Unmarshal([]byte(stdout), &o); err != nil {
				t.Fatalf("observed JSON: %v\n%s", err, stdout)
			}
			// Each event with its count and how often each property
			// (a page's name among them) was present.
			want := map[string]int64{}
			if tc.paths != nil {
				for _, c := range calls {
					key := observedKey(c)
					want[key]++
					for p := range c.Props {
						want[key+" ."+p]++
					}
					if c.Type == "page" {
						want[key+" .name"]++
					}
				}
			}
			got := map[string]int64{}
			for _, e := range o.Events {
				if e.Source != "web" {
					t.Errorf("an event of source %q", e.Source)
				}
				key := string(e.Type) + " " + e.Name
				got[key] += e.Count
				for _, p := range e.Properties {
					if _, planned := want[key+" ."+p.Path]; planned {
						got[key+" ."+p.Path] += p.Present
					}
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("observed events and properties (-sent +observed):\n%s", diff)
			}
			if len(o.Rejections) > 0 || o.Totals.Rejected != 0 || o.Totals.Duplicates != 0 {
				t.Errorf("rejections %+v, totals %+v", o.Rejections, o.Totals)
			}
			if tc.paths != nil && (o.Totals.Messages != int64(len(calls)) || o.Totals.Users != 1 || o.Totals.Accounts != 1) {
				t.Errorf("totals %+v: want %d messages of 1 user in 1 account", o.Totals, len(calls))
			}
		})
	}
}

// checkBrowserRun checks what the browser saw: the page made every call and
// did not break, nothing left for another host; with paths, every call was
// delivered in those requests (after 429s when rateLimited), each
// preflighted path answered; without, every request was refused.
func checkBrowserRun(t *testing.T, seen jsSeen, calls int, paths map[string]int, rateLimited bool, origin string) {
	t.Helper()
	if seen.TimedOut {
		t.Errorf("the browser's requests did not all end within the script's timeout")
	}
	if len(seen.Sent) != calls {
		t.Errorf("the page made %d calls, want %d", len(seen.Sent), calls)
	}
	statuses := map[int]int{}
	for _, p := range seen.Posts {
		statuses[p.Status]++
	}
	t.Logf("POSTs answered by status %v (and %d of the library's counters); preflights %v; failed requests %d",
		statuses, len(seen.Metrics), seen.Preflights, len(seen.Failed))
	if len(seen.PageErrors) > 0 || seen.Title == "" {
		t.Errorf("the page broke: errors %q, title %q", seen.PageErrors, seen.Title)
	}
	if len(seen.Offsite) > 0 {
		t.Errorf("requests beyond the page and the collector: %q", seen.Offsite)
	}
	for _, s := range seen.Sent {
		if s.Failed != "" {
			t.Errorf("%s %s: the library gave up (%s)", s.Type, s.Name, s.Failed)
		}
	}
	if paths == nil {
		// Refused at the preflight: no POST leaves the browser.
		if len(seen.Posts) > 0 || len(seen.Failed) < calls {
			t.Errorf("a disallowed origin: %d POSTs answered, %d requests failed (want 0 and %d)", len(seen.Posts), len(seen.Failed), calls)
		}
		if len(seen.Preflights) == 0 || slices.ContainsFunc(seen.Preflights, func(p jsPreflight) bool { return p.Status != http.StatusForbidden }) {
			t.Errorf("a disallowed origin's preflights: %+v, want 403s", seen.Preflights)
		}
		return
	}
	if len(seen.Failed) > 0 {
		t.Errorf("failed requests: %+v", seen.Failed)
	}
	for _, e := range seen.ConsoleErrors {
		if !rateLimited || !strings.Contains(e, "status of 429") {
			t.Errorf("console error: %s", e)
		}
	}
	got, events, limited, retried := map[string]int{}, 0, 0, 0
	for _, p := range seen.Posts {
		if p.Status == http.StatusTooManyRequests && rateLimited {
			limited++
		} else if p.Status == http.StatusOK {
			got[p.Path]++
			events += p.Events
			if p.RetryCount != "" {
				retried++
			}
		}
		if (p.Status != http.StatusOK && !rateLimited) || p.AllowOrigin != origin || p.BadBody != "" ||
			!p.Authorization || !p.BodyWriteKey || !strings.HasPrefix(p.ContentType, "text/plain") {
			t.Errorf("POST %s: %+v", p.Path, p)
		}
	}
	if n, batching := paths["/v1/b"]; batching {
		// The batching delivery sends a batch when it is full or its
		// timeout ends: at least n batches of at most ceil(calls/n)
		// events, more when the calls came slowly.
		size := (calls + n - 1) / n
		for _, p := range seen.Posts {
			if p.Path == "/v1/b" && p.Events > size {
				t.Errorf("a batch of %d events; the batch size is %d", p.Events, size)
			}
		}
		if len(got) != 1 || got["/v1/b"] < n || got["/v1/b"] > calls {
			t.Errorf("requests answered 200 by path: %v; want %d to %d batches to /v1/b", got, n, calls)
		}
	} else if diff := cmp.Diff(paths, got); diff != "" {
		t.Errorf("requests answered 200 by path (-want +got):\n%s", diff)
	}
	if events != calls {
		t.Errorf("%d events in the requests answered 200; want %d", events, calls)
	}
	// The library's counters (/v1/m) are answered too.
	if len(seen.Metrics) == 0 {
		t.Errorf("the library's counters were not sent")
	}
	for _, m := range seen.Metrics {
		if m.Status != http.StatusOK || m.AllowOrigin != origin {
			t.Errorf("POST /v1/m: %+v", m)
		}
	}
	// The Authorization header makes every POST non-simple: each path is
	// preflighted, and the preflight answered.
	pre := map[string]bool{}
	for _, p := range seen.Preflights {
		pre[p.Path] = p.Status == http.StatusNoContent
	}
	if want := slices.Sorted(maps.Keys(paths)); !slices.Equal(slices.Sorted(maps.Keys(pre)), want) ||
		slices.Contains(slices.Collect(maps.Values(pre)), false) {
		t.Errorf("preflights %+v, want 204s for each of %q", seen.Preflights, want)
	}
	if !rateLimited {
		return
	}
	// Retried with X-Retry-Count, after the Retry-After the page could read
	// (the library's RateLimitError; without it, a blind backoff).
	if limited == 0 || retried == 0 {
		t.Errorf("%d requests answered 429, %d retries delivered: the limit was not reached or not retried", limited, retried)
	}
	waited := 0
	for _, s := range seen.Sent {
		for _, e := range s.Errors {
			if strings.Contains(e, "RateLimitError") {
				waited++
			} else {
				t.Errorf("%s %s: %s", s.Type, s.Name, e)
			}
		}
	}
	if waited == 0 {
		t.Errorf("no call waited for a Retry-After: %+v", seen.Sent)
	}
}

// observedKey is how observed names a call: by its type and event name;
// identify and group calls by their type, pages as "Page Viewed".
func observedKey(c jsCall) string {
	switch c.Type {
	case "track":
		return "track " + c.Name
	case "page":
		return "page " + trackplan.PageViewed
	}
	return c.Type + " " + c.Type
}

// dashboardIsSameOrigin checks the dashboard gives a page of another origin
// no CORS headers (whether it shows the page or asks to sign in), so the page
// cannot read it.
func dashboardIsSameOrigin(t *testing.T, base, origin string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, r := range []struct{ method, path string }{{"GET", "/"}, {"GET", "/events"}, {"OPTIONS", "/"}, {"OPTIONS", "/events"}} {
		req, err := http.NewRequest(r.method, base+r.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("%s %s: %d", r.method, r.path, resp.StatusCode)
		}
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%s %s from %s: %s: %s", r.method, r.path, origin, k, resp.Header.Get(k))
			}
		}
	}
}

// browserServe is `trackplan serve` running in-process for a browser test.
type browserServe struct {
	addr, url, config string
	cancel            context.CancelFunc
	done              chan int
	logs              *syncBuffer
}

// startBrowserServe runs serve on a free port of 127.0.0.1 with a config
// file naming the source "web" (testKey), the allowed origins and, when
// positive, the rate limit per write key.
func startBrowserServe(t *testing.T, allowed []string, ratePerKey float64) *browserServe {
	t.Helper()
	dir := t.TempDir()
	// JSON is YAML.
	cfg := map[string]any{
		"db":      filepath.Join(dir, "trackplan.db"),
		"sources": []map[string]string{{"name": "web", "write_key": testKey}},
		"cors":    map[string]any{"allowed_origins": allowed},
	}
	if ratePerKey > 0 {
		cfg["collector"] = map[string]any{"rate_per_key": ratePerKey}
	}
	s := &browserServe{config: filepath.Join(dir, "trackplan.yaml"), done: make(chan int, 1), logs: &syncBuffer{}}
	if err := os.WriteFile(s.config, mustJSON(t, cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var ctx context.Context
	ctx, s.cancel = context.WithCancel(context.Background())
	go func() {
		s.done <- run(ctx, []string{"trackplan", "--config", s.config, "serve", "--listen", "127.0.0.1:0", "--shutdown-grace", "5s"},
			nil, io.Discard, s.logs)
	}()
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(15 * time.Second)
	for {
		if m := listenRE.FindStringSubmatch(s.logs.String()); m != nil {
			s.addr, s.url = m[1], "http://"+m[1]
			return s
		}
		select {
		case code := <-s.done:
			s.done <- code
			t.Fatalf("serve exited %d before listening:\n%s", code, s.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen within 15s:\n%s", s.logs.String())
		}
	}
}

// stop ends serve and waits for it; calling it again does nothing.
func (s *browserServe) stop(t *testing.T) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case code := <-s.done:
		if code != 0 {
			t.Errorf("serve exited %d\n%s", code, s.logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("serve did not stop within 15s of its context ending")
	}
}
