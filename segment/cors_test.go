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
