package main

import (
	"context"
	"strings"
	"testing"

	"github.com/trackplan/trackplan/store"
)

// TestHostileTimestampsAndIDs: a timestamp far in the future (year 10000
// in UTC) or before 2000 is taken as the receive time and counted, so the
// reports keep working; identical calls without a messageId are three
// events; a write key under another spelling never reaches the reservoir.
func TestHostileTimestampsAndIDs(t *testing.T) {
	ts := startTestServer(t, "")
	invoice := `{"type":"track","userId":"billing-job","event":"Invoice Paid","properties":{"amount":10}}`
	body := batch(
		`{"type":"group","userId":"u1","groupId":"g1","traits":{"name":"Forged"},"timestamp":"9999-12-31T23:59:59-23:59","messageId":"far"}`,
		`{"type":"track","userId":"u1","event":"Signed In","timestamp":"0000-01-01T00:00:00Z","messageId":"zero"}`,
		invoice, invoice, invoice,
		`{"WriteKey":"`+testKey+`","type":"track","userId":"u2","event":"Report Exported","messageId":"k1"}`,
		`{"write\u004bey":"`+testKey+`","type":"track","userId":"u2","event":"Report Exported","messageId":"k2"}`,
	)
	if got := ts.post(t, "/v1/batch", body, nil); got.status != 200 {
		t.Fatalf("batch: %d %s", got.status, got.body)
	}
	o := ts.observed(t)
	if o.Totals.Messages != 7 || o.Totals.ClampedTimestamps != 2 || o.Totals.Duplicates != 0 {
		t.Errorf("totals = %+v; want 7 messages (three Invoice Paid), 2 clamped timestamps, no duplicates", o.Totals)
	}
	msgs, err := ts.st.Reservoir(context.Background(), store.EventKey{Source: "web", Type: "track", Name: "Report Exported"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if strings.Contains(string(m), testKey) {
			t.Errorf("the write key reached the reservoir: %s", m)
		}
	}
}
