package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/postgres"
	"github.com/trackplan/trackplan/store/storetest"
)

func benchmarkIngest(b *testing.B, size int) {
	storetest.BenchIngest(b, open(b, freshSchema(b), store.DefaultLimits()), size)
}

// BenchmarkIngest measures one transaction per batch, at the batch sizes a
// single client (250) and grouped clients (2,500) produce.
func BenchmarkIngest(b *testing.B) {
	for _, size := range []int{250, 2500} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) { benchmarkIngest(b, size) })
	}
}

// BenchmarkAppendConcurrent measures two replicas sharing the database,
// each with two appending goroutines: b.N batches of 250 in all, every one
// taking its sequence numbers from the same log_state row.
func BenchmarkAppendConcurrent(b *testing.B) {
	const size, workers = 250, 4
	dsn := freshSchema(b)
	replicas := []*postgres.DB{open(b, dsn, store.DefaultLimits()), open(b, dsn, store.DefaultLimits())}
	rng := rand.New(rand.NewPCG(1, 1))
	seq := 0
	batches := make([]*store.LogBatch, b.N)
	for i := range batches {
		batches[i] = &store.LogBatch{}
		for _, c := range storetest.BenchBatch(rng, &seq, size).Messages {
			batches[i].Messages = append(batches[i].Messages, c.Message)
		}
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
				if _, err := db.Append(context.Background(), batches[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msgs/s")
}
