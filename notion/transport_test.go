package notion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// script answers attempts in turn and records what it was sent.
type script struct {
	mu      sync.Mutex
	answers []func(*http.Request) (*http.Response, error)
	got     []string // "METHOD URL body"
}

func (s *script) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	s.mu.Lock()
	s.got = append(s.got, fmt.Sprintf("%s %s %s", r.Method, r.URL, body))
	i := len(s.got) - 1
	s.mu.Unlock()
	if i >= len(s.answers) {
		return answer(200, "", `{"ok":true}`)(r)
	}
	return s.answers[i](r)
}

func answer(status int, retryAfter, body string) func(*http.Request) (*http.Response, error) {
	return func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}
}

// hang waits for the attempt's deadline.
func hang(r *http.Request) (*http.Response, error) {
	<-r.Context().Done()
	return nil, r.Context().Err()
}

func testTransport(t *testing.T, base http.RoundTripper, mod func(*Config)) (*Transport, *[]time.Duration) {
	t.Helper()
	var waits []time.Duration
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // advanced by the waits
	cfg := Config{
		Now:           func() time.Time { return clock },
		BaseURL:       "http://notion.test:8080/proxy/",
		Rate:          math.Inf(1),
		HTTPTransport: base,
		MinBackoff:    100 * time.Millisecond,
		MaxBackoff:    time.Second,
		Timeout:       50 * time.Millisecond,
		Jitter:        func() float64 { return 1 },
		Sleep: func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			clock = clock.Add(d)
			return ctx.Err()
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	tr, err := NewTransport(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr, &waits
}

func TestTransportRetries(t *testing.T) {
	const body = `{"page_size":100}`
	tests := []struct {
		name      string
		method    string
		path      string
		answers   []func(*http.Request) (*http.Response, error)
		wantCode  int
		wantErr   bool
		wantTries int
		wantWaits []time.Duration
		attempts  int
	}{
		{name: "429 honours Retry-After and rewinds the body", method: "POST", path: "/v1/databases/x/query",
			answers:  []func(*http.Request) (*http.Response, error){answer(429, "2", ""), answer(429, "0", "")},
			wantCode: 200, wantTries: 3, wantWaits: []time.Duration{2 * time.Second}},
		{name: "429 on a create is retried", method: "POST", path: "/v1/pages",
			answers:  []func(*http.Request) (*http.Response, error){answer(429, "1", "")},
			wantCode: 200, wantTries: 2, wantWaits: []time.Duration{time.Second}},
		{name: "529 without Retry-After backs off", method: "POST", path: "/v1/pages",
			answers:  []func(*http.Request) (*http.Response, error){answer(529, "", "")},
			wantCode: 200, wantTries: 2, wantWaits: []time.Duration{100 * time.Millisecond}},
		{name: "5xx on a read backs off exponentially", method: "GET", path: "/v1/databases/x",
			answers:  []func(*http.Request) (*http.Response, error){answer(500, "", ""), answer(502, "", ""), answer(503, "", ""), answer(504, "", "")},
			wantCode: 200, wantTries: 5, wantWaits: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}, attempts: 5},
		{name: "5xx on an update is retried", method: "PATCH", path: "/v1/pages/p",
			answers:  []func(*http.Request) (*http.Response, error){answer(503, "3", "")},
			wantCode: 200, wantTries: 2, wantWaits: []time.Duration{3 * time.Second}},
		{name: "5xx on a create is not retried", method: "POST", path: "/v1/pages",
			answers:  []func(*http.Request) (*http.Response, error){answer(503, "", "")},
			wantCode: 503, wantTries: 1},
		{name: "timeout on a read is retried", method: "GET", path: "/v1/databases/x",
			answers:  []func(*http.Request) (*http.Response, error){hang},
			wantCode: 200, wantTries: 2, wantWaits: []time.Duration{100 * time.Millisecond}},
		{name: "timeout on a create is not retried", method: "POST", path: "/v1/pages",
			answers: []func(*http.Request) (*http.Response, error){hang},
			wantErr: true, wantTries: 1},
		{name: "4xx is final", method: "POST", path: "/v1/databases/x/query",
			answers:  []func(*http.Request) (*http.Response, error){answer(400, "", `{"code":"validation_error"}`)},
			wantCode: 400, wantTries: 1},
		{name: "attempts run out", method: "GET", path: "/v1/users",
			answers:  []func(*http.Request) (*http.Response, error){answer(429, "1", ""), answer(429, "1", ""), answer(429, "1", ""), answer(429, "1", "")},
			wantCode: 429, wantTries: 3, wantWaits: []time.Duration{time.Second, time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &script{answers: tt.answers}
			tr, waits := testTransport(t, sc, func(c *Config) {
				c.MaxAttempts = max(tt.attempts, 3)
			})
			var rd io.Reader
			if tt.method != "GET" {
				rd = strings.NewReader(body)
			}
			req, _ := http.NewRequest(tt.method, DefaultBaseURL+tt.path, rd)
			req.Header.Set("Authorization", "Bearer secret_abcdef")
			resp, err := (&http.Client{Transport: tr}).Do(req)
			switch {
			case tt.wantErr && err == nil:
				t.Fatalf("no error, status %d", resp.StatusCode)
			case !tt.wantErr && err != nil:
				t.Fatal(err)
			case err == nil && resp.StatusCode != tt.wantCode:
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantCode)
			}
			if err != nil && strings.Contains(err.Error(), "secret_abcdef") {
				t.Errorf("error shows the token: %v", err)
			}
			if len(sc.got) != tt.wantTries {
				t.Errorf("%d attempts, want %d: %q", len(sc.got), tt.wantTries, sc.got)
			}
			for _, g := range sc.got {
				want := tt.method + " http://notion.test:8080/proxy" + tt.path + " "
				if tt.method != "GET" {
					want += body
				}
				if g != want {
					t.Errorf("attempt sent %q, want %q", g, want)
				}
			}
			if diff := cmp.Diff(tt.wantWaits, *waits); diff != "" {
				t.Errorf("waits (-want +got):\n%s", diff)
			}
			var n int64
			for _, v := range tr.Counts() {
				n += v
			}
			if n != int64(tt.wantTries) || tr.Retries() != int64(tt.wantTries-1) {
				t.Errorf("counts %v, retries %d", tr.Counts(), tr.Retries())
			}
		})
	}
}

func TestTransportCountsAndRewrite(t *testing.T) {
	sc := &script{answers: []func(*http.Request) (*http.Response, error){answer(429, "0", ""), answer(200, "", "{}"), answer(404, "", "{}")}}
	tr, _ := testTransport(t, sc, nil)
	hc := &http.Client{Transport: tr}
	for _, p := range []string{"/v1/pages/a%3Bb/properties/%3AUPp", "/v1/users"} {
		req, _ := http.NewRequest("GET", DefaultBaseURL+p, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := RequestCounts{{"GET", 429}: 1, {"GET", 200}: 1, {"GET", 404}: 1}
	if diff := cmp.Diff(want, tr.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if got := tr.Counts().String(); got != "GET 200=1 GET 404=1 GET 429=1" {
		t.Errorf("String() = %q", got)
	}
	if !strings.HasPrefix(sc.got[0], "GET http://notion.test:8080/proxy/v1/pages/a%3Bb/properties/%3AUPp ") {
		t.Errorf("escaped path lost: %q", sc.got[0])
	}
}

// TestTransportThrottles checks the token bucket in a synthetic clock: 3
// requests at once, then one every third of a second; a 429 pauses every
// request.
func TestTransportThrottles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := &script{}
		tr, err := NewTransport(Config{BaseURL: "http://notion.test", Rate: 3, Burst: 3, HTTPTransport: sc})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var at []time.Duration
		for range 9 {
			req, _ := http.NewRequest("GET", DefaultBaseURL+"/v1/users", nil)
			if _, err := tr.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
			at = append(at, time.Since(start).Round(time.Millisecond))
		}
		third := time.Second / 3
		want := []time.Duration{0, 0, 0, third, 2 * third, 3 * third, 4 * third, 5 * third, 6 * third}
		for i := range want {
			want[i] = want[i].Round(time.Millisecond)
		}
		if diff := cmp.Diff(want, at); diff != "" {
			t.Errorf("request times (-want +got):\n%s", diff)
		}

		// A 429 with Retry-After: 5 holds back a concurrent request too.
		sc.answers = make([]func(*http.Request) (*http.Response, error), 9)
		for i := range sc.answers {
			sc.answers[i] = answer(200, "", "{}")
		}
		sc.answers = append(sc.answers, answer(429, "5", ""))
		time.Sleep(10 * time.Second) // refill
		start = time.Now()
		var wg sync.WaitGroup
		var first, other time.Duration
		get := func(d *time.Duration) {
			req, _ := http.NewRequest("GET", DefaultBaseURL+"/v1/users", nil)
			if _, err := tr.RoundTrip(req); err != nil {
				t.Error(err)
			}
			*d = time.Since(start)
		}
		wg.Go(func() { get(&first) }) // meets the 429
		synctest.Wait()
		wg.Go(func() { get(&other) })
		wg.Wait()
		if first != 5*time.Second || other != 5*time.Second {
			t.Errorf("after a 429 with Retry-After 5 the requests went at %v and %v, want 5s", first, other)
		}
	})
}

func TestTruncateText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short", "abc", 10, "abc"},
		{"at a line", "line one\nline two\nline three", 20, "line one\nline two…"},
		{"at a word", "aaaaaaaaa bbbbbbbbbbb", 20, "aaaaaaaaa bbbbbbbbb…"},
		{"surrogate pair not split", strings.Repeat("😀", 5), 6, "😀😀…"},
		{"invalid utf-8", "ab\xffcd", 10, "ab\uFFFDcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := truncateText(tt.in, tt.n)
			if got != tt.want {
				t.Errorf("truncateText(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
			if utf16Len(got) > tt.n {
				t.Errorf("%d UTF-16 units, limit %d", utf16Len(got), tt.n)
			}
		})
	}
}

func TestTextItems(t *testing.T) {
	s := strings.Repeat("é😀x", 1500) // 6,000 UTF-16 units
	items, err := textItems(s)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, it := range items {
		if n := utf16Len(it.Text.Content); n > maxTextChunk {
			t.Errorf("item of %d units", n)
		}
		b.WriteString(it.Text.Content)
	}
	if b.String() != s || len(items) != 3 {
		t.Errorf("%d items, joined equal %v", len(items), b.String() == s)
	}
	if _, err := textItems(strings.Repeat("x", 200001)); err == nil {
		t.Error("text over 200,000 characters accepted")
	}
}

func TestRedact(t *testing.T) {
	base := errors.New("dial: Bearer secret_abcdef refused")
	err := redactor{secret: "secret_abcdef"}.err(fmt.Errorf("x: %w", base))
	if strings.Contains(err.Error(), "secret_abcdef") || !errors.Is(err, base) {
		t.Errorf("redacted = %v (is base %v)", err, errors.Is(err, base))
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{BaseURL: "ftp://x", EventsDB: "nope", Rate: -1,
		Columns: ColumnNames{Events: EventColumns{Why: "Description"}}}.Validate()
	for _, want := range []string{"notion.token: is required", "notion.base_url", "notion.events_db", "notion.rate",
		`notion.columns.events.`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
	if err := (Config{Token: "t", EventsDB: "0123456789abcdef0123456789abcdef"}).Validate(); err != nil {
		t.Errorf("good config: %v", err)
	}
}
