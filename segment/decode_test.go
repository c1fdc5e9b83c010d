package segment

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
)

var recv = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

func decodeOne(t *testing.T, body string) (*trackplan.Message, string) {
	t.Helper()
	req, err := ParseBatch([]byte(`{"batch":[`+body+`]}`), DefaultLimits())
	if err != nil {
		t.Fatalf("ParseBatch: %v", err)
	}
	msgs, rejs := req.Messages("web", recv, DefaultLimits())
	switch {
	case len(msgs) == 1 && len(rejs) == 0:
		return msgs[0], ""
	case len(msgs) == 0 && len(rejs) == 1:
		return nil, rejs[0].Reason
	}
	t.Fatalf("got %d messages and %d rejections", len(msgs), len(rejs))
	return nil, ""
}

func TestDecodeRejections(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100)
	tests := []struct {
		name, body, reason string
	}{
		{"no ids", `{"type":"track","event":"X"}`, ReasonNoID},
		{"empty ids", `{"type":"track","event":"X","userId":"","anonymousId":null}`, ReasonNoID},
		{"track without event", `{"type":"track","userId":"u"}`, ReasonMissingEvent},
		{"group without groupId", `{"type":"group","userId":"u"}`, ReasonMissingGroupID},
		{"alias without previousId", `{"type":"alias","userId":"u"}`, ReasonMissingPrevious},
		{"unknown type", `{"type":"delete","userId":"u"}`, ReasonUnknownType},
		{"missing type", `{"userId":"u","event":"X"}`, ReasonUnknownType},
		{"bad timestamp", `{"type":"track","userId":"u","event":"X","timestamp":"yesterday"}`, ReasonBadTimestamp},
		{"bad originalTimestamp", `{"type":"track","userId":"u","event":"X","originalTimestamp":"12"}`, ReasonBadTimestamp},
		{"properties not an object", `{"type":"track","userId":"u","event":"X","properties":[1]}`, ReasonMalformed},
		{"event not a string", `{"type":"track","userId":"u","event":7}`, ReasonMalformed},
		{"userId an object", `{"type":"track","userId":{"id":1},"event":"X"}`, ReasonMalformed},
		{"too deep", `{"type":"track","userId":"u","event":"X","properties":` + deep + `}`, ReasonTooDeep},
		{"too large", `{"type":"track","userId":"u","event":"X","properties":{"p":"` + strings.Repeat("x", 33<<10) + `"}}`, ReasonTooLarge},
		{"invalid utf-8", "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"X\xff\xfe\"}", ReasonInvalidUTF8},
		{"userId too long", `{"type":"track","userId":"` + strings.Repeat("u", 513) + `","event":"X"}`, ReasonTooLong},
		{"anonymousId too long", `{"type":"track","anonymousId":"` + strings.Repeat("a", 3000) + `","event":"X"}`, ReasonTooLong},
		{"messageId too long", `{"type":"track","userId":"u","event":"X","messageId":"` + strings.Repeat("m", 513) + `"}`, ReasonTooLong},
		{"groupId too long", `{"type":"group","userId":"u","groupId":"` + strings.Repeat("g", 513) + `"}`, ReasonTooLong},
		{"context.groupId too long", `{"type":"track","userId":"u","event":"X","context":{"groupId":"` + strings.Repeat("g", 513) + `"}}`, ReasonTooLong},
		{"previousId too long", `{"type":"alias","userId":"u","previousId":"` + strings.Repeat("p", 513) + `"}`, ReasonTooLong},
		{"event name too long", `{"type":"track","userId":"u","event":"` + strings.Repeat("e", 257) + `"}`, ReasonTooLong},
		{"page name too long", `{"type":"page","userId":"u","name":"` + strings.Repeat("n", 257) + `"}`, ReasonTooLong},
		{"property key too long", `{"type":"track","userId":"u","event":"X","properties":{"` + strings.Repeat("k", 2800) + `":1}}`, ReasonTooLong},
		{"nested key too long", `{"type":"track","userId":"u","event":"X","properties":{"a":[{"` + strings.Repeat("k", 257) + `":1}]}}`, ReasonTooLong},
		{"number out of range", `{"type":"track","userId":"u","event":"X","properties":{"n":1e400}}`, ReasonNumberRange},
		{"nested number out of range", `{"type":"identify","userId":"u","traits":{"a":[{"b":-1e999}]}}`, ReasonNumberRange},
		{"trait key too long", `{"type":"identify","userId":"u","traits":{"` + strings.Repeat("k", 257) + `":1}}`, ReasonTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, reason := decodeOne(t, tt.body); reason != tt.reason {
				t.Errorf("reason = %q; want %q", reason, tt.reason)
			}
		})
	}
}

func TestDecodeNormalises(t *testing.T) {
	tests := []struct {
		name string
		body string
		want trackplan.Message
	}{
		{
			name: "client timestamp wins",
			body: `{"type":"track","userId":"u","event":"Signed In","timestamp":"2026-10-01T00:00:00Z","originalTimestamp":"2026-01-01T00:00:00Z","sentAt":"2026-01-01T00:00:05Z","context":{"groupId":"acme"},"messageId":"m1"}`,
			want: trackplan.Message{Type: trackplan.Track, UserID: "u", Event: "Signed In", GroupID: "acme", MessageID: "m1",
				Timestamp: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)},
		},
		{
			name: "skew corrected: receivedAt − (sentAt − originalTimestamp)",
			body: `{"type":"track","userId":"u","event":"Signed In","originalTimestamp":"2026-11-02T09:00:00Z","sentAt":"2026-11-02T09:00:30Z"}`,
			want: trackplan.Message{Type: trackplan.Track, UserID: "u", Event: "Signed In", Timestamp: recv.Add(-30 * time.Second)},
		},
		{
			name: "no time at all: receivedAt",
			body: `{"type":"identify","anonymousId":"a1","traits":{"plan":"pro"}}`,
			want: trackplan.Message{Type: trackplan.Identify, AnonymousID: "a1", Traits: map[string]any{"plan": "pro"}, Timestamp: recv},
		},
		{
			name: "numeric user id kept as text",
			body: `{"type":"group","userId":42,"groupId":7,"traits":{"name":"Acme"},"timestamp":"2026-11-01T00:00:00Z"}`,
			want: trackplan.Message{Type: trackplan.Group, UserID: "42", GroupID: "7", Traits: map[string]any{"name": "Acme"},
				Timestamp: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		},
		{
			name: "page named from properties",
			body: `{"type":"page","userId":"u","properties":{"name":"Pricing","path":"/pricing"}}`,
			want: trackplan.Message{Type: trackplan.Page, UserID: "u", Name: "Pricing",
				Properties: map[string]any{"name": "Pricing", "path": "/pricing"}, Timestamp: recv},
		},
		{
			name: "alias",
			body: `{"type":"alias","userId":"u","previousId":"anon-1"}`,
			want: trackplan.Message{Type: trackplan.Alias, UserID: "u", PreviousID: "anon-1", Timestamp: recv},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := decodeOne(t, tt.body)
			if reason != "" {
				t.Fatalf("rejected: %s", reason)
			}
			tt.want.Source, tt.want.ReceivedAt, tt.want.Raw = "web", recv, got.Raw
			if tt.want.MessageID == "" {
				// A message without an id gets one of the server's.
				if !strings.HasPrefix(got.MessageID, "trackplan-") || len(got.MessageID) != len("trackplan-")+32 {
					t.Errorf("assigned messageId = %q", got.MessageID)
				}
				tt.want.MessageID = got.MessageID
			}
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseBatchLimits(t *testing.T) {
	l := DefaultLimits()
	l.MaxBatchMessages = 2
	tests := []struct{ name, body string }{
		{"not json", `{"batch":`},
		{"no batch", `{"messages":[]}`},
		{"batch not an array", `{"batch":{}}`},
		{"over the message count", `{"batch":[{},{},{}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseBatch([]byte(tt.body), l); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestBatchContextGroupApplies(t *testing.T) {
	req, err := ParseBatch([]byte(`{"context":{"groupId":"g1"},"sentAt":"2026-11-02T09:59:00Z","batch":[
		{"type":"track","userId":"u","event":"A","originalTimestamp":"2026-11-02T09:58:00Z"},
		{"type":"track","userId":"u","event":"B","context":{"groupId":"g2"}}]}`), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := req.Messages("web", recv, DefaultLimits())
	if msgs[0].GroupID != "g1" || msgs[1].GroupID != "g2" {
		t.Errorf("groups = %q, %q", msgs[0].GroupID, msgs[1].GroupID)
	}
	if want := recv.Add(-time.Minute); !msgs[0].Timestamp.Equal(want) {
		t.Errorf("batch sentAt not applied: %v, want %v", msgs[0].Timestamp, want)
	}
}

func TestWriteKeyNeverKept(t *testing.T) {
	body := []byte(`{"writeKey":"wk-secret-1","type":"track","userId":"u","event":"E","properties":{"a":1}}`)
	req, err := ParseSingle(body, trackplan.Track, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := req.Messages("web", recv, DefaultLimits())
	if len(msgs) != 1 || strings.Contains(string(msgs[0].Raw), "wk-secret-1") {
		t.Fatalf("raw keeps the write key: %s", msgs[0].Raw)
	}
	bad := []byte(`{"writeKey":"wk-secret-2","type":"track","userId":"u"}`) // no event: rejected
	req, _ = ParseSingle(bad, trackplan.Track, DefaultLimits())
	_, rejs := req.Messages("web", recv, DefaultLimits())
	if len(rejs) != 1 || strings.Contains(string(rejs[0].Sample), "wk-secret-2") {
		t.Fatalf("rejection sample keeps the write key: %s", rejs[0].Sample)
	}
}

// TestDecodeBounds: the longest accepted ids, names and keys, and times
// outside [2000, received + 1 day] replaced by the receive time.
func TestDecodeBounds(t *testing.T) {
	ok := `{"type":"track","userId":"` + strings.Repeat("u", 512) + `","event":"` + strings.Repeat("e", 256) +
		`","properties":{"` + strings.Repeat("k", 256) + `":1}}`
	if _, reason := decodeOne(t, ok); reason != "" {
		t.Errorf("ids of 512 bytes, names and keys of 256: rejected as %s", reason)
	}
	tests := []struct {
		name, timestamp string
		clamped         bool
	}{
		{"year 0", "0000-06-01T00:00:00Z", true},
		{"before 2000", "1999-12-31T23:59:59Z", true},
		{"2000 exactly", "2000-01-01T00:00:00Z", false},
		{"year 10000 in UTC", "9999-12-31T23:59:59-23:59", true},
		{"a day and a second ahead", recv.Add(24*time.Hour + time.Second).Format(time.RFC3339), true},
		{"a day ahead", recv.Add(24 * time.Hour).Format(time.RFC3339), false},
		{"an hour ago", recv.Add(-time.Hour).Format(time.RFC3339), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reason := decodeOne(t, `{"type":"group","userId":"u","groupId":"g","timestamp":"`+tt.timestamp+`"}`)
			if reason != "" {
				t.Fatalf("rejected as %s", reason)
			}
			if m.TimestampClamped != tt.clamped || tt.clamped && !m.Timestamp.Equal(recv) {
				t.Errorf("timestamp %s: clamped %v at %v; want clamped %v", tt.timestamp, m.TimestampClamped, m.Timestamp, tt.clamped)
			}
		})
	}
}

// TestDecodeAssignsMessageIDs: identical calls without a messageId are
// distinct messages, as Segment treats them.
func TestDecodeAssignsMessageIDs(t *testing.T) {
	call := `{"type":"track","userId":"job","event":"Invoice Paid","properties":{"amount":10}}`
	req, err := ParseBatch([]byte(`{"batch":[`+call+`,`+call+`,`+call+`]}`), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := req.Messages("web", recv, DefaultLimits())
	ids := map[string]bool{}
	for _, m := range msgs {
		ids[m.MessageID] = true
	}
	if len(msgs) != 3 || len(ids) != 3 {
		t.Errorf("%d messages with %d distinct ids; want 3 and 3", len(msgs), len(ids))
	}
}

// TestWriteKeySpellings: a write key under any spelling the decoders accept
// is stripped from the stored message and from a rejection's sample.
func TestWriteKeySpellings(t *testing.T) {
	// "write\u212aey" is the Kelvin sign, which Unicode case folding matches with k.
	for _, key := range []string{"writeKey", "WriteKey", "WRITEKEY", `write\u004bey`, `\u0077riteKey`, "write\u212aey"} {
		t.Run(key, func(t *testing.T) {
			good := `{"` + key + `":"wk-secret-9","type":"track","userId":"u","event":"E"}`
			bad := `{"` + key + `":"wk-secret-9","type":"track","userId":"u"}`
			req, err := ParseBatch([]byte(`{"batch":[`+good+`,`+bad+`]}`), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			msgs, rejs := req.Messages("web", recv, DefaultLimits())
			if len(msgs) != 1 || len(rejs) != 1 {
				t.Fatalf("%d messages, %d rejections", len(msgs), len(rejs))
			}
			for _, b := range [][]byte{msgs[0].Raw, rejs[0].Sample} {
				if strings.Contains(string(b), "wk-secret-9") {
					t.Errorf("the write key is kept: %s", b)
				}
			}
		})
	}
}

// TestDecodeNUL: a NUL anywhere becomes U+FFFD, on every store alike.
func TestDecodeNUL(t *testing.T) {
	m, reason := decodeOne(t, `{"type":"track","userId":"u\u0000x","event":"E\u0000","properties":{"k\u0000":"v\u0000","a":["\u0000"]}}`)
	if reason != "" {
		t.Fatalf("rejected: %s", reason)
	}
	want := map[string]any{"k\uFFFD": "v\uFFFD", "a": []any{"\uFFFD"}}
	if m.UserID != "u\uFFFDx" || m.Event != "E\uFFFD" || !reflect.DeepEqual(m.Properties, want) {
		t.Errorf("got %q %q %v", m.UserID, m.Event, m.Properties)
	}
}

func TestContainsFold(t *testing.T) {
	for in, want := range map[string]bool{
		`{"writeKey":"k"}`: true, `{"WRITEKEY":1}`: true, `writekey`: true, `xxWriTeKeY`: true,
		`{"write":"key"}`: false, `writeke`: false, ``: false, `wwwwritekex`: false, `{"wRiteKey"`: true,
	} {
		if got := containsFold([]byte(in), "writekey"); got != want {
			t.Errorf("containsFold(%q) = %v, want %v", in, got, want)
		}
	}
}

// naiveContainsFold compares at every byte: the baseline of
// BenchmarkContainsFold.
func naiveContainsFold(b []byte, w string) bool {
	for i := 0; i+len(w) <= len(b); i++ {
		if matchFold(b[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// BenchmarkContainsFold looks for a write key in a typical track message
// without one, as every decoded message is searched.
func BenchmarkContainsFold(b *testing.B) {
	msg := []byte(`{"type":"track","event":"Report Exported","userId":"user-0001234","anonymousId":"7f9c2e1a-3b4d-4e5f-8a9b-0c1d2e3f4a5b","properties":{"format":"csv","rows":1200,"report_id":"rep_88231","filters":[{"field":"plan","op":"eq","value":"pro"}]},"context":{"library":{"name":"analytics-go","version":"3.3.0"},"groupId":"acct-042"},"messageId":"0f8e7d6c-5b4a-4321-9f8e-7d6c5b4a3210","timestamp":"2026-11-20T10:00:00Z"}`)
	b.Run("naive", func(b *testing.B) {
		for b.Loop() {
			naiveContainsFold(msg, "writekey")
		}
	})
	b.Run("indexbyte", func(b *testing.B) {
		for b.Loop() {
			containsFold(msg, "writekey")
		}
	})
}

// TestBatchDefaults: a batch envelope's context and integrations objects
// go with each of its messages (for forwarding), without write keys; other
// shapes are not kept.
func TestBatchDefaults(t *testing.T) {
	item := `{"type":"track","userId":"u","event":"E"}`
	tests := []struct {
		name, envelope, want string
	}{
		{"none", ``, ``},
		{"context", `,"context":{"library":{"name":"analytics-go"},"groupId":"g1"}`, `{"context":{"library":{"name":"analytics-go"},"groupId":"g1"}}`},
		{"both", `,"context":{"a":1},"integrations":{"All":false}`, `{"context":{"a":1},"integrations":{"All":false}}`},
		{"not objects", `,"context":"x","integrations":[1]`, ``},
		{"write key inside", `,"context":{"writeKey":"secret-key","a":1}`, `{"context":{"a":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ParseBatch([]byte(`{"batch":[`+item+`]`+tt.envelope+`}`), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			msgs, _ := req.Messages("web", time.Now(), DefaultLimits())
			if len(msgs) != 1 {
				t.Fatalf("%d messages", len(msgs))
			}
			got := string(msgs[0].BatchDefaults)
			if tt.want == "" && got != "" || tt.want != "" && !jsonEqual(t, got, tt.want) {
				t.Errorf("BatchDefaults = %s; want %s", got, tt.want)
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}
