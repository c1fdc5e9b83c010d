package segment

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBrowserRoutesAndCORS: analytics.js's short routes take text/plain
// JSON with the write key in the body; a preflight for POST with
// Authorization is answered; every answer to a page of another origin
// carries Access-Control-Allow-Origin; a disallowed origin is refused; a
// server SDK (no Origin) gets no CORS headers.
func TestBrowserRoutesAndCORS(t *testing.T) {
	var stored int
	c := &Collector{Sources: []Source{{Name: "web", WriteKey: "wk"}},
		Ingester: ingesterFunc(func() error { stored++; return nil })}
	mux := http.NewServeMux()
	c.Register(mux)
	do := func(method, path, origin, body string, header map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		r.Header.Set("Content-Type", "text/plain")
		for k, v := range header {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	const page = "http://shop.localhost:5173"
	pre := do(http.MethodOptions, "/t", page, "", map[string]string{"Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization,content-type"})
	if pre.Code != http.StatusNoContent || pre.Header().Get("Access-Control-Allow-Origin") != page ||
		!strings.Contains(pre.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", pre.Code, pre.Header())
	}
	for path, body := range map[string]string{
		"/t": `{"type":"track","event":"Signed In","userId":"u","writeKey":"wk"}`,
		"/i": `{"type":"identify","userId":"u","traits":{"plan":"pro"},"writeKey":"wk"}`,
		"/g": `{"type":"group","userId":"u","groupId":"g","writeKey":"wk"}`,
		"/p": `{"type":"page","anonymousId":"a","name":"Home","writeKey":"wk"}`,
		"/s": `{"type":"screen","anonymousId":"a","name":"Home","writeKey":"wk"}`,
		"/a": `{"type":"alias","userId":"u","previousId":"a","writeKey":"wk"}`,
		"/b": `{"batch":[{"type":"track","event":"E","userId":"u"}],"writeKey":"wk"}`,
	} {
		w := do(http.MethodPost, path, page, body, nil)
		if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != page {
			t.Errorf("POST %s from a page: %d %q %s", path, w.Code, w.Header().Get("Access-Control-Allow-Origin"), w.Body)
		}
	}
	if stored != 7 {
		t.Errorf("%d submissions stored, want 7", stored)
	}
	if w := do(http.MethodPost, "/v1/track", "", `{"event":"E","userId":"u","writeKey":"wk"}`, nil); w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("server SDK: %d, CORS %q", w.Code, w.Header().Get("Access-Control-Allow-Origin"))
	}

	c.AllowedOrigins = []string{"https://app.example.com"}
	if w := do(http.MethodPost, "/t", page, `{"type":"track","event":"E","userId":"u","writeKey":"wk"}`, nil); w.Code != http.StatusForbidden || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a disallowed origin: %d %v", w.Code, w.Header())
	}
	if w := do(http.MethodOptions, "/t", "https://app.example.com", "", nil); w.Code != http.StatusNoContent {
		t.Errorf("an allowed origin's preflight: %d", w.Code)
	}
}

// TestBrowserRoutesUnderV1AndRetries: with Segment's kind of apiHost
// ("host/v1") analytics.js posts to /v1/t … /v1/b, answered like the root
// routes; its retries add an X-Retry-Count header, which the preflight must
// allow; its own counters (/m) are answered and dropped; and a page can
// read the Retry-After of a 429 (the library waits that long instead of
// backing off blindly).
func TestBrowserRoutesUnderV1AndRetries(t *testing.T) {
	const page = "http://shop.localhost:5173"
	newMux := func(c *Collector) *http.ServeMux {
		c.Sources = []Source{{Name: "web", WriteKey: "wk"}}
		if c.Ingester == nil {
			c.Ingester = ingesterFunc(func() error { return nil })
		}
		mux := http.NewServeMux()
		c.Register(mux)
		return mux
	}
	send := func(mux *http.ServeMux, method, path, body string, header map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Origin", page)
		for k, v := range header {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	mux := newMux(&Collector{})
	for _, tc := range []struct{ short, body string }{
		{"t", `{"type":"track","event":"E","userId":"u","writeKey":"wk"}`},
		{"i", `{"type":"identify","userId":"u","writeKey":"wk"}`},
		{"g", `{"type":"group","userId":"u","groupId":"g","writeKey":"wk"}`},
		{"p", `{"type":"page","anonymousId":"a","writeKey":"wk"}`},
		{"s", `{"type":"screen","anonymousId":"a","writeKey":"wk"}`},
		{"a", `{"type":"alias","userId":"u","previousId":"a","writeKey":"wk"}`},
		{"b", `{"batch":[{"type":"track","event":"E","userId":"u"}],"writeKey":"wk","sentAt":"2026-11-01T10:00:00Z"}`},
	} {
		for _, path := range []string{"/v1/" + tc.short, "/" + tc.short} {
			pre := send(mux, http.MethodOptions, path, "", map[string]string{"Access-Control-Request-Method": "POST",
				"Access-Control-Request-Headers": "authorization,content-type,x-retry-count"})
			allowed := strings.ToLower(pre.Header().Get("Access-Control-Allow-Headers"))
			for _, h := range []string{"authorization", "content-type", "x-retry-count"} {
				if !strings.Contains(allowed, h) {
					t.Errorf("preflight of %s: %q not allowed (%q)", path, h, allowed)
				}
			}
			if pre.Code != http.StatusNoContent || pre.Header().Get("Access-Control-Allow-Origin") != page {
				t.Errorf("preflight of %s: %d %v", path, pre.Code, pre.Header())
			}
			w := send(mux, http.MethodPost, path, tc.body, map[string]string{"Content-Type": "text/plain", "X-Retry-Count": "1",
				"Authorization": "Basic d2s6"})
			if w.Code != http.StatusOK || w.Header().Get("Access-Control-Allow-Origin") != page {
				t.Errorf("POST %s: %d %v %s", path, w.Code, w.Header(), w.Body)
			}
		}
	}

	// The library's own counters are answered and not stored.
	stored := 0
	metrics := newMux(&Collector{Ingester: ingesterFunc(func() error { stored++; return nil })})
	for _, path := range []string{"/v1/m", "/m"} {
		w := send(metrics, http.MethodPost, path, `{"series":[{"type":"Counter","metric":"analytics_js.invoke","value":1,"tags":{"type":"track"}}]}`,
			map[string]string{"Content-Type": "text/plain"})
		if w.Code != http.StatusOK || w.Header().Get("Access-Control-Allow-Origin") != page || stored != 0 {
			t.Errorf("POST %s: %d %v, %d stored", path, w.Code, w.Header(), stored)
		}
	}

	limited := newMux(&Collector{RateLimits: RateLimits{PerKey: 0.01, KeyBurst: 1, PerClient: -1}})
	body := `{"type":"track","event":"E","userId":"u","writeKey":"wk"}`
	if w := send(limited, http.MethodPost, "/v1/t", body, nil); w.Code != http.StatusOK {
		t.Fatalf("first request: %d %s", w.Code, w.Body)
	}
	w := send(limited, http.MethodPost, "/v1/t", body, nil)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" ||
		!strings.Contains(strings.ToLower(w.Header().Get("Access-Control-Expose-Headers")), "retry-after") {
		t.Errorf("a rate-limited request from a page: %d %v; Retry-After must be set and exposed", w.Code, w.Header())
	}
}
