package segment

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/trackplan/trackplan"
)

const testWriteKey = "wk_test_secret"

// wireItem is one message of a /v1/batch body, as a Segment endpoint reads it.
type wireItem struct {
	Type        string         `json:"type"`
	MessageID   string         `json:"messageId"`
	UserID      string         `json:"userId"`
	AnonymousID string         `json:"anonymousId"`
	Event       string         `json:"event"`
	Name        string         `json:"name"`
	PreviousID  string         `json:"previousId"`
	GroupID     string         `json:"groupId"`
	Timestamp   string         `json:"timestamp"`
	Properties  map[string]any `json:"properties"`
	Traits      map[string]any `json:"traits"`
	Context     struct {
		GroupID string `json:"groupId"`
	} `json:"context"`
}

// fakeSegment is an httptest stand-in for Segment's /v1/batch endpoint.
type fakeSegment struct {
	t      *testing.T
	srv    *httptest.Server
	status int // answer for every request; 0 means 200

	mu       sync.Mutex
	items    []wireItem
	requests int
	paths    []string
}

func newFakeSegment(t *testing.T, status int) *fakeSegment {
	t.Helper()
	f := &fakeSegment{t: t, status: status}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSegment) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	f.paths = append(f.paths, r.URL.Path)
	f.mu.Unlock()
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/v1/batch") {
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != testWriteKey || pass != "" {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if f.status != 0 {
		http.Error(w, `{"error":"overloaded"}`, f.status)
		return
	}
	var body struct {
		MessageID string     `json:"messageId"`
		SentAt    string     `json:"sentAt"`
		Batch     []wireItem `json:"batch"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.t.Errorf("decode batch: %v", err)
		http.Error(w, `{"error":"bad json"}`, http.StatusBadRequest)
		return
	}
	if body.SentAt == "" || body.MessageID == "" {
		f.t.Errorf("batch without sentAt or messageId: %+v", body)
	}
	f.mu.Lock()
	f.items = append(f.items, body.Batch...)
	f.mu.Unlock()
	_, _ = w.Write([]byte(`{"success":true}`))
}

func (f *fakeSegment) received() ([]wireItem, int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]wireItem(nil), f.items...), f.requests, append([]string(nil), f.paths...)
}

func TestClientSendsEveryCallType(t *testing.T) {
	fake := newFakeSegment(t, 0)
	ts := time.Date(2026, 3, 4, 10, 11, 12, 345000000, time.UTC)
	msgs := []*trackplan.Message{
		{Type: trackplan.Identify, MessageID: "m-identify", UserID: "u1", AnonymousID: "anon-1", GroupID: "acme", Timestamp: ts,
			Traits: map[string]any{"email": "ada@acme.io", "name": "Ada Lovelace", "created_at": "2025-01-02T03:04:05Z"}},
		{Type: trackplan.Group, MessageID: "m-group", UserID: "u1", GroupID: "acme", Timestamp: ts.Add(time.Second),
			Traits: map[string]any{"name": "Acme", "employees": 120, "mrr": 499.5}},
		{Type: trackplan.Track, MessageID: "m-track", UserID: "u1", GroupID: "acme", Event: "Report Exported", Timestamp: ts.Add(2 * time.Second),
			Properties: map[string]any{"format": "csv", "row_count": 42, "filters": map[string]any{"range": "7d"}, "tags": []any{"a", "b"}}},
		{Type: trackplan.Track, MessageID: "m-anon", AnonymousID: "anon-2", Event: "Signed Up", Timestamp: ts.Add(3 * time.Second)},
		{Type: trackplan.Page, MessageID: "m-page", UserID: "u1", GroupID: "acme", Name: "Dashboard", Timestamp: ts.Add(4 * time.Second),
			Properties: map[string]any{"path": "/dashboard"}},
		{Type: trackplan.Screen, MessageID: "m-screen", UserID: "u1", Name: "Settings", Timestamp: ts.Add(5 * time.Second)},
		{Type: trackplan.Alias, MessageID: "m-alias", UserID: "u1", PreviousID: "anon-1", Timestamp: ts.Add(6 * time.Second)},
	}

	var (
		mu      sync.Mutex
		results = map[string]error{}
	)
	c, err := NewClient(ClientConfig{
		Endpoint:  fake.srv.URL + "//",
		WriteKey:  testWriteKey,
		BatchSize: 3,
		Interval:  time.Hour,
		OnResult: func(id string, err error) {
			mu.Lock()
			results[id] = err
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, m := range msgs {
		if err := c.Send(ctx, m); err != nil {
			t.Fatalf("send %s: %v", m.MessageID, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	items, requests, paths := fake.received()
	if requests != 3 { // 3 + 3 + 1 with BatchSize 3
		t.Errorf("requests = %d, want 3", requests)
	}
	for _, p := range paths {
		if p != "/v1/batch" {
			t.Errorf("request path %q, want /v1/batch", p)
		}
	}
	want := []wireItem{
		{Type: "identify", MessageID: "m-identify", UserID: "u1", AnonymousID: "anon-1", Timestamp: "2026-03-04T10:11:12.345Z",
			Traits: map[string]any{"email": "ada@acme.io", "name": "Ada Lovelace", "created_at": "2025-01-02T03:04:05Z"}},
		{Type: "group", MessageID: "m-group", UserID: "u1", GroupID: "acme", Timestamp: "2026-03-04T10:11:13.345Z",
			Traits: map[string]any{"name": "Acme", "employees": float64(120), "mrr": 499.5}},
		{Type: "track", MessageID: "m-track", UserID: "u1", Event: "Report Exported", Timestamp: "2026-03-04T10:11:14.345Z",
			Properties: map[string]any{"format": "csv", "row_count": float64(42), "filters": map[string]any{"range": "7d"}, "tags": []any{"a", "b"}}},
		{Type: "track", MessageID: "m-anon", AnonymousID: "anon-2", Event: "Signed Up", Timestamp: "2026-03-04T10:11:15.345Z"},
		{Type: "page", MessageID: "m-page", UserID: "u1", Name: "Dashboard", Timestamp: "2026-03-04T10:11:16.345Z",
			Properties: map[string]any{"path": "/dashboard"}},
		{Type: "screen", MessageID: "m-screen", UserID: "u1", Name: "Settings", Timestamp: "2026-03-04T10:11:17.345Z"},
		{Type: "alias", MessageID: "m-alias", UserID: "u1", PreviousID: "anon-1", Timestamp: "2026-03-04T10:11:18.345Z"},
	}
	want[0].Context.GroupID = "acme"
	want[2].Context.GroupID = "acme"
	want[4].Context.GroupID = "acme"
	sortItems := cmpopts.SortSlices(func(a, b wireItem) bool { return a.MessageID < b.MessageID })
	if diff := cmp.Diff(want, items, sortItems, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("received messages (-want +got):\n%s", diff)
	}

	wantResults := map[string]error{}
	for _, m := range msgs {
		wantResults[m.MessageID] = nil
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(wantResults, results, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("OnResult (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ClientStats{Enqueued: 7, Succeeded: 7}, c.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestClientEndpointPath(t *testing.T) {
	for _, suffix := range []string{"", "/", "/base", "/base/"} {
		t.Run(suffix, func(t *testing.T) {
			fake := newFakeSegment(t, 0)
			c, err := NewClient(ClientConfig{Endpoint: fake.srv.URL + suffix, WriteKey: testWriteKey})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Send(context.Background(), &trackplan.Message{Type: trackplan.Track, UserID: "u", Event: "E"}); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			_, _, paths := fake.received()
			want := strings.TrimSuffix(suffix, "/") + "/v1/batch"
			if diff := cmp.Diff([]string{want}, paths); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClientFailuresReachCallback(t *testing.T) {
	fake := newFakeSegment(t, http.StatusServiceUnavailable)
	const n = 5
	done := make(chan error, n)
	c, err := NewClient(ClientConfig{
		Endpoint:   fake.srv.URL,
		WriteKey:   testWriteKey,
		BatchSize:  n,
		Interval:   time.Hour,
		RetryAfter: func(int) time.Duration { return time.Millisecond },
		OnResult:   func(_ string, err error) { done <- err },
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m := &trackplan.Message{Type: trackplan.Track, UserID: "u", Event: "Signed In", MessageID: "f" + string(rune('a'+i))}
		if err := c.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	// The batch is full, so it is sent now and retried before Close.
	for range n {
		select {
		case err := <-done:
			if err == nil {
				t.Error("OnResult reported success from a 503 endpoint")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no failure reported")
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_, requests, _ := fake.received()
	if requests != 10 {
		t.Errorf("requests = %d, want analytics-go's 10 attempts", requests)
	}
	want := ClientStats{Enqueued: n, Failed: n, FailedByReason: map[string]int64{"http_503": n}}
	if diff := cmp.Diff(want, c.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestClientCloseDropsFailingBatch(t *testing.T) {
	fake := newFakeSegment(t, http.StatusServiceUnavailable)
	c, err := NewClient(ClientConfig{
		Endpoint:   fake.srv.URL,
		WriteKey:   testWriteKey,
		Interval:   time.Hour,
		RetryAfter: func(int) time.Duration { return time.Hour },
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := c.Send(context.Background(), &trackplan.Message{Type: trackplan.Identify, UserID: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close took %s; a failing final batch should be dropped at once", took)
	}
	_, requests, _ := fake.received()
	if requests != 1 {
		t.Errorf("requests = %d, want a single attempt after Close", requests)
	}
	want := ClientStats{Enqueued: 3, Failed: 3, FailedByReason: map[string]int64{"http_503": 3}}
	if diff := cmp.Diff(want, c.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if err := c.Close(); err == nil {
		t.Error("second Close returned nil")
	}
}

func TestClientLogsNoSecrets(t *testing.T) {
	fake := newFakeSegment(t, 0)
	var buf bytes.Buffer
	var bufMu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &bufMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := NewClient(ClientConfig{Endpoint: fake.srv.URL, WriteKey: testWriteKey, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("config", "cfg", ClientConfig{Endpoint: fake.srv.URL, WriteKey: testWriteKey})
	big := strings.Repeat("private-trait-value ", 2000) // > 32,000 bytes of JSON
	if err := c.Send(context.Background(), &trackplan.Message{Type: trackplan.Identify, MessageID: "too-big", UserID: "u",
		Traits: map[string]any{"email": "ada@example.com", "notes": big}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	want := ClientStats{Enqueued: 1, Failed: 1, FailedByReason: map[string]int64{"message_too_big": 1}}
	if diff := cmp.Diff(want, c.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	bufMu.Lock()
	out := buf.String()
	bufMu.Unlock()
	for _, secret := range []string{testWriteKey, "private-trait-value", "ada@example.com"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "messageId=too-big") {
		t.Errorf("log does not name the dropped message:\n%s", out)
	}
	if s := (ClientConfig{WriteKey: testWriteKey}).String(); strings.Contains(s, testWriteKey) {
		t.Errorf("String() leaks the write key: %s", s)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestClientSendRejects(t *testing.T) {
	fake := newFakeSegment(t, 0)
	c, err := NewClient(ClientConfig{Endpoint: fake.srv.URL, WriteKey: testWriteKey})
	if err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		msg  *trackplan.Message
	}{
		{"nil", context.Background(), nil},
		{"unknown type", context.Background(), &trackplan.Message{Type: "delete", UserID: "u"}},
		{"track without event", context.Background(), &trackplan.Message{Type: trackplan.Track, UserID: "u"}},
		{"no ids", context.Background(), &trackplan.Message{Type: trackplan.Identify}},
		{"group without groupId", context.Background(), &trackplan.Message{Type: trackplan.Group, UserID: "u"}},
		{"alias without previousId", context.Background(), &trackplan.Message{Type: trackplan.Alias, UserID: "u"}},
		{"context done", canceled, &trackplan.Message{Type: trackplan.Identify, UserID: "u"}},
	}
	for _, tt := range tests {
		if err := c.Send(tt.ctx, tt.msg); err == nil {
			t.Errorf("%s: Send returned nil", tt.name)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(context.Background(), &trackplan.Message{Type: trackplan.Identify, UserID: "u"}); err == nil {
		t.Error("Send after Close returned nil")
	}
	if diff := cmp.Diff(ClientStats{Rejected: int64(len(tests) + 1)}, c.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestNewClientValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  ClientConfig
		ok   bool
	}{
		{"default endpoint", ClientConfig{WriteKey: "k"}, true},
		{"trailing slash", ClientConfig{WriteKey: "k", Endpoint: "https://events.eu1.segmentapis.com/"}, true},
		{"no write key", ClientConfig{Endpoint: "http://localhost:1"}, false},
		{"not a URL", ClientConfig{WriteKey: "k", Endpoint: "localhost:8080"}, false},
		{"ftp", ClientConfig{WriteKey: "k", Endpoint: "ftp://host"}, false},
		{"query", ClientConfig{WriteKey: "k", Endpoint: "http://host/?a=b"}, false},
		{"negative batch", ClientConfig{WriteKey: "k", BatchSize: -1}, false},
		{"negative interval", ClientConfig{WriteKey: "k", Interval: -time.Second}, false},
		{"negative rate", ClientConfig{WriteKey: "k", Rate: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("NewClient error = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if strings.Contains(err.Error(), "k\"") {
					t.Errorf("error mentions the write key: %v", err)
				}
				return
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPacer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPacer(5, time.Now)
		start := time.Now()
		for range 10 {
			if err := p.wait(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := time.Since(start), 1800*time.Millisecond; got != want {
			t.Errorf("10 calls at 5/s took %s, want %s", got, want)
		}

		// Idle time earns no burst.
		time.Sleep(time.Minute)
		start = time.Now()
		for range 3 {
			if err := p.wait(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := time.Since(start), 400*time.Millisecond; got != want {
			t.Errorf("3 calls after idling took %s, want %s", got, want)
		}

	})
}

func TestPacerCanceled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPacer(1, time.Now)
		if err := p.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := p.wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("wait = %v, want deadline exceeded", err)
		}
	})
}

func TestClientRate(t *testing.T) {
	fake := newFakeSegment(t, 0)
	c, err := NewClient(ClientConfig{Endpoint: fake.srv.URL, WriteKey: testWriteKey, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 11 {
		if err := c.Send(context.Background(), &trackplan.Message{Type: trackplan.Identify, UserID: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 90*time.Millisecond {
		t.Errorf("11 messages at 100/s took %s, want at least 100ms", took)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := c.Stats().Succeeded; got != 11 {
		t.Errorf("succeeded = %d, want 11", got)
	}
}

func TestFailureReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{errors.New("503 503 Service Unavailable"), "http_503"},
		{errors.New("400 400 Bad Request"), "http_400"},
		{&json.UnsupportedValueError{Str: "NaN"}, "marshal"},
		{errors.New("boom"), "other"},
		{nil, "other"},
	}
	for _, tt := range tests {
		if got := failureReason(tt.err); got != tt.want {
			t.Errorf("failureReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestClientEchoingEndpointLogsNoKey: an endpoint that repeats the request
// (its Authorization header, its body) in a failed answer does not get the
// write key into the log, neither plain nor as Basic credentials.
func TestClientEchoingEndpointLogsNoKey(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		code := http.StatusBadRequest
		if r.Header.Get("X-Retry") == "" {
			code = http.StatusInternalServerError
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "echo: Authorization=%s key=%s body=%s", r.Header.Get("Authorization"), testWriteKey, body)
	}))
	defer srv.Close()
	var buf bytes.Buffer
	var bufMu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &bufMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := NewClient(ClientConfig{Endpoint: srv.URL, WriteKey: testWriteKey, Logger: log, MaxRetryAfter: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(context.Background(), &trackplan.Message{Type: trackplan.Identify, MessageID: "m", UserID: "u"}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	bufMu.Lock()
	out := buf.String()
	bufMu.Unlock()
	basic := base64.StdEncoding.EncodeToString([]byte(testWriteKey + ":"))
	if !strings.Contains(out, "echo:") {
		t.Fatalf("the answer was not logged; the test proves nothing:\n%s", out)
	}
	for _, secret := range []string{testWriteKey, basic, strings.TrimRight(basic, "=")} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}
