package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// benchBatch builds a batch shaped like SaaS traffic: 2,000 users in 200
// accounts, a dozen events, a few properties each. It is the SQLite store's
// benchmark batch, so the two stores' figures compare.
func benchBatch(rng *rand.Rand, seq *int, n int) *store.Batch {
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

func benchmarkIngest(b *testing.B, size int) {
	db := open(b, freshSchema(b), store.DefaultLimits())
	rng := rand.New(rand.NewPCG(1, 1))
	seq := 0
	batches := make([]*store.Batch, 0, 64)
	for range 64 {
		batches = append(batches, benchBatch(rng, &seq, size))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := batches[i%len(batches)]
		if i >= len(batches) { // fresh ids so nothing is a duplicate
			batch = benchBatch(rng, &seq, size)
		}
		if _, err := db.Ingest(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkIngest measures one transaction per batch, at the batch sizes a
// single client (250) and grouped clients (2,500) produce.
func BenchmarkIngest(b *testing.B) {
	for _, size := range []int{250, 2500} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) { benchmarkIngest(b, size) })
	}
}

// BenchmarkIngestConcurrent measures two replicas sharing the database,
// each with two ingesting goroutines, on the same traffic: b.N batches of
// 250 in all, every one on the same few hot event and counter rows.
func BenchmarkIngestConcurrent(b *testing.B) {
	const size, workers = 250, 4
	dsn := freshSchema(b)
	replicas := []*trackplanDB{{open(b, dsn, store.DefaultLimits())}, {open(b, dsn, store.DefaultLimits())}}
	rng := rand.New(rand.NewPCG(1, 1))
	seq := 0
	batches := make([]*store.Batch, b.N)
	for i := range batches {
		batches[i] = benchBatch(rng, &seq, size)
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	b.ResetTimer()
	for w := range workers {
		db := replicas[w%len(replicas)]
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batches) {
					return
				}
				if _, err := db.Ingest(context.Background(), batches[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msgs/s")
}
