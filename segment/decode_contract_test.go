package segment

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
)

// TestContractNonStringTimesAreBadTimestamp: a time field that is not a
// string (a Unix number, a boolean, an object) is rejected as
// bad_timestamp, as the README documents, not as malformed_message; the
// sample keeps the message as it was sent.
func TestContractNonStringTimesAreBadTimestamp(t *testing.T) {
	for _, tt := range []struct{ name, body string }{
		{"numeric timestamp", `{"type":"track","userId":"u","event":"X","timestamp":1733212800}`},
		{"numeric timestamp in ms", `{"type":"track","userId":"u","event":"X","timestamp":1733212800000}`},
		{"boolean timestamp", `{"type":"track","userId":"u","event":"X","timestamp":true}`},
		{"object timestamp", `{"type":"track","userId":"u","event":"X","timestamp":{"s":1}}`},
		{"numeric originalTimestamp", `{"type":"track","userId":"u","event":"X","originalTimestamp":1733212800}`},
		{"numeric sentAt", `{"type":"track","userId":"u","event":"X","originalTimestamp":"2026-11-02T09:00:00Z","sentAt":1733212800}`},
		{"numeric receivedAt", `{"type":"track","userId":"u","event":"X","receivedAt":1733212800}`},
		{"numeric timestamp with a string one elsewhere", `{"type":"page","userId":"u","sentAt":"2026-11-02T09:00:00Z","timestamp":1733212800}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, reason := decodeOne(t, tt.body); reason != ReasonBadTimestamp {
				t.Errorf("reason = %q; want %q", reason, ReasonBadTimestamp)
			}
			req, err := ParseSingle([]byte(tt.body), "", DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			_, rejs := req.Messages("web", recv, DefaultLimits())
			if len(rejs) != 1 || rejs[0].Reason != ReasonBadTimestamp {
				t.Fatalf("single call: rejections %+v", rejs)
			}
			if string(rejs[0].Sample) != tt.body {
				t.Errorf("sample = %s; want the message intact: %s", rejs[0].Sample, tt.body)
			}
		})
	}
	// null stays "not set", as before.
	m, reason := decodeOne(t, `{"type":"track","userId":"u","event":"X","timestamp":null,"sentAt":null,"originalTimestamp":null,"receivedAt":null}`)
	if reason != "" || !m.Timestamp.Equal(recv) {
		t.Errorf("null times: %v %q", m, reason)
	}
	// Everything else that is malformed stays malformed_message.
	if _, reason := decodeOne(t, `{"type":"track","userId":"u","event":7,"timestamp":1733212800}`); reason != ReasonMalformed {
		t.Errorf("event 7: reason = %q; want %q", reason, ReasonMalformed)
	}
}

// TestContractBatchSentAtNotAString: a batch whose sentAt is a number is not
// refused as a whole; its messages are rejected as bad_timestamp, each with
// its own sample.
func TestContractBatchSentAtNotAString(t *testing.T) {
	req, err := ParseBatch([]byte(`{"sentAt":1733212800,"batch":[{"type":"track","userId":"u","event":"A"},{"type":"track","userId":"u","event":"B"}]}`), DefaultLimits())
	if err != nil {
		t.Fatalf("ParseBatch: %v", err)
	}
	msgs, rejs := req.Messages("web", recv, DefaultLimits())
	if len(msgs) != 0 || len(rejs) != 2 {
		t.Fatalf("%d messages, %d rejections", len(msgs), len(rejs))
	}
	for _, r := range rejs {
		if r.Reason != ReasonBadTimestamp || !strings.Contains(string(r.Sample), `"event":"`) {
			t.Errorf("rejection %s: %s", r.Reason, r.Sample)
		}
	}
}

// TestContractArchiveArrivalIsSentAt: in an archive (KeepReceivedAt), a
// message with sentAt but no receivedAt arrived at sentAt, not at the
// import's clock: timestamp = sentAt − (sentAt − originalTimestamp).
func TestContractArchiveArrivalIsSentAt(t *testing.T) {
	importClock := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	orig := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	sent := orig.Add(30 * time.Second)
	recvAt := time.Date(2026, 11, 2, 9, 0, 40, 0, time.UTC)
	ts := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name               string
		line               string
		wantTime, wantRecv time.Time
	}{
		{"message sentAt",
			`{"type":"track","userId":"u","event":"E","originalTimestamp":"2026-11-02T09:00:00Z","sentAt":"2026-11-02T09:00:30Z"}`,
			orig, sent},
		{"batch sentAt",
			`{"sentAt":"2026-11-02T09:00:30Z","batch":[{"type":"track","userId":"u","event":"E","originalTimestamp":"2026-11-02T09:00:00Z"}]}`,
			orig, sent},
		{"client timestamp, sentAt only",
			`{"type":"track","userId":"u","event":"E","timestamp":"2026-11-01T00:00:00Z","sentAt":"2026-11-02T09:00:30Z"}`,
			ts, sent},
		{"receivedAt wins",
			`{"type":"track","userId":"u","event":"E","originalTimestamp":"2026-11-02T09:00:00Z","sentAt":"2026-11-02T09:00:30Z","receivedAt":"2026-11-02T09:00:40Z"}`,
			recvAt.Add(-30 * time.Second), recvAt},
		{"neither: the import's clock",
			`{"type":"track","userId":"u","event":"E"}`,
			importClock, importClock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &NDJSON{Source: "import", Now: func() time.Time { return importClock }}
			var got []*trackplan.Message
			if _, err := n.Read(strings.NewReader(tt.line+"\n"), func(msgs []*trackplan.Message, rejs []trackplan.Rejection) error {
				if len(rejs) > 0 {
					t.Errorf("rejected: %s", rejs[0].Reason)
				}
				got = append(got, msgs...)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%d messages", len(got))
			}
			if !got[0].Timestamp.Equal(tt.wantTime) || !got[0].ReceivedAt.Equal(tt.wantRecv) {
				t.Errorf("timestamp %s, receivedAt %s; want %s, %s", got[0].Timestamp, got[0].ReceivedAt, tt.wantTime, tt.wantRecv)
			}
		})
	}
	// The collector still times arrival by its own clock.
	m, reason := decodeOne(t, `{"type":"track","userId":"u","event":"E","originalTimestamp":"2026-11-02T09:00:00Z","sentAt":"2026-11-02T09:00:30Z"}`)
	if reason != "" || !m.ReceivedAt.Equal(recv) || !m.Timestamp.Equal(recv.Add(-30*time.Second)) {
		t.Errorf("collector: %v %q", m, reason)
	}
	// An archived sentAt that is used as the arrival must parse.
	n := &NDJSON{Source: "import", Now: func() time.Time { return importClock }}
	var reasons []string
	n.Read(strings.NewReader(`{"type":"track","userId":"u","event":"E","timestamp":"2026-11-01T00:00:00Z","sentAt":"soon"}`+"\n"),
		func(_ []*trackplan.Message, rejs []trackplan.Rejection) error {
			for _, r := range rejs {
				reasons = append(reasons, r.Reason)
			}
			return nil
		})
	if len(reasons) != 1 || reasons[0] != ReasonBadTimestamp {
		t.Errorf("unparseable archived sentAt: %v", reasons)
	}
}

// TestContractPageNameIsAProperty: a page or screen call's name is part of
// its properties (as analytics.js sends it), so the check and the observed
// schema both see it under "name"; a properties.name the client set wins.
func TestContractPageNameIsAProperty(t *testing.T) {
	for _, tt := range []struct {
		body     string
		wantName string
		wantProp any
	}{
		{`{"type":"page","userId":"u","name":"Pricing","properties":{"path":"/pricing"}}`, "Pricing", "Pricing"},
		{`{"type":"screen","userId":"u","name":"Home"}`, "Home", "Home"},
		{`{"type":"page","userId":"u","name":"Pricing","properties":{"name":"pricing-v2"}}`, "Pricing", "pricing-v2"},
		{`{"type":"page","userId":"u","properties":{"name":"Pricing"}}`, "Pricing", "Pricing"},
	} {
		m, reason := decodeOne(t, tt.body)
		if reason != "" {
			t.Fatalf("%s: rejected %s", tt.body, reason)
		}
		if m.Name != tt.wantName || m.Properties["name"] != tt.wantProp {
			t.Errorf("%s: name %q, properties %v", tt.body, m.Name, m.Properties)
		}
		var raw map[string]any
		if err := json.Unmarshal(m.Raw, &raw); err != nil || raw["properties"] != nil && tt.body == `{"type":"screen","userId":"u","name":"Home"}` {
			t.Errorf("raw changed: %s", m.Raw)
		}
	}
	// Unnamed pages and track calls are left alone.
	m, _ := decodeOne(t, `{"type":"page","userId":"u","properties":{"path":"/"}}`)
	if _, ok := m.Properties["name"]; ok {
		t.Errorf("unnamed page got a name property: %v", m.Properties)
	}
	m, _ = decodeOne(t, `{"type":"track","userId":"u","event":"E","name":"x"}`)
	if m.Properties != nil {
		t.Errorf("track call got properties: %v", m.Properties)
	}
}
