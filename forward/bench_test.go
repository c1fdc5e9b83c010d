package forward_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/forward"
	"github.com/trackplan/trackplan/forward/forwardtest"
	"github.com/trackplan/trackplan/store"
)

// BenchmarkForward measures forwarding from a SQLite log to a local sink
// that answers without parsing: reading and decoding the log, building each
// outgoing message, posting the batches and moving the cursor.
func BenchmarkForward(b *testing.B) {
	st := openStore(b)
	const perBlock, blocks = 500, 40
	for i := range blocks {
		msgs := make([]*trackplan.Message, perBlock)
		for j := range msgs {
			props := map[string]any{"plan": "pro", "seats": j, "items": []any{map[string]any{"sku": "a-1", "price": 9.5}}}
			m := msg("web", fmt.Sprintf("b%d-%d", i, j), "Order Completed", props)
			m.Raw = fmt.Appendf(nil, `{"type":"track","messageId":"b%d-%d","userId":"user-%d","event":"Order Completed","properties":{"plan":"pro","seats":%d,"items":[{"sku":"a-1","price":9.5}]},"context":{"library":{"name":"analytics-node","version":"2.1.0"},"page":{"url":"https://app.example.com/billing"}},"originalTimestamp":"2026-11-02T09:00:00Z","sentAt":"2026-11-02T09:00:01Z"}`, i, j, j, j)
			msgs[j] = m
		}
		if _, err := st.Append(context.Background(), &store.LogBatch{Messages: msgs, At: t0}); err != nil {
			b.Fatal(err)
		}
	}
	sink := forwardtest.NewSink("k")
	sink.SetNoParse(true)
	defer sink.Close()
	b.ResetTimer()
	for n := range b.N {
		source := fmt.Sprintf("run%d", n)
		// Each run forwards the whole log under a source name of its own.
		if _, err := st.ForwardStart(context.Background(), source, 0); err != nil {
			b.Fatal(err)
		}
		// Messages are of source "web": rename them by forwarding "web"
		// from a fresh cursor.
		if err := st.ForwardRetire(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		if _, err := st.ForwardStart(context.Background(), "web", 0); err != nil {
			b.Fatal(err)
		}
		f, err := forward.New(st, forward.Options{Sources: []forward.Source{{Name: "web", Endpoint: sink.URL, WriteKey: "k"}},
			Interval: time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); f.Run(ctx) }()
		for {
			ss, _ := st.ForwardStates(context.Background())
			if len(ss) == 1 && ss[0].Cursor == perBlock*blocks {
				break
			}
			time.Sleep(time.Millisecond)
		}
		cancel()
		<-done
	}
	b.ReportMetric(float64(perBlock*blocks*b.N)/b.Elapsed().Seconds(), "messages/s")
}
