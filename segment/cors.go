package segment

import (
	"net/http"
	"slices"
	"strings"
)

// Browser routes: analytics.js 2.0 posts each call to {apiHost}/t, /i, /g,
// /p, /s, /a, and batches to /b, with a text/plain JSON body (which the
// collector reads as JSON whatever its Content-Type). They are served under
// /v1 (an apiHost like Segment's "api.segment.io/v1") and at the root.
var browserRoutes = map[string]string{"t": "track", "i": "identify", "g": "group", "p": "page", "s": "screen", "a": "alias"}

// cors answers a tracking API request from a page of another origin:
// preflights (OPTIONS) for POST with Authorization, Content-Type and
// X-Retry-Count (which analytics.js adds to a retry), and an
// Access-Control-Allow-Origin on every answer, exposing Retry-After so that
// the library waits as long as a 429 asks. Origins are limited to
// AllowedOrigins when set; browser write keys are public by design, so the
// default is any origin. A request without an Origin header (a server SDK)
// is not a browser's and passes untouched.
func (c *Collector) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		if !c.originAllowed(origin) {
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "POST")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Content-Encoding, X-Retry-Count")
			w.Header().Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
		next.ServeHTTP(w, r)
	})
}

func (c *Collector) originAllowed(origin string) bool {
	if len(c.AllowedOrigins) == 0 {
		return true
	}
	return slices.ContainsFunc(c.AllowedOrigins, func(o string) bool {
		return o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin)
	})
}
