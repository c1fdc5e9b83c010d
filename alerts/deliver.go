package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/trackplan/trackplan/internal/retryafter"
)

// Channel names.
const (
	ChannelSlack   = "slack"
	ChannelWebhook = "webhook"
)

// Signature headers of the generic webhook.
const (
	// TimestampHeader holds the Unix time (seconds) the body was signed at.
	TimestampHeader = "X-Trackplan-Timestamp"
	// SignatureHeader holds "sha256=" and the hex HMAC-SHA256, keyed by the
	// webhook secret, of the timestamp, a dot and the raw body.
	SignatureHeader = "X-Trackplan-Signature"
	// SignatureTolerance is how far a timestamp may be from the receiver's
	// clock before Verify refuses it as a replay.
	SignatureTolerance = 5 * time.Minute
)

// Sign returns the signature header's value for a body sent at ts.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a webhook delivery as a receiver should: the signature
// matches (compared in constant time) and the timestamp is within
// SignatureTolerance of now, so a captured request cannot be replayed
// later.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("bad or missing timestamp")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > SignatureTolerance || d < -SignatureTolerance {
		return fmt.Errorf("timestamp %s away from now: refused as a replay", d.Round(time.Second))
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature)) {
		return errors.New("signature does not match")
	}
	return nil
}

// Retry policy of a delivery.
const (
	maxAttempts = 5
	firstDelay  = 2 * time.Second
	maxDelay    = time.Minute
	// maxRetryAfter bounds how long a Retry-After is waited for; a longer
	// one fails the delivery (the next evaluation or digest tries again).
	maxRetryAfter = 5 * time.Minute
)

// httpError is a non-2xx answer.
type httpError struct {
	status     int
	body       string
	retryAfter time.Duration // from Retry-After, 0 when absent
}

func (e *httpError) Error() string {
	if e.body != "" {
		return fmt.Sprintf("HTTP %d: %s", e.status, e.body)
	}
	return fmt.Sprintf("HTTP %d", e.status)
}

// post sends one JSON body to a channel, retrying network errors, 429 and
// 5xx answers with exponential backoff (doubling from 2 s, at most 1 min)
// or, when the answer says so, after Retry-After. Errors never hold the
// URL (a webhook URL is a secret).
func (n *Notifier) post(ctx context.Context, channel, target string, body []byte, headers func() http.Header) error {
	delay := firstDelay
	var last error
	for attempt := 1; attempt <= n.tries; attempt++ {
		err := n.postOnce(ctx, target, body, headers)
		if err == nil {
			return nil
		}
		last = err
		wait := delay
		var he *httpError
		if errors.As(err, &he) {
			if he.status != http.StatusTooManyRequests && he.status < 500 {
				break // the request itself is wrong: retrying will not help
			}
			if he.retryAfter > 0 {
				if he.retryAfter > maxRetryAfter {
					last = fmt.Errorf("%w (Retry-After %s is too long to wait)", err, he.retryAfter)
					break
				}
				wait = he.retryAfter
			}
		}
		if ctx.Err() != nil || attempt == n.tries {
			break
		}
		n.log.Warn("alert delivery failed; retrying", "channel", channel, "attempt", attempt, "wait", wait, "err", err)
		if err := n.sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", channel, err)
		}
		delay = min(2*delay, maxDelay)
	}
	return fmt.Errorf("%s: %w", channel, last)
}

func (n *Notifier) postOnce(ctx context.Context, target string, body []byte, headers func() http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return errors.New("bad URL") // never the URL itself
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "trackplan-alerts")
	if headers != nil {
		for k, v := range headers() {
			req.Header[k] = v
		}
	}
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // a *url.Error repeats the URL
		}
		return fmt.Errorf("post: %s", scrub(err.Error(), target))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return &httpError{status: resp.StatusCode, body: scrub(strings.TrimSpace(string(snippet)), target),
		retryAfter: retryAfter(resp.Header.Get("Retry-After"), n.now())}
}

// scrub removes a secret URL, and its path, from a message.
func scrub(msg, target string) string {
	if target == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, target, "(url)")
	if u, err := url.Parse(target); err == nil && len(u.Path) > 1 {
		msg = strings.ReplaceAll(msg, u.Path, "(path)")
	}
	return msg
}

// retryAfter is the wait a Retry-After header asks for, 0 without one.
func retryAfter(v string, now time.Time) time.Duration {
	d, _ := retryafter.Parse(v, now)
	return d
}
