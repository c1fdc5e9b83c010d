package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/store"
)

// BenchBatch builds a batch shaped like SaaS traffic: 2,000 users in 200
// accounts, ten events, a few properties each; seq numbers the messageIds
// so batches never repeat one. Both stores' benchmarks use it, so their
// figures compare.
func BenchBatch(rng *rand.Rand, seq *int, n int) *store.Batch {
	events := []string{"Signed In", "Report Exported", "Dashboard Viewed", "Feature Used", "Invite Sent",
		"Report Created", "Integration Connected", "Signed Out", "Trial Started", "Account Added User"}
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	b := &store.Batch{Messages: make([]store.Checked, n)}
	for i := range b.Messages {
		*seq++
		user := rng.IntN(2000)
		props := map[string]any{"format": "csv", "row_count": float64(rng.IntN(1000)), "source": "web",
			"items": []any{map[string]any{"sku": "a"}}}
		m := &trackplan.Message{Source: "web", Type: trackplan.Track, MessageID: fmt.Sprint("m", *seq),
			UserID: fmt.Sprint("user-", user), GroupID: fmt.Sprint("acct-", user/10), Event: events[rng.IntN(len(events))],
			Timestamp: now.Add(time.Duration(rng.IntN(30*24)) * time.Hour), ReceivedAt: now, Properties: props}
		m.Raw, _ = json.Marshal(props)
		b.Messages[i] = store.Checked{Message: m}
	}
	return b
}

// BenchIngest measures one transaction per batch of size messages into st
// and reports messages per second.
func BenchIngest(b *testing.B, st store.Store, size int) {
	rng := rand.New(rand.NewPCG(1, 1))
	seq := 0
	batches := make([]*store.Batch, 0, 64)
	for range 64 {
		batches = append(batches, BenchBatch(rng, &seq, size))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := batches[i%len(batches)]
		if i >= len(batches) { // fresh ids so nothing is a duplicate
			batch = BenchBatch(rng, &seq, size)
		}
		if _, err := Ingest(context.Background(), st, time.Time{}, batch.Messages, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchAppend measures appends to the log alone, one transaction per batch
// of size messages (encoded by the caller, as the ingest pipeline does),
// and reports messages per second.
func BenchAppend(b *testing.B, st store.Store, size int) {
	rng := rand.New(rand.NewPCG(1, 1))
	seq := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		lb := &store.LogBatch{At: time.Now()}
		for _, c := range BenchBatch(rng, &seq, size).Messages {
			line, err := store.EncodeMessage(c.Message)
			if err != nil {
				b.Fatal(err)
			}
			lb.Messages = append(lb.Messages, c.Message)
			lb.Lines = append(lb.Lines, line)
		}
		b.StartTimer()
		if _, err := st.Append(context.Background(), lb); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchDerive fills the log with total messages, then measures deriving it
// in runs of run records (decode, no plan check, Apply), and reports
// records per second.
func BenchDerive(b *testing.B, st store.Store, total, run int) {
	rng := rand.New(rand.NewPCG(1, 1))
	seq := 0
	for seq < total {
		batch := BenchBatch(rng, &seq, 2500)
		lb := &store.LogBatch{}
		for _, c := range batch.Messages {
			lb.Messages = append(lb.Messages, c.Message)
		}
		if _, err := st.Append(context.Background(), lb); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := st.ResetDerived(context.Background()); err != nil {
			b.Fatal(err)
		}
		if _, err := derive.New(st, st, derive.Options{MaxRecords: run}).CatchUp(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*total)/b.Elapsed().Seconds(), "records/s")
}
