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
	"maps"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"

	"github.com/trackplan/trackplan"
)

// DefaultBatchSize is the number of messages per /v1/batch request when
// ClientConfig.BatchSize is zero (analytics-go's own default).
const DefaultBatchSize = 250

// ClientConfig configures a Client. The zero value of every field except
// WriteKey is meaningful.
type ClientConfig struct {
	// Endpoint is the base URL of a Segment-compatible API (Segment,
	// Segment EU, a RudderStack data plane, trackplan's own collector).
	// Batches go to Endpoint + "/v1/batch"; trailing slashes are trimmed.
	// Empty means Segment's https://api.segment.io.
	Endpoint string
	// WriteKey authenticates as the HTTP Basic username. It is never logged.
	WriteKey string
	// BatchSize is the most messages per request; 0 means DefaultBatchSize.
	// Requests are also cut at Segment's 500 KB.
	BatchSize int
	// Interval is how often queued messages are flushed; 0 means
	// analytics-go's 5 s.
	Interval time.Duration
	// Transport sends the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// RetryAfter is the wait before retry n (0-based) of a failed batch; nil
	// means analytics-go's backoff (100 ms doubling, capped at 10 s). Each
	// batch gets at most 10 attempts and Retry-After headers are ignored.
	RetryAfter func(attempt int) time.Duration
	// Rate caps Send at this many messages per second; 0 means unlimited.
	Rate float64
	// OnResult, if set, is called once per enqueued message with its
	// messageId and nil on delivery, or the reason it was dropped. It is
	// called from background goroutines, possibly concurrently and in any
	// order, and must return quickly.
	OnResult func(messageID string, err error)
	// Logger receives the client's and analytics-go's diagnostics; message
	// bodies are never logged. Nil discards them.
	Logger *slog.Logger
	// Now reads the clock for rate limiting and Retry-After; nil means
	// time.Now.
	Now func() time.Time
	// Timeout bounds each HTTP attempt, answer included; 0 means
	// analytics-go's 10 s, which also caps it.
	Timeout time.Duration
	// StatusAware replaces analytics-go's blind retries (every non-2xx,
	// ten times, Retry-After ignored) by the answer handling of Segment's
	// newer libraries:
	//
	//   - A 429 or 503 with Retry-After holds every batch until then
	//     (capped by MaxRetryAfter): a batch due earlier is not sent, counts
	//     as a failed attempt, and its next attempt waits for the hold.
	//   - A permanent refusal (a 4xx other than 408 and 429) is not
	//     retried: the batch's messages are reported failed at once, with a
	//     *DeliveryError whose Permanent is true. The endpoint receives the
	//     batch once.
	//
	// Messages are matched to their outcome by messageId, so messageIds
	// must be unique within the client's lifetime.
	StatusAware bool
	// MaxRetryAfter caps a honoured Retry-After; 0 means
	// DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
}

// DefaultMaxRetryAfter caps a honoured Retry-After when
// ClientConfig.MaxRetryAfter is zero.
const DefaultMaxRetryAfter = 30 * time.Second

// DeliveryError is the error ClientConfig.OnResult receives for a message
// that was not delivered.
type DeliveryError struct {
	// Reason is a short, bounded classification: http_<status>,
	// transport, message_too_big, too_many_requests, marshal or other.
	Reason string
	// Status is the HTTP status of the last answer, 0 when there was none.
	Status int
	// Permanent reports that sending the same message again cannot
	// succeed: the endpoint refused it (a 4xx other than 408 and 429), it
	// is over 32,000 bytes, or it cannot be encoded. A transient failure
	// (no answer, a timeout, 408, 429, 5xx, the client closed while
	// retrying) is worth retrying later.
	Permanent bool
	// Err is the underlying error.
	Err error
}

func (e *DeliveryError) Error() string { return "deliver message: " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *DeliveryError) Unwrap() error { return e.Err }

// newDeliveryError classifies err.
func newDeliveryError(err error) *DeliveryError {
	reason := failureReason(err)
	if err == nil {
		err = errors.New(reason)
	}
	e := &DeliveryError{Reason: reason, Err: err}
	switch {
	case reason == "message_too_big", reason == "marshal":
		e.Permanent = true
	case strings.HasPrefix(reason, "http_"):
		e.Status, _ = strconv.Atoi(strings.TrimPrefix(reason, "http_"))
		e.Permanent = permanentStatus(e.Status)
	}
	return e
}

// permanentStatus reports whether an answer refuses a request for good:
// a 4xx other than 408 (timeout) and 429 (rate limit).
func permanentStatus(code int) bool {
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests
}

// LogValue redacts the write key when the config is logged.
func (c ClientConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", c.Endpoint),
		slog.String("write_key", redact(c.WriteKey)),
		slog.Int("batch_size", c.BatchSize),
		slog.Duration("interval", c.Interval),
		slog.Float64("rate", c.Rate),
		slog.Duration("timeout", c.Timeout),
		slog.Bool("status_aware", c.StatusAware),
	)
}

// String describes the config with the write key redacted, so that printing
// it with fmt cannot leak the key either.
func (c ClientConfig) String() string {
	return fmt.Sprintf("segment.ClientConfig{Endpoint:%q WriteKey:%s BatchSize:%d Interval:%s Rate:%g}",
		c.Endpoint, redact(c.WriteKey), c.BatchSize, c.Interval, c.Rate)
}

func redact(secret string) string {
	if secret == "" {
		return ""
	}
	return "[redacted]"
}

// ClientStats counts the outcomes of the messages passed to Send.
type ClientStats struct {
	// Enqueued counts messages accepted by Send.
	Enqueued int64 `json:"enqueued"`
	// Rejected counts messages Send refused synchronously (invalid, client
	// closed, context done); they are not part of Enqueued.
	Rejected int64 `json:"rejected"`
	// Succeeded counts enqueued messages whose batch got a 2xx answer.
	Succeeded int64 `json:"succeeded"`
	// Failed counts enqueued messages that were dropped.
	Failed int64 `json:"failed"`
	// FailedByReason splits Failed by a short reason: http_<status>,
	// transport, message_too_big, too_many_requests, marshal or other.
	FailedByReason map[string]int64 `json:"failed_by_reason,omitempty"`
}

// Pending is the number of enqueued messages with no outcome yet.
func (s ClientStats) Pending() int64 { return s.Enqueued - s.Succeeded - s.Failed }

// Client sends trackplan messages to a Segment-compatible endpoint through
// analytics-go, batching them in the background. It is safe for concurrent
// use. Delivery is asynchronous: Send only enqueues, and the outcome of each
// message is reported through ClientConfig.OnResult and Stats.
//
// Close must be called to flush what is queued and stop the background
// goroutines. Note analytics-go's Close semantics: once Close has been
// called, a batch whose attempt fails is dropped at once instead of being
// retried, so the final flush gets a single attempt per batch. Callers that
// need every message delivered should wait for Stats().Pending() to reach
// zero (or for OnResult) before calling Close.
type Client struct {
	ac       analytics.Client
	log      *slog.Logger
	onResult func(string, error)
	pace     *pacer // nil when unlimited
	redact   *strings.Replacer

	enqueued, rejected, succeeded, failed atomic.Int64

	mu      sync.Mutex
	reasons map[string]int64
	refused map[string]*DeliveryError // messageId → permanent refusal (StatusAware)
}

// NewClient validates cfg and starts a client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.WriteKey == "" {
		return nil, errors.New("new segment client: write key is required")
	}
	endpoint := strings.TrimRight(strings.TrimSpace(cfg.Endpoint), "/")
	if endpoint == "" {
		endpoint = analytics.DefaultEndpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("new segment client: endpoint %q is not an http(s) URL", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("new segment client: endpoint %q must not have a query or fragment", endpoint)
	}
	switch {
	case cfg.BatchSize < 0:
		return nil, fmt.Errorf("new segment client: batch size %d is negative", cfg.BatchSize)
	case cfg.Interval < 0:
		return nil, fmt.Errorf("new segment client: interval %s is negative", cfg.Interval)
	case cfg.Rate < 0:
		return nil, fmt.Errorf("new segment client: rate %g is negative", cfg.Rate)
	}
	batch := cfg.BatchSize
	if batch == 0 {
		batch = DefaultBatchSize
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("new segment client: timeout %s is negative", cfg.Timeout)
	case cfg.MaxRetryAfter < 0:
		return nil, fmt.Errorf("new segment client: max retry-after %s is negative", cfg.MaxRetryAfter)
	}
	c := &Client{
		log:      log,
		onResult: cfg.OnResult,
		reasons:  map[string]int64{},
		refused:  map[string]*DeliveryError{},
		redact:   keyRedactor(cfg.WriteKey),
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.Rate > 0 {
		c.pace = newPacer(cfg.Rate, now)
	}
	tr, retryAfter := cfg.Transport, cfg.RetryAfter
	if cfg.Timeout > 0 || cfg.StatusAware {
		base := tr
		if base == nil {
			base = http.DefaultTransport
		}
		st := &statusTransport{base: base, timeout: cfg.Timeout, aware: cfg.StatusAware,
			maxHold: cfg.MaxRetryAfter, now: now, refuse: c.refuse}
		if st.maxHold == 0 {
			st.maxHold = DefaultMaxRetryAfter
		}
		tr = st
		if cfg.StatusAware {
			backoff := retryAfter
			if backoff == nil {
				backoff = defaultBackoff
			}
			retryAfter = func(attempt int) time.Duration { return max(backoff(attempt), st.held()) }
		}
	}
	ac, err := analytics.NewWithConfig(cfg.WriteKey, analytics.Config{
		Endpoint:   endpoint,
		Interval:   cfg.Interval,
		Transport:  tr,
		Logger:     analyticsLogger{log: log.With("component", "analytics-go"), redact: c.redact},
		Callback:   analyticsCallback{c: c},
		BatchSize:  batch,
		RetryAfter: retryAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("new segment client: %w", err)
	}
	c.ac = ac
	return c, nil
}

// Send converts m to the analytics-go message of its call type and enqueues
// it, after waiting for the rate limit if one is set. MessageID, UserID,
// AnonymousID, Timestamp (the event time; zero means now), Event, Name,
// PreviousID, Properties or Traits and GroupID are preserved: GroupID is the
// groupId of a group call and context.groupId of every other call. Source,
// ReceivedAt and Raw are not sent.
//
// The message's maps are marshalled later on a background goroutine, so they
// must not be modified after Send returns. An error means the message was not
// enqueued: it is invalid, ctx is done, or the client is closed.
func (c *Client) Send(ctx context.Context, m *trackplan.Message) error {
	if err := c.send(ctx, m); err != nil {
		c.rejected.Add(1)
		return err
	}
	c.enqueued.Add(1)
	return nil
}

func (c *Client) send(ctx context.Context, m *trackplan.Message) error {
	if m == nil {
		return errors.New("send message: nil message")
	}
	msg, err := toAnalytics(m)
	if err != nil {
		return fmt.Errorf("send message %s: %w", m.MessageID, err)
	}
	if c.pace != nil {
		if err := c.pace.wait(ctx); err != nil {
			return fmt.Errorf("send message %s: %w", m.MessageID, err)
		}
	} else if err := ctx.Err(); err != nil {
		return fmt.Errorf("send message %s: %w", m.MessageID, err)
	}
	if err := c.ac.Enqueue(msg); err != nil {
		return fmt.Errorf("send message %s: %w", m.MessageID, err)
	}
	return nil
}

// toAnalytics maps a trackplan message onto analytics-go's message types.
func toAnalytics(m *trackplan.Message) (analytics.Message, error) {
	var ctx *analytics.Context
	if m.GroupID != "" && m.Type != trackplan.Group {
		ctx = &analytics.Context{GroupID: m.GroupID}
	}
	switch m.Type {
	case trackplan.Track:
		return analytics.Track{MessageId: m.MessageID, AnonymousId: m.AnonymousID, UserId: m.UserID,
			Event: m.Event, Timestamp: m.Timestamp, Context: ctx, Properties: m.Properties}, nil
	case trackplan.Identify:
		return analytics.Identify{MessageId: m.MessageID, AnonymousId: m.AnonymousID, UserId: m.UserID,
			Timestamp: m.Timestamp, Context: ctx, Traits: m.Traits}, nil
	case trackplan.Group:
		return analytics.Group{MessageId: m.MessageID, AnonymousId: m.AnonymousID, UserId: m.UserID,
			GroupId: m.GroupID, Timestamp: m.Timestamp, Traits: m.Traits}, nil
	case trackplan.Page:
		return analytics.Page{MessageId: m.MessageID, AnonymousId: m.AnonymousID, UserId: m.UserID,
			Name: m.Name, Timestamp: m.Timestamp, Context: ctx, Properties: m.Properties}, nil
	case trackplan.Screen:
		return analytics.Screen{MessageId: m.MessageID, AnonymousId: m.AnonymousID, UserId: m.UserID,
			Name: m.Name, Timestamp: m.Timestamp, Context: ctx, Properties: m.Properties}, nil
	case trackplan.Alias:
		return analytics.Alias{MessageId: m.MessageID, PreviousId: m.PreviousID, UserId: m.UserID,
			Timestamp: m.Timestamp, Context: ctx}, nil
	}
	return nil, fmt.Errorf("unknown call type %q", m.Type)
}

// Close flushes the queued messages, waits for every batch in flight and
// stops the client. A batch that fails during Close is dropped without retry
// (analytics-go's behaviour) and counted as failed. Calling Close twice
// returns an error.
func (c *Client) Close() error {
	if err := c.ac.Close(); err != nil {
		return fmt.Errorf("close segment client: %w", err)
	}
	s := c.Stats()
	c.log.Debug("segment client closed", "succeeded", s.Succeeded, "failed", s.Failed, "rejected", s.Rejected)
	return nil
}

// Stats returns the outcome counts so far.
func (c *Client) Stats() ClientStats {
	c.mu.Lock()
	reasons := maps.Clone(c.reasons)
	c.mu.Unlock()
	if len(reasons) == 0 {
		reasons = nil
	}
	return ClientStats{
		Enqueued:       c.enqueued.Load(),
		Rejected:       c.rejected.Load(),
		Succeeded:      c.succeeded.Load(),
		Failed:         c.failed.Load(),
		FailedByReason: reasons,
	}
}

// analyticsCallback counts analytics-go's per-message outcomes.
type analyticsCallback struct{ c *Client }

func (cb analyticsCallback) Success(m analytics.Message) {
	id := analyticsMessageID(m)
	cb.c.mu.Lock()
	refusal, refused := cb.c.refused[id]
	if refused {
		delete(cb.c.refused, id)
	}
	cb.c.mu.Unlock()
	if refused {
		// The transport answered a refused batch with a success so that
		// analytics-go stops retrying it; report the refusal.
		cb.c.fail(id, refusal)
		return
	}
	cb.c.succeeded.Add(1)
	if cb.c.onResult != nil {
		cb.c.onResult(id, nil)
	}
}

func (cb analyticsCallback) Failure(m analytics.Message, err error) {
	cb.c.fail(analyticsMessageID(m), newDeliveryError(err))
}

func (c *Client) fail(id string, e *DeliveryError) {
	c.mu.Lock()
	c.reasons[e.Reason]++
	c.mu.Unlock()
	c.failed.Add(1)
	if c.onResult != nil {
		c.onResult(id, e)
	}
}

// refuse records the messages of a batch the endpoint refused for good.
func (c *Client) refuse(ids []string, status int, body string) {
	e := &DeliveryError{Reason: fmt.Sprintf("http_%d", status), Status: status, Permanent: true,
		Err: fmt.Errorf("%d %s: %s", status, http.StatusText(status), truncateForLog(c.redact.Replace(body)))}
	c.mu.Lock()
	for _, id := range ids {
		c.refused[id] = e
	}
	c.mu.Unlock()
	c.log.Warn("segment endpoint refused a batch; not retrying it", "status", status, "messages", len(ids),
		"answer", truncateForLog(c.redact.Replace(body)))
}

// failureReason classifies a delivery error into a short, bounded key.
func failureReason(err error) string {
	var (
		urlErr  *url.Error
		netErr  net.Error
		unsupT  *json.UnsupportedTypeError
		unsupV  *json.UnsupportedValueError
		marshal *json.MarshalerError
	)
	switch {
	case err == nil:
		return "other"
	case errors.Is(err, analytics.ErrMessageTooBig):
		return "message_too_big"
	case errors.Is(err, analytics.ErrTooManyRequests):
		return "too_many_requests"
	case errors.As(err, &unsupT), errors.As(err, &unsupV), errors.As(err, &marshal):
		return "marshal"
	case errors.As(err, &urlErr), errors.As(err, &netErr):
		return "transport"
	}
	// analytics-go reports a non-2xx answer as "<code> <status text>".
	if s := err.Error(); len(s) >= 4 && s[3] == ' ' && isDigits(s[:3]) {
		return "http_" + s[:3]
	}
	return "other"
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// analyticsMessageID returns the messageId of an analytics-go message.
func analyticsMessageID(m analytics.Message) string {
	switch x := m.(type) {
	case analytics.Track:
		return x.MessageId
	case analytics.Identify:
		return x.MessageId
	case analytics.Group:
		return x.MessageId
	case analytics.Page:
		return x.MessageId
	case analytics.Screen:
		return x.MessageId
	case analytics.Alias:
		return x.MessageId
	case *analytics.Track:
		return x.MessageId
	case *analytics.Identify:
		return x.MessageId
	case *analytics.Group:
		return x.MessageId
	case *analytics.Page:
		return x.MessageId
	case *analytics.Screen:
		return x.MessageId
	case *analytics.Alias:
		return x.MessageId
	}
	return ""
}

// analyticsLogger adapts analytics-go's Logger to slog. analytics-go passes
// whole messages (properties, traits, emails) as format arguments when a
// message is dropped, and response bodies when a request fails; the adapter
// replaces messages by their type and messageId and truncates long strings,
// so no message body reaches the log. Logf (per-attempt failures that will be
// retried) is logged at debug level, Errorf at warn level: final outcomes are
// counted in Stats.
type analyticsLogger struct {
	log *slog.Logger
	// redact hides the write key, as sent (Basic auth) or echoed by an
	// endpoint that repeats the request in its answer.
	redact *strings.Replacer
}

// maxLoggedString bounds strings (response bodies) written to the log.
const maxLoggedString = 200

func (l analyticsLogger) Logf(format string, args ...any) {
	l.log.Debug("analytics-go", "detail", l.redact.Replace(fmt.Sprintf(format, safeLogArgs(args)...)))
}

func (l analyticsLogger) Errorf(format string, args ...any) {
	l.log.Warn("analytics-go", "detail", l.redact.Replace(fmt.Sprintf(format, safeLogArgs(args)...)))
}

func safeLogArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch x := a.(type) {
		case analytics.Message:
			out[i] = fmt.Sprintf("<%s messageId=%s>", analyticsMessageType(x), analyticsMessageID(x))
		case string:
			out[i] = truncateForLog(x)
		case []byte:
			out[i] = truncateForLog(string(x))
		case error:
			out[i] = truncateForLog(x.Error())
		case fmt.Stringer:
			out[i] = truncateForLog(x.String())
		case int, int64, int32, uint, uint64, uint32, float64, bool, time.Duration:
			out[i] = x
		default:
			out[i] = fmt.Sprintf("<%T>", a)
		}
	}
	return out
}

func truncateForLog(s string) string {
	if len(s) <= maxLoggedString {
		return s
	}
	cut := maxLoggedString
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func analyticsMessageType(m analytics.Message) string {
	switch m.(type) {
	case analytics.Track, *analytics.Track:
		return "track"
	case analytics.Identify, *analytics.Identify:
		return "identify"
	case analytics.Group, *analytics.Group:
		return "group"
	case analytics.Page, *analytics.Page:
		return "page"
	case analytics.Screen, *analytics.Screen:
		return "screen"
	case analytics.Alias, *analytics.Alias:
		return "alias"
	}
	return "message"
}

// pacer spaces calls evenly at a fixed rate. A caller running late by less
// than pacerMaxLag keeps its earlier slot, so timer coarseness at high rates
// does not lower the average rate; idle time earns no larger burst.
type pacer struct {
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	next time.Time // the earliest slot not yet handed out; zero before the first call
}

// pacerMaxLag is how far behind schedule a pacer lets callers catch up.
const pacerMaxLag = 10 * time.Millisecond

func newPacer(rate float64, now func() time.Time) *pacer {
	iv := time.Duration(float64(time.Second) / rate)
	if iv <= 0 {
		iv = 1
	}
	return &pacer{interval: iv, now: now}
}

// wait blocks until the caller's slot, or until ctx is done. A slot given up
// because ctx ended is not reused.
func (p *pacer) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	now := p.now()
	slot := p.next
	if floor := now.Add(-pacerMaxLag); p.next.IsZero() || slot.Before(floor) {
		slot = now
	}
	p.next = slot.Add(p.interval)
	p.mu.Unlock()

	d := slot.Sub(now)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// defaultBackoff is analytics-go's retry backoff: 100 ms doubling per
// attempt, capped at 10 s.
func defaultBackoff(attempt int) time.Duration {
	if attempt >= 7 {
		return 10 * time.Second
	}
	return min(100*time.Millisecond<<attempt, 10*time.Second)
}

// maxAnswerBytes bounds how much of an answer the transport reads.
const maxAnswerBytes = 64 << 10

// statusTransport sits between analytics-go and the network: it bounds
// each attempt by a timeout and, when aware, honours Retry-After and stops
// the retries of refused batches (see ClientConfig.StatusAware).
type statusTransport struct {
	base    http.RoundTripper
	timeout time.Duration
	aware   bool
	maxHold time.Duration
	now     func() time.Time
	refuse  func(ids []string, status int, body string)

	mu   sync.Mutex
	hold time.Time // no batch is sent before this time
}

// held is how long batches are still held by a Retry-After.
func (t *statusTransport) held() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return max(0, t.hold.Sub(t.now()))
}

// holdFor holds every batch for d (capped) from now.
func (t *statusTransport) holdFor(d time.Duration) {
	d = min(d, t.maxHold)
	t.mu.Lock()
	defer t.mu.Unlock()
	if until := t.now().Add(d); until.After(t.hold) {
		t.hold = until
	}
}

// RoundTrip sends one attempt of a batch. The answer's body is read here,
// within the attempt's timeout, and handed on in memory.
func (t *statusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.aware {
		if d := t.held(); d > 0 {
			return answer(req, http.StatusTooManyRequests, `{"success":false,"error":"held by an earlier Retry-After"}`,
				http.Header{"Retry-After": {strconv.Itoa(int((d + time.Second - 1) / time.Second))}}), nil
		}
	}
	ctx, cancel := req.Context(), context.CancelFunc(func() {})
	if t.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, t.timeout)
	}
	defer cancel()
	res, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes))
	res.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	res.Body, res.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	if !t.aware {
		return res, nil
	}
	switch {
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable:
		if d, ok := parseRetryAfter(res.Header.Get("Retry-After"), t.now()); ok {
			t.holdFor(d)
		}
	case permanentStatus(res.StatusCode):
		ids, err := batchMessageIDs(req)
		if err != nil || len(ids) == 0 {
			return res, nil // cannot tell which messages: let analytics-go retry
		}
		t.refuse(ids, res.StatusCode, string(body))
		return answer(req, http.StatusOK, `{"success":true}`, nil), nil
	}
	return res, nil
}

// answer builds a response the transport gives instead of the endpoint's.
func answer(req *http.Request, status int, body string, h http.Header) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, 24*3600)) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(0, at.Sub(now)), true
	}
	return 0, false
}

// batchMessageIDs reads the messageIds of a /v1/batch request body.
func batchMessageIDs(req *http.Request) ([]string, error) {
	if req.GetBody == nil {
		return nil, errors.New("request body cannot be re-read")
	}
	rc, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("re-read request body: %w", err)
	}
	defer rc.Close()
	var b struct {
		Batch []struct {
			MessageID string `json:"messageId"`
		} `json:"batch"`
	}
	if err := json.NewDecoder(rc).Decode(&b); err != nil {
		return nil, fmt.Errorf("decode batch: %w", err)
	}
	ids := make([]string, 0, len(b.Batch))
	for _, m := range b.Batch {
		if m.MessageID == "" {
			return nil, errors.New("batch message without messageId")
		}
		ids = append(ids, m.MessageID)
	}
	return ids, nil
}

// keyRedactor replaces a write key in text, as itself and in the forms it
// takes on the wire: the Basic credentials "key:" base64-encoded (with and
// without padding).
func keyRedactor(key string) *strings.Replacer {
	if key == "" {
		return strings.NewReplacer()
	}
	basic := base64.StdEncoding.EncodeToString([]byte(key + ":"))
	return strings.NewReplacer(key, "[write key]", basic, "[write key]", strings.TrimRight(basic, "="), "[write key]")
}
