package segment

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/internal/retryafter"
)

// Ingester durably stores what the collector accepted. Submit returns nil
// only once everything passed to it is committed.
type Ingester interface {
	Submit(ctx context.Context, msgs []*trackplan.Message, rejs []trackplan.Rejection) error
}

// Source is a named source and its write key.
type Source struct {
	Name     string
	WriteKey string
}

// Collector serves Segment's HTTP Tracking API (/v1/batch, /v1/track, …) and
// the Segment Webhooks destination (/webhook/segment).
type Collector struct {
	Sources []Source
	// WebhookSecret, when set, authenticates webhook POSTs: each must carry
	// X-Signature = hex HMAC-SHA1(secret, raw body). Without it, webhook
	// POSTs need a write key like every other endpoint.
	WebhookSecret string
	// WebhookSource names the source of webhook messages (default "webhook").
	WebhookSource string
	Ingester      Ingester
	Limits        Limits
	Logger        *slog.Logger
	Now           func() time.Time
	// Observe, if set, is told the outcome of every request (for metrics).
	Observe func(r Outcome)
	// RateLimits bound requests per write key and per client address; the
	// zero value means DefaultRateLimits (set negative rates to turn them
	// off).
	RateLimits RateLimits
	// AllowedOrigins are the page origins browsers may send from
	// ("https://app.example.com"); empty means any (browser write keys
	// are public by design).
	AllowedOrigins []string
	// TrustedProxies are the load balancers and proxies whose
	// X-Forwarded-For header names the client (see clientAddr); without
	// them a request's client is its peer address.
	TrustedProxies []netip.Prefix

	bufs              sync.Pool
	limitOnce         sync.Once
	perKey, perClient *limiter
}

// Outcome describes one handled collector request.
type Outcome struct {
	Source   string
	Status   int
	Accepted int
	Rejected int
	Took     time.Duration
}

// Register adds the collector's routes to mux.
func (c *Collector) Register(mux *http.ServeMux) {
	route := func(path string, h http.Handler) {
		h = c.cors(h)
		mux.Handle("POST "+path, h)
		mux.Handle("OPTIONS "+path, h)
	}
	batch := c.handle(c.batch)
	route("/v1/batch", batch)
	route("/v1/import", batch)
	// analytics.js's batching delivery posts to {apiHost}/b; its apiHost
	// is Segment's "api.segment.io/v1" or a host with or without /v1.
	route("/v1/b", batch)
	route("/b", batch)
	for _, t := range []trackplan.CallType{trackplan.Track, trackplan.Identify, trackplan.Group,
		trackplan.Page, trackplan.Screen, trackplan.Alias} {
		typ := t
		h := c.handle(func(w http.ResponseWriter, r *http.Request, body []byte) (Outcome, error) {
			return c.single(r, body, typ)
		})
		route("/v1/"+string(t), h)
	}
	for short, long := range browserRoutes {
		typ := trackplan.CallType(long)
		h := c.handle(func(w http.ResponseWriter, r *http.Request, body []byte) (Outcome, error) {
			return c.single(r, body, typ)
		})
		route("/v1/"+short, h)
		route("/"+short, h)
	}
	// analytics.js reports its own delivery counters to {apiHost}/m, as
	// often as its settings sample them: taken and dropped, so that a page
	// gets no CORS error for them.
	drop := c.handle(func(http.ResponseWriter, *http.Request, []byte) (Outcome, error) { return Outcome{}, nil })
	route("/v1/m", drop)
	route("/m", drop)
	mux.Handle("POST /webhook/segment", c.handle(c.webhook))
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, body []byte) (Outcome, error)

// handle reads the (possibly gzipped) body within the limits, runs h and
// maps its error to Segment's responses.
func (c *Collector) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c.limitOnce.Do(c.setUpLimits)
		var out Outcome
		var err error
		if ok, wait := c.perClient.allow(c.clientAddr(r)); !ok {
			err = &RateLimitedError{Limit: "client", Retry: wait}
		} else {
			buf := c.getBuf()
			defer c.bufs.Put(buf)
			var body []byte
			body, err = c.readBody(w, r, buf)
			if err == nil {
				out, err = h(w, r, body)
			}
			c.recordBadRequest(r, err, &out)
		}
		out.Status = c.respond(w, r, err)
		out.Took = time.Since(start)
		if c.Observe != nil {
			c.Observe(out)
		}
	})
}

func (c *Collector) getBuf() *bytes.Buffer {
	if b, ok := c.bufs.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func (c *Collector) readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) ([]byte, error) {
	l := c.limits()
	raw := &readErr{r: http.MaxBytesReader(w, r.Body, int64(l.MaxRequestBytes))}
	var rd io.Reader = raw
	limit := l.MaxRequestBytes
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, &RequestError{Msg: "body is not valid gzip"}
		}
		defer zr.Close()
		rd, limit = zr, l.MaxInflatedBytes
	default:
		return nil, &RequestError{Msg: fmt.Sprintf("unsupported Content-Encoding %q", enc)}
	}
	_, err := buf.ReadFrom(io.LimitReader(rd, int64(limit)+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &RequestError{Msg: fmt.Sprintf("body exceeds %d bytes", l.MaxRequestBytes)}
	case err != nil && (r.Context().Err() != nil || errors.Is(raw.err, io.ErrUnexpectedEOF)):
		// The client went away mid-body: nobody reads the answer, and
		// nothing of it was a request to judge.
		return nil, fmt.Errorf("read body: %w", context.Canceled)
	case err != nil:
		return nil, &RequestError{Msg: "read body: " + err.Error()}
	case buf.Len() > limit:
		return nil, &RequestError{Msg: fmt.Sprintf("inflated body exceeds %d bytes", limit)}
	}
	// The messages keep slices of the body (Raw), so it must outlive the
	// pooled buffer.
	return bytes.Clone(buf.Bytes()), nil
}

func (c *Collector) limits() Limits {
	if c.Limits.MaxRequestBytes == 0 {
		return DefaultLimits()
	}
	return c.Limits
}

func (c *Collector) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

func (c *Collector) batch(_ http.ResponseWriter, r *http.Request, body []byte) (Outcome, error) {
	req, err := ParseBatch(body, c.limits())
	if err != nil {
		return Outcome{}, err
	}
	return c.store(r, req)
}

func (c *Collector) single(r *http.Request, body []byte, typ trackplan.CallType) (Outcome, error) {
	req, err := ParseSingle(body, typ, c.limits())
	if err != nil {
		return Outcome{}, err
	}
	return c.store(r, req)
}

func (c *Collector) store(r *http.Request, req *Request) (Outcome, error) {
	key, _, ok := r.BasicAuth()
	if !ok || key == "" {
		key = req.WriteKey
	}
	source, ok := c.source(key)
	if !ok {
		return Outcome{}, trackplan.ErrUnauthorized
	}
	if ok, wait := c.perKey.allow(source); !ok {
		return Outcome{Source: source}, &RateLimitedError{Limit: "write key", Retry: wait}
	}
	return c.submit(r, req, source)
}

// recordBadRequest keeps a request refused as a whole (400) as one
// rejection of its source when a write key in its Authorization header
// names one, so observed and drift show it: the sample is what was wrong,
// not the body.
func (c *Collector) recordBadRequest(r *http.Request, err error, out *Outcome) {
	var re *RequestError
	if !errors.As(err, &re) {
		return
	}
	key, _, ok := r.BasicAuth()
	if !ok {
		return
	}
	source, ok := c.source(key)
	if !ok {
		return
	}
	rej := trackplan.Rejection{Source: source, Reason: ReasonBadRequest, Sample: []byte(re.Msg), ReceivedAt: c.now()}
	if c.Ingester.Submit(r.Context(), nil, []trackplan.Rejection{rej}) == nil {
		out.Source, out.Rejected = source, 1
	}
}

func (c *Collector) setUpLimits() {
	l := c.RateLimits
	if l == (RateLimits{}) {
		l = DefaultRateLimits()
	}
	c.perKey = newLimiter(l.PerKey, l.KeyBurst, c.now)
	c.perClient = newLimiter(l.PerClient, l.ClientBurst, c.now)
}

// submit normalises a request's messages for a source and stores them.
func (c *Collector) submit(r *http.Request, req *Request, source string) (Outcome, error) {
	msgs, rejs := req.Messages(source, c.now(), c.limits())
	ip, ua := c.clientAddr(r), userAgent(r)
	for _, m := range msgs {
		m.ClientIP, m.UserAgent = ip, ua
	}
	out := Outcome{Source: source, Accepted: len(msgs), Rejected: len(rejs)}
	return out, c.Ingester.Submit(r.Context(), msgs, rejs)
}

// source finds the source whose write key matches, comparing every key in
// constant time.
func (c *Collector) source(key string) (string, bool) {
	if key == "" {
		return "", false
	}
	name, found := "", 0
	for _, s := range c.Sources {
		if subtle.ConstantTimeCompare([]byte(s.WriteKey), []byte(key)) == 1 {
			name, found = s.Name, 1
		}
	}
	return name, found == 1
}

// webhook takes one message of Segment's Webhooks destination. With a
// shared secret, the X-Signature header authenticates it and the message
// belongs to WebhookSource; without one, it needs a write key like the
// other endpoints (the destination can send an Authorization header).
func (c *Collector) webhook(_ http.ResponseWriter, r *http.Request, body []byte) (Outcome, error) {
	if c.WebhookSecret == "" {
		return c.single(r, body, "")
	}
	got, err := hex.DecodeString(r.Header.Get("X-Signature"))
	mac := hmac.New(sha1.New, []byte(c.WebhookSecret))
	mac.Write(body)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return Outcome{}, fmt.Errorf("webhook signature: %w", trackplan.ErrUnauthorized)
	}
	req, err := ParseSingle(body, "", c.limits())
	if err != nil {
		return Outcome{}, err
	}
	source := c.WebhookSource
	if source == "" {
		source = "webhook"
	}
	return c.submit(r, req, source)
}

// statusClientClosed is what the collector counts a request as when its
// client went away before the answer (nginx's 499): not a server failure.
const statusClientClosed = 499

// respond writes Segment's answer for err and returns the status code.
func (c *Collector) respond(w http.ResponseWriter, r *http.Request, err error) int {
	status, msg := http.StatusOK, ""
	var re *RequestError
	var rl *RateLimitedError
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		// The client disconnected: nothing was acknowledged, and nobody
		// reads the answer.
		if c.Logger != nil {
			c.Logger.Debug("client went away before the answer", "err", err)
		}
		return statusClientClosed
	case errors.As(err, &re):
		status, msg = http.StatusBadRequest, re.Msg
	case errors.As(err, &rl):
		status, msg = http.StatusTooManyRequests, "too many requests from this "+rl.Limit+"; retry later"
		w.Header().Set("Retry-After", retryafter.Seconds(rl.Retry))
	case errors.Is(err, trackplan.ErrUnauthorized):
		status, msg = http.StatusUnauthorized, "unknown write key or bad signature"
	case errors.Is(err, trackplan.ErrOverloaded):
		status, msg = http.StatusServiceUnavailable, "overloaded; retry later"
		w.Header().Set("Retry-After", "1")
	default:
		status, msg = http.StatusServiceUnavailable, "could not store the request; retry later"
		w.Header().Set("Retry-After", "5")
		if c.Logger != nil {
			c.Logger.Error("store request", "err", err)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status == http.StatusOK {
		io.WriteString(w, `{"success":true}`)
		return status
	}
	json.NewEncoder(w).Encode(struct {
		Success bool   `json:"success"`
		Error   string `json:"error"`
	}{false, msg})
	return status
}

// readErr remembers the error of the connection's body, apart from what a
// decompressor above it makes of it: a body cut short by the client (an
// unexpected EOF here) is a client gone, a corrupt gzip stream is a bad
// request.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}
