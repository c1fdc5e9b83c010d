package forward

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trackplan/trackplan/internal/retryafter"
)

// DefaultEndpoint is Segment's HTTP tracking API.
const DefaultEndpoint = "https://api.segment.io"

// Segment's limits on a batch request (its HTTP API documentation): 500 KB
// a batch, 32 KB a message. Batches stay a little under.
const (
	maxBatchBytes   = 480 << 10
	maxBatchRecords = 500
)

// sink posts batches to one destination.
type sink struct {
	url    string // {endpoint}/v1/batch
	auth   string // the Authorization header: Basic base64(writeKey:)
	client *http.Client
	now    func() time.Time
}

func newSink(endpoint, writeKey string, client *http.Client, now func() time.Time) *sink {
	return &sink{
		url:    strings.TrimSuffix(endpoint, "/") + "/v1/batch",
		auth:   "Basic " + base64.StdEncoding.EncodeToString([]byte(writeKey+":")),
		client: client,
		now:    now,
	}
}

// refusedError is a destination's 400 or 413: the batch, or a message in
// it, is not acceptable, and sending it again would not help.
type refusedError struct {
	status int
	body   string
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("destination refused the batch: %d %s", e.status, e.body)
}

// retryError is an answer worth retrying later (429, 5xx, an auth error
// an operator can fix), with the wait the destination asked for, if any.
type retryError struct {
	status int
	body   string
	after  time.Duration
}

func (e *retryError) Error() string {
	return fmt.Sprintf("destination answered %d %s", e.status, e.body)
}

// send posts one batch. The error is a *refusedError, a *retryError, or a
// transport error (retried too).
func (s *sink) send(ctx context.Context, msgs []json.RawMessage) error {
	var body bytes.Buffer
	body.WriteString(`{"batch":[`)
	for i, m := range msgs {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(m)
	}
	body.WriteString(`],"sentAt":`)
	body.Write(jsonString(s.now().UTC().Format(time.RFC3339Nano)))
	body.WriteString(`}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, &body)
	if err != nil {
		return fmt.Errorf("build batch request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", s.auth)
	req.Header.Set("User-Agent", "trackplan-forwarder")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("post batch: %w", redactURL(err))
	}
	defer resp.Body.Close()
	text := answer(resp.Body)
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge:
		return &refusedError{status: resp.StatusCode, body: text}
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		// Not followed (a POST redirected becomes a GET without the
		// batch, whose 200 would acknowledge nothing): the endpoint is to
		// be fixed.
		return &retryError{status: resp.StatusCode, body: "redirected to " + redactLocation(resp.Header.Get("Location")) + ": set forward.endpoint to where it leads"}
	default:
		return &retryError{status: resp.StatusCode, body: text, after: retryAfter(resp.Header.Get("Retry-After"), s.now())}
	}
}

// answer reads the start of a response body as one printable line: enough
// to say what was wrong, never a flood in a log line.
func answer(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 512))
	io.Copy(io.Discard, io.LimitReader(r, 1<<20)) // so the connection is reused
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if utf8.RuneCountInString(s) > 200 {
		s = string([]rune(s)[:200]) + "…"
	}
	return s
}

// redactURL keeps a transport error's cause and the destination's host,
// never its full URL.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		host := ue.URL
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Host
		}
		return fmt.Errorf("%s: %w", host, ue.Err)
	}
	return err
}

// redactLocation keeps a redirect's scheme, host and path.
func redactLocation(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return "an unreadable location"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// retryAfter is the wait a Retry-After header asks for, 0 without one.
func retryAfter(v string, now time.Time) time.Duration {
	d, _ := retryafter.Parse(v, now)
	return d
}
