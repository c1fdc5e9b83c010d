package segment

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(10, 5, func() time.Time { return now })
	for i := range 5 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait != 100*time.Millisecond {
		t.Errorf("past the burst: allowed %v, wait %v; want refused, 100ms", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Error("another name shares the first one's bucket")
	}
	now = now.Add(250 * time.Millisecond) // 2.5 tokens back
	for i := range 2 {
		if ok, _ := l.allow("a"); !ok {
			t.Errorf("refill: request %d refused", i+1)
		}
	}
	if ok, _ := l.allow("a"); ok {
		t.Error("refill gave more than the elapsed time's tokens")
	}
	if off := newLimiter(-1, 0, time.Now); off != nil {
		t.Error("a negative rate should turn the limit off")
	}
	var none *limiter
	if ok, _ := none.allow("x"); !ok {
		t.Error("no limiter must allow everything")
	}
}

type ingesterFunc func() error

func (f ingesterFunc) Submit(context.Context, []*trackplan.Message, []trackplan.Rejection) error {
	return f()
}

// TestCollectorRateLimits: past its limits a client or a write key gets
// 429 with Retry-After; others are unaffected.
func TestCollectorRateLimits(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := &Collector{Sources: []Source{{Name: "web", WriteKey: "k1"}, {Name: "ios", WriteKey: "k2"}},
		Ingester: ingesterFunc(func() error { return nil }), Now: func() time.Time { return now },
		RateLimits: RateLimits{PerKey: 3, KeyBurst: 3, PerClient: 4, ClientBurst: 4}}
	mux := http.NewServeMux()
	c.Register(mux)
	post := func(key, addr string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/v1/batch", strings.NewReader(`{"batch":[{"type":"track","userId":"u","event":"E"}]}`))
		r.SetBasicAuth(key, "")
		r.RemoteAddr = addr + ":5000"
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	// Per write key: three from different clients pass, the fourth not.
	for i, addr := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		if w := post("k1", addr); w.Code != 200 {
			t.Fatalf("request %d: %d", i+1, w.Code)
		}
	}
	w := post("k1", "10.0.0.4")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "write key") {
		t.Errorf("past the key's limit: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if w := post("k2", "10.0.0.5"); w.Code != 200 {
		t.Errorf("another write key is limited too: %d", w.Code)
	}
	// Per client: one address past its burst, before its body is read.
	for range 4 {
		post("k2", "10.9.9.9")
	}
	w = post("k2", "10.9.9.9")
	if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), "client") {
		t.Errorf("past the client's limit: %d %s", w.Code, w.Body)
	}
	now = now.Add(time.Second)
	if w := post("k1", "10.0.0.1"); w.Code != 200 {
		t.Errorf("after a second the key's tokens are back: %d", w.Code)
	}
}

// TestClientGone: a client that disconnects while its request waits for
// the commit is counted as 499, not as a server failure.
func TestClientGone(t *testing.T) {
	var got Outcome
	c := &Collector{Sources: []Source{{Name: "web", WriteKey: "k1"}}, Observe: func(o Outcome) { got = o },
		Ingester: ingesterFunc(func() error { return context.Canceled })}
	mux := http.NewServeMux()
	c.Register(mux)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/batch", strings.NewReader(`{"batch":[{"type":"track","userId":"u","event":"E"}]}`))
	r.SetBasicAuth("k1", "")
	mux.ServeHTTP(httptest.NewRecorder(), r)
	if got.Status != statusClientClosed {
		t.Errorf("status %d; want %d", got.Status, statusClientClosed)
	}
}

// TestLimiterBounded: past maxBuckets active clients the map stops growing
// and sweeps at most once a second.
func TestLimiterBounded(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(1, 1, func() time.Time { return now })
	for i := range maxBuckets + 10 {
		l.allow(fmt.Sprint(i))
	}
	if n := len(l.buckets); n != maxBuckets {
		t.Errorf("%d buckets, want at most %d", n, maxBuckets)
	}
	now = now.Add(2 * time.Minute)
	if ok, _ := l.allow("new"); !ok || len(l.buckets) != 1 {
		t.Errorf("after a minute idle, the sweep should leave only the new client: %d buckets", len(l.buckets))
	}
}
