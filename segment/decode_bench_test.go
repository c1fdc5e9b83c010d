package segment

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchBody is a batch of 250 Segment-shaped track calls as analytics-go
// sends them (~600 bytes each).
func benchBody() []byte {
	items := make([]string, 250)
	for i := range items {
		items[i] = fmt.Sprintf(`{"type":"track","messageId":"6f1c%04d-9a2b-4c1d-8e3f-0a1b2c3d4e5f","userId":"usr_%06d","event":"Report Exported",`+
			`"timestamp":"2026-11-01T10:00:%02d.123456789Z","context":{"groupId":"acct_%05d","library":{"name":"analytics-go","version":"3.0.0"}},`+
			`"properties":{"format":"csv","row_count":%d,"report_id":"rep_%d","report_name":"Weekly revenue by region","filters":{"region":"emea","period":"last_7_days"},"tags":["finance","weekly"]}}`,
			i, i*7, i%60, i%100, i*13, i)
	}
	return []byte(`{"messageId":"b1","sentAt":"2026-11-01T10:00:59Z","batch":[` + strings.Join(items, ",") +
		`],"context":{"library":{"name":"analytics-go","version":"3.0.0"}}}`)
}

// BenchmarkDecodeBatch measures parsing and normalising one batch of 250.
func BenchmarkDecodeBatch(b *testing.B) {
	body := benchBody()
	l := DefaultLimits()
	now := time.Date(2026, 11, 1, 10, 1, 0, 0, time.UTC)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req, err := ParseBatch(body, l)
		if err != nil {
			b.Fatal(err)
		}
		msgs, rejs := req.Messages("web", now, l)
		if len(msgs) != 250 || len(rejs) != 0 {
			b.Fatalf("%d messages, %d rejections", len(msgs), len(rejs))
		}
	}
	b.ReportMetric(float64(b.N*250)/b.Elapsed().Seconds(), "msgs/s")
}
