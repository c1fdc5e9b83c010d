package notion

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trackplan/trackplan/internal/retryafter"
)

// maxResponseBytes bounds a response body read into memory.
const maxResponseBytes = 32 << 20

// Transport is the http.RoundTripper every Notion request goes through. It
//
//   - sends the request to the configured base URL (scheme, host and path
//     prefix are rewritten; the caller's request is not modified),
//   - throttles with a token bucket (3 requests/s by default), pausing every
//     request after a 429 for as long as Retry-After says,
//   - bounds each attempt with a timeout and reads the whole response body
//     inside it,
//   - retries 429 and 529 always, and 5xx, 409, timeouts and network errors
//     when the request is idempotent (GET, PATCH, database queries), honouring
//     an integer Retry-After and otherwise backing off exponentially with
//     jitter, capped,
//   - rewinds the request body for every attempt,
//   - counts attempts by method and status.
//
// A create (POST /v1/pages, POST /v1/databases) that fails with a 5xx or a
// timeout may have been applied, so it is not retried here: the caller looks
// for the row before creating it again.
//
// Transport never formats request headers, so the token cannot leak into
// errors or logs through it.
type Transport struct {
	base        http.RoundTripper
	baseURL     *url.URL
	rate        float64
	burst       float64
	timeout     time.Duration
	maxAttempts int
	minBackoff  time.Duration
	maxBackoff  time.Duration
	now         func() time.Time
	sleep       func(context.Context, time.Duration) error
	jitter      func() float64
	log         *slog.Logger

	mu        sync.Mutex
	tokens    float64
	last      time.Time
	notBefore time.Time
	counts    map[RequestKey]int64
	retries   int64
}

// NewTransport returns a Transport configured from cfg (BaseURL, Rate,
// Burst, Timeout, MaxAttempts, MinBackoff, MaxBackoff, HTTPTransport, Now,
// Sleep, Jitter, Logger; zero fields take their defaults).
func NewTransport(cfg Config) (*Transport, error) {
	cfg = cfg.withDefaults()
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("notion base url %q: not an absolute URL", cfg.BaseURL)
	}
	jitter := cfg.Jitter
	if jitter == nil {
		jitter = rand.Float64
	}
	return &Transport{
		base:        cfg.HTTPTransport,
		baseURL:     u,
		rate:        cfg.Rate,
		burst:       float64(cfg.Burst),
		timeout:     cfg.Timeout,
		maxAttempts: cfg.MaxAttempts,
		minBackoff:  cfg.MinBackoff,
		maxBackoff:  cfg.MaxBackoff,
		now:         cfg.Now,
		sleep:       cfg.Sleep,
		jitter:      jitter,
		log:         cfg.Logger,
		counts:      map[RequestKey]int64{},
	}, nil
}

// RequestKey identifies a class of attempts: the method and the response
// status (0 when no response arrived: timeout or network error).
type RequestKey struct {
	Method string
	Status int
}

// RequestCounts counts attempts by method and status. Retried attempts are
// counted each.
type RequestCounts map[RequestKey]int64

// Total returns the number of attempts.
func (c RequestCounts) Total() int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// Method returns the number of attempts with the given method, whatever
// their status.
func (c RequestCounts) Method(m string) int64 {
	var n int64
	for k, v := range c {
		if k.Method == m {
			n += v
		}
	}
	return n
}

func (c RequestCounts) keys() []RequestKey {
	ks := make([]RequestKey, 0, len(c))
	for k := range c {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b RequestKey) int {
		if a.Method != b.Method {
			return strings.Compare(a.Method, b.Method)
		}
		return a.Status - b.Status
	})
	return ks
}

// String renders the counts as "GET 200=2 POST 200=5 POST 429=1".
func (c RequestCounts) String() string {
	var b strings.Builder
	for i, k := range c.keys() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s %d=%d", k.Method, k.Status, c[k])
	}
	return b.String()
}

// LogValue renders the counts as a group of "METHOD STATUS" attributes, for
// a debug line such as log.Debug("notion requests", "requests", counts).
func (c RequestCounts) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(c))
	for _, k := range c.keys() {
		attrs = append(attrs, slog.Int64(fmt.Sprintf("%s %d", k.Method, k.Status), c[k]))
	}
	return slog.GroupValue(attrs...)
}

// Counts returns a copy of the attempt counts so far.
func (t *Transport) Counts() RequestCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(RequestCounts, len(t.counts))
	for k, v := range t.counts {
		out[k] = v
	}
	return out
}

// Retries returns the number of attempts that were retries.
func (t *Transport) Retries() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.retries
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	getBody, err := rewindable(req)
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	ctx := req.Context()
	for attempt := 1; ; attempt++ {
		if err := t.throttle(ctx); err != nil {
			return nil, err
		}
		resp, err := t.try(ctx, req, getBody)
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.record(req.Method, status, attempt > 1)
		wait, retry := t.retry(req, resp, err, attempt)
		if !retry {
			return resp, err
		}
		t.log.Debug("notion request retry", "method", req.Method, "path", req.URL.Path,
			"status", status, "attempt", attempt, "wait", wait, "err", errText(err))
		if status == http.StatusTooManyRequests || status == 529 {
			// Every request waits, this one included: throttle sleeps.
			t.pause(wait)
			continue
		}
		if err := t.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// rewindable closes req.Body and returns a function giving a fresh copy of
// it for each attempt, or nil when there is no body.
func rewindable(req *http.Request) (func() (io.ReadCloser, error), error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.GetBody != nil {
		req.Body.Close()
		return req.GetBody, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, nil
}

// try makes one attempt and returns the response with its body fully read.
func (t *Transport) try(ctx context.Context, req *http.Request, getBody func() (io.ReadCloser, error)) (*http.Response, error) {
	actx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	r := req.Clone(actx)
	r.URL.Scheme = t.baseURL.Scheme
	r.URL.Host = t.baseURL.Host
	r.Host = t.baseURL.Host
	if prefix := strings.TrimSuffix(t.baseURL.Path, "/"); prefix != "" {
		r.URL.Path = prefix + r.URL.Path
		if r.URL.RawPath != "" {
			r.URL.RawPath = strings.TrimSuffix(t.baseURL.EscapedPath(), "/") + r.URL.RawPath
		}
	}
	r.Body = nil
	if getBody != nil {
		b, err := getBody()
		if err != nil {
			return nil, fmt.Errorf("rewind request body: %w", err)
		}
		r.Body = b
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, t.attemptError(ctx, actx, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	resp.Body.Close()
	if err != nil {
		return nil, t.attemptError(ctx, actx, fmt.Errorf("read response body: %w", err))
	}
	if len(body) > maxResponseBytes {
		return nil, fmt.Errorf("response body larger than %d bytes", maxResponseBytes)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Request = req
	return resp, nil
}

// errAttemptTimeout marks an attempt that ran out of its own time.
var errAttemptTimeout = errors.New("attempt timed out")

func (t *Transport) attemptError(ctx, actx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if actx.Err() != nil {
		return fmt.Errorf("%w after %s: %w", errAttemptTimeout, t.timeout, err)
	}
	return err
}

// retry decides whether to try again and how long to wait first.
func (t *Transport) retry(req *http.Request, resp *http.Response, err error, attempt int) (time.Duration, bool) {
	if attempt >= t.maxAttempts || req.Context().Err() != nil {
		return 0, false
	}
	if err != nil {
		if !idempotent(req) {
			return 0, false
		}
		return t.backoff(attempt), true
	}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests || s == 529:
	case s >= 500 || s == http.StatusConflict:
		if !idempotent(req) {
			return 0, false
		}
	default:
		return 0, false
	}
	if d, ok := retryafter.Parse(resp.Header.Get("Retry-After"), t.now()); ok {
		return d, true
	}
	return t.backoff(attempt), true
}

// idempotent reports whether repeating req cannot apply it twice.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodPatch:
		return true
	case http.MethodPost:
		return strings.HasSuffix(strings.TrimSuffix(req.URL.Path, "/"), "/query")
	}
	return false
}

// backoff returns the wait before attempt+1: MinBackoff doubled per attempt,
// capped at MaxBackoff, with its upper half jittered.
func (t *Transport) backoff(attempt int) time.Duration {
	d := float64(t.minBackoff) * math.Pow(2, float64(attempt-1))
	if d > float64(t.maxBackoff) {
		d = float64(t.maxBackoff)
	}
	return time.Duration(d/2 + t.jitter()*d/2)
}

// throttle waits for a token of the bucket and past any pause.
func (t *Transport) throttle(ctx context.Context) error {
	t.mu.Lock()
	now := t.now()
	var wait time.Duration
	if !math.IsInf(t.rate, 1) {
		if t.last.IsZero() {
			t.tokens = t.burst
		} else if el := now.Sub(t.last); el > 0 {
			t.tokens = min(t.burst, t.tokens+el.Seconds()*t.rate)
		}
		if now.After(t.last) {
			t.last = now
		}
		t.tokens--
		if t.tokens < 0 {
			wait = time.Duration(-t.tokens / t.rate * float64(time.Second))
		}
	}
	if p := t.notBefore.Sub(now); p > wait {
		wait = p
	}
	t.mu.Unlock()
	if wait <= 0 {
		return ctx.Err()
	}
	return t.sleep(ctx, wait)
}

// pause holds every request back for d (after a 429).
func (t *Transport) pause(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until := t.now().Add(d); until.After(t.notBefore) {
		t.notBefore = until
	}
}

func (t *Transport) record(method string, status int, retry bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts[RequestKey{Method: method, Status: status}]++
	if retry {
		t.retries++
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
