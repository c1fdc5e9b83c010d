package main

import (
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCollectorBadInput sends every kind of bad input to a running
// collector: each gets the answer product.md prescribes, valid messages in
// the same batch are stored, and the server stays healthy.
func TestCollectorBadInput(t *testing.T) {
	const secret = "hook-secret"
	ts := startTestServer(t, secret)

	deep := strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000)
	var wide []string
	for i := range 20 { // 20 messages × 500 names = 10,000 distinct property names
		props := make([]string, 500)
		for j := range props {
			props[j] = fmt.Sprintf(`"p%05d":1`, i*500+j)
		}
		wide = append(wide, fmt.Sprintf(`{"type":"track","messageId":"wide-%d","userId":"u","event":"Wide Event","properties":{%s}}`, i, strings.Join(props, ",")))
	}
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zw.Write([]byte(`{"batch":[{"type":"track","userId":"u","event":"E","properties":{"x":"`))
	zw.Write(bytes.Repeat([]byte("0"), 50<<20))
	zw.Write([]byte(`"}}]}`))
	zw.Close()
	var small bytes.Buffer
	zw = gzip.NewWriter(&small)
	zw.Write(batch(msg("gz-ok", "")))
	zw.Close()
	hook := []byte(`{"type":"identify","userId":"hook-user","traits":{"email":"a@b.co"},"messageId":"hook-1"}`)
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(hook)
	goodSig := hex.EncodeToString(mac.Sum(nil))
	tooMany := make([]string, 2501)
	for i := range tooMany {
		tooMany[i] = msg(fmt.Sprint("many-", i), "")
	}

	tests := []struct {
		name   string
		path   string
		body   []byte
		header map[string]string
		status int
	}{
		{"malformed JSON", "/v1/batch", []byte(`{"batch":[{"type":`), nil, 400},
		{"not an object", "/v1/track", []byte(`[1,2]`), nil, 400},
		{"body over 500 KB", "/v1/batch", batch(msg("big", `,"properties":{"x":"`+strings.Repeat("y", 510<<10)+`"}`)), nil, 400},
		{"single message over 32 KB", "/v1/track", []byte(msg("big1", `,"properties":{"x":"`+strings.Repeat("y", 33<<10)+`"}`)), nil, 400},
		{"batch message over 32 KB, sibling kept", "/v1/batch", batch(msg("big2", `,"properties":{"x":"`+strings.Repeat("y", 33<<10)+`"}`), msg("ok-1", "")), nil, 200},
		{"batch over 2,500 messages", "/v1/batch", batch(tooMany...), nil, 400},
		{"unknown write key", "/v1/batch", batch(msg("k", "")), map[string]string{"Authorization": "Basic bm9wZTo="}, 401},
		{"no write key", "/v1/track", []byte(msg("nokey", "")), map[string]string{"Authorization": ""}, 401},
		{"write key in body", "/v1/track", []byte(`{"writeKey":"` + testKey + `","userId":"u-body","event":"Signed In","messageId":"ok-body"}`), map[string]string{"Authorization": ""}, 200},
		{"no userId or anonymousId, sibling kept", "/v1/batch", batch(`{"type":"track","event":"E","messageId":"noid"}`, msg("ok-2", "")), nil, 200},
		{"track without event", "/v1/batch", batch(`{"type":"track","userId":"u","messageId":"noev"}`, msg("ok-3", "")), nil, 200},
		{"unknown type", "/v1/batch", batch(`{"type":"purchase","userId":"u","messageId":"badtype"}`, msg("ok-4", "")), nil, 200},
		{"1,000 levels of nesting", "/v1/batch", batch(msg("deep", `,"properties":`+deep), msg("ok-5", "")), nil, 200},
		{"10,000 distinct property names", "/v1/batch", batch(wide...), nil, 200},
		{"invalid UTF-8, sibling kept", "/v1/batch", batch("{\"type\":\"track\",\"userId\":\"u\",\"event\":\"Bad \xff\",\"messageId\":\"utf\"}", msg("ok-6", "")), nil, 200},
		{"gzip bomb", "/v1/batch", bomb.Bytes(), map[string]string{"Content-Encoding": "gzip"}, 400},
		{"not gzip at all", "/v1/batch", []byte("plain"), map[string]string{"Content-Encoding": "gzip"}, 400},
		{"gzip body", "/v1/batch", small.Bytes(), map[string]string{"Content-Encoding": "gzip"}, 200},
		{"wrong webhook signature", "/webhook/segment", hook, map[string]string{"X-Signature": strings.Repeat("0", 40)}, 401},
		{"missing webhook signature", "/webhook/segment", hook, map[string]string{}, 401},
		{"right webhook signature", "/webhook/segment", hook, map[string]string{"X-Signature": goodSig}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ts.post(t, tt.path, tt.body, tt.header)
			if got.status != tt.status {
				t.Fatalf("status %d (%s); want %d", got.status, got.body, tt.status)
			}
			if got.status != 200 && !strings.Contains(got.body, `"error"`) {
				t.Errorf("error answer without a JSON error: %s", got.body)
			}
		})
	}

	// Healthy afterwards.
	if got := ts.post(t, "/v1/batch", batch(msg("after", "")), nil); got.status != 200 {
		t.Fatalf("after bad input: %d %s", got.status, got.body)
	}
	resp, err := http.Get(ts.url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	o := ts.observed(t)
	// Stored: ok-1..6, ok-body, 20 wide, gz-ok, hook-1, after.
	if o.Totals.Messages != 30 {
		t.Errorf("stored %d messages; want 30", o.Totals.Messages)
	}
	// The requests refused as a whole (400) with a known write key count
	// once each as bad_request; those without one are not stored.
	want := map[string]int64{
		"message_too_large": 1, "no_user_anon_id": 1, "missing_event": 1,
		"unknown_type": 1, "nesting_too_deep": 1, "invalid_utf8": 1, "bad_request": 7,
	}
	if diff := cmp.Diff(want, rejectionsByReason(o)); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
	for _, e := range o.Events {
		if e.Name == "Wide Event" && len(e.Properties) != 500 {
			t.Errorf("Wide Event stores %d paths; the guard allows 500", len(e.Properties))
		}
	}
	vs, err := ts.st.Verdicts(t.Context(), o.Events[0].FirstSeen.AddDate(-1, 0, 0), time.Now().AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var limited int64
	for k, v := range vs.Violations {
		if k.Code == "CARDINALITY_LIMIT" {
			limited += v.Count
		}
	}
	if limited != 19 {
		t.Errorf("CARDINALITY_LIMIT counted %d times; want 19 (every wide message after the first)", limited)
	}
}

// TestWebhookWithoutSecretNeedsWriteKey: with no webhook secret configured,
// the webhook endpoint is not open to anyone: it takes a write key.
func TestWebhookWithoutSecretNeedsWriteKey(t *testing.T) {
	ts := startTestServer(t, "")
	hook := []byte(`{"type":"track","userId":"u","event":"Signed In","messageId":"hook-open"}`)
	if got := ts.post(t, "/webhook/segment", hook, map[string]string{"Authorization": ""}); got.status != 401 {
		t.Errorf("unauthenticated webhook: %d; want 401", got.status)
	}
	if got := ts.post(t, "/webhook/segment", hook, nil); got.status != 200 {
		t.Errorf("webhook with the write key: %d %s", got.status, got.body)
	}
	if o := ts.observed(t); o.Totals.Messages != 1 || o.Events[0].Source != "web" {
		t.Errorf("observed %+v", o.Totals)
	}
}
