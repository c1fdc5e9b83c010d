package forward

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
)

// TestOutgoing checks what a logged message is forwarded as, over the JSON
// shapes clients send: spacing, escaped keys, braces inside strings,
// duplicate keys, a context that is not an object, values already set.
func TestOutgoing(t *testing.T) {
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		raw  string
		want map[string]any
	}{
		{"single-call route", `{"userId":"u","event":"E"}`, map[string]any{"userId": "u", "event": "E", "type": "track",
			"messageId": "m1", "timestamp": "2026-11-02T09:00:00Z", "context": map[string]any{"ip": "203.0.113.7", "userAgent": "UA"}}},
		{"spacing and newlines", "{ \"type\" : \"track\" ,\n \"event\":\"E\", \"context\" : { } }", map[string]any{"type": "track", "event": "E",
			"messageId": "m1", "timestamp": "2026-11-02T09:00:00Z", "context": map[string]any{"ip": "203.0.113.7", "userAgent": "UA"}}},
		{"escaped key", `{"\u0074ype":"track","messageId":"own","timestamp":"2026-01-01T00:00:00Z","context":{"ip":"198.51.100.1","userAgent":"own"}}`,
			map[string]any{"type": "track", "messageId": "own", "timestamp": "2026-01-01T00:00:00Z", "context": map[string]any{"ip": "198.51.100.1", "userAgent": "own"}}},
		{"braces in strings", `{"type":"track","event":"a}b{","properties":{"q":"\"}]"},"messageId":"own","timestamp":"2026-01-01T00:00:00Z","context":{"note":"{"}}`,
			map[string]any{"type": "track", "event": "a}b{", "properties": map[string]any{"q": "\"}]"}, "messageId": "own", "timestamp": "2026-01-01T00:00:00Z",
				"context": map[string]any{"note": "{", "ip": "203.0.113.7", "userAgent": "UA"}}},
		{"empty ids are replaced", `{"type":"track","messageId":"","timestamp":null,"context":{"ip":null}}`, map[string]any{"type": "track",
			"messageId": "m1", "timestamp": "2026-11-02T09:00:00Z", "context": map[string]any{"ip": "203.0.113.7", "userAgent": "UA"}}},
		{"context not an object", `{"type":"track","messageId":"own","timestamp":"2026-01-01T00:00:00Z","context":"x"}`,
			map[string]any{"type": "track", "messageId": "own", "timestamp": "2026-01-01T00:00:00Z", "context": "x"}},
		{"big numbers kept", `{"type":"track","messageId":"own","timestamp":"2026-01-01T00:00:00Z","context":{},"properties":{"n":12345678901234567890123}}`,
			map[string]any{"type": "track", "messageId": "own", "timestamp": "2026-01-01T00:00:00Z", "context": map[string]any{"ip": "203.0.113.7", "userAgent": "UA"},
				"properties": map[string]any{"n": json.Number("12345678901234567890123")}}},
		{"null type and context", `{"type":null,"event":"E","messageId":"own","timestamp":"2026-01-01T00:00:00Z","context":null}`,
			map[string]any{"type": "track", "event": "E", "messageId": "own", "timestamp": "2026-01-01T00:00:00Z",
				"context": map[string]any{"ip": "203.0.113.7", "userAgent": "UA"}}},
		{"empty type", `{"type":"","event":"E","messageId":"own","timestamp":"2026-01-01T00:00:00Z","context":{"userAgent":""}}`,
			map[string]any{"type": "track", "event": "E", "messageId": "own", "timestamp": "2026-01-01T00:00:00Z",
				"context": map[string]any{"ip": "203.0.113.7", "userAgent": "UA"}}},
		{"empty object", `{}`, map[string]any{"type": "track", "messageId": "m1", "timestamp": "2026-11-02T09:00:00Z",
			"context": map[string]any{"ip": "203.0.113.7", "userAgent": "UA"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &trackplan.Message{Type: trackplan.Track, MessageID: "m1", Timestamp: at, Raw: []byte(tt.raw), ClientIP: "203.0.113.7", UserAgent: "UA"}
			out, err := outgoing(m, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(out) {
				t.Fatalf("not valid JSON: %s", out)
			}
			// A value is replaced where it stands: a decoder that keeps
			// the first of two members would read the empty one.
			for _, key := range []string{`"type"`, `"messageId"`, `"timestamp"`, `"context"`, `"ip"`, `"userAgent"`} {
				if n := bytes.Count(out, []byte(key+":")) + bytes.Count(out, []byte(key+" :")); n > 1 {
					t.Errorf("%s appears %d times in %s", key, n, out)
				}
			}
			var got map[string]any
			d := json.NewDecoder(bytes.NewReader(out))
			d.UseNumber()
			if err := d.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("outgoing(%s) (-want +got):\n%s\n%s", tt.raw, diff, out)
			}
		})
	}
	for _, bad := range []string{`[]`, `"x"`, `{"a" 1}`, ``} {
		if _, err := outgoing(&trackplan.Message{Raw: []byte(bad)}, nil); err == nil {
			t.Errorf("outgoing(%q) = nil error", bad)
		}
	}
}

// TestStrip removes unplanned paths, nested and in arrays.
func TestStrip(t *testing.T) {
	m := &trackplan.Message{Type: trackplan.Identify, MessageID: "m", Raw: []byte(`{"type":"identify","messageId":"m","timestamp":"2026-01-01T00:00:00Z",` +
		`"traits":{"email":"a@b.c","secret":1,"address":{"city":"X","code":"Y"},"tags":[{"k":1,"v":2}],"list":[1,2],` +
		`"a.b":1,"a":{"b":2},"m":[[{"k":1,"x":2}]],"odd\\key":3}}`)}
	out, err := outgoing(m, []string{"secret", "address.code", "tags[].v", "list[]", "missing.path", `a\.b`, "m[][].x", `odd\\key`})
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Traits map[string]any }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"email": "a@b.c", "address": map[string]any{"city": "X"}, "tags": []any{map[string]any{"k": 1.0}},
		"a": map[string]any{"b": 2.0}, "m": []any{[]any{map[string]any{"k": 1.0}}}}
	if diff := cmp.Diff(want, got.Traits); diff != "" {
		t.Errorf("stripped traits (-want +got):\n%s", diff)
	}
}

// TestBatchDefaults: the context and integrations of the batch that
// carried a message apply where the message does not set them.
func TestBatchDefaults(t *testing.T) {
	defaults := []byte(`{"context":{"library":{"name":"analytics-go","version":"3.0.0"},"locale":"fr"},"integrations":{"All":false,"Mixpanel":true}}`)
	tests := []struct {
		name, raw string
		want      map[string]any
	}{
		{"none set", `{"type":"track","messageId":"m","timestamp":"2026-01-01T00:00:00Z"}`, map[string]any{
			"type": "track", "messageId": "m", "timestamp": "2026-01-01T00:00:00Z",
			"context":      map[string]any{"library": map[string]any{"name": "analytics-go", "version": "3.0.0"}, "locale": "fr", "ip": "203.0.113.7"},
			"integrations": map[string]any{"All": false, "Mixpanel": true}}},
		{"the message's own win", `{"type":"track","messageId":"m","timestamp":"2026-01-01T00:00:00Z","context":{"locale":"de","ip":"198.51.100.1"},"integrations":{"All":true}}`, map[string]any{
			"type": "track", "messageId": "m", "timestamp": "2026-01-01T00:00:00Z",
			"context":      map[string]any{"library": map[string]any{"name": "analytics-go", "version": "3.0.0"}, "locale": "de", "ip": "198.51.100.1"},
			"integrations": map[string]any{"All": true, "Mixpanel": true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &trackplan.Message{Type: trackplan.Track, MessageID: "m", Raw: []byte(tt.raw), BatchDefaults: defaults, ClientIP: "203.0.113.7"}
			out, err := outgoing(m, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s\n%s", diff, out)
			}
		})
	}
}
