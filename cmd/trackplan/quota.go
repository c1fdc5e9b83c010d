package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/store"
)

// logQuota keeps the event log under a size: a watcher measures the log
// every interval, and while it is at its quota the collector's submissions
// are refused with trackplan.ErrOverloaded (503: clients keep what they
// sent and retry), never silently dropped. A prune that frees room lifts it
// at the next measure.
type logQuota struct {
	next  segment.Ingester
	quota int64
	log   *slog.Logger

	mu    sync.Mutex
	bytes int64
	full  bool
}

// Submit refuses everything while the log is full.
func (q *logQuota) Submit(ctx context.Context, msgs []*trackplan.Message, rejs []trackplan.Rejection) error {
	q.mu.Lock()
	full := q.full
	q.mu.Unlock()
	if full {
		return fmt.Errorf("the event log is at its quota of %d MB: %w", q.quota>>20, trackplan.ErrOverloaded)
	}
	return q.next.Submit(ctx, msgs, rejs)
}

// state reports the last measure, for the metrics.
func (q *logQuota) state() (bytes, quota float64, full bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return float64(q.bytes), float64(q.quota), q.full
}

// measure reads the log's size and says so loudly when it crosses the
// quota either way.
func (q *logQuota) measure(ctx context.Context, st store.Log) {
	size, err := st.LogDiskBytes(ctx)
	if err != nil {
		q.log.Warn("could not measure the event log against its quota", "err", err)
		return
	}
	full := size >= q.quota
	q.mu.Lock()
	was := q.full
	q.bytes, q.full = size, full
	q.mu.Unlock()
	switch {
	case full && !was:
		q.log.Error("the event log reached its quota: the collector refuses new messages (503) until a prune frees room or the quota grows",
			"log_bytes", size, "quota_bytes", q.quota)
	case !full && was:
		q.log.Info("the event log is below its quota again: the collector takes messages", "log_bytes", size)
	}
}

// watch measures now and then every interval until ctx ends.
func (q *logQuota) watch(ctx context.Context, st store.Log, every time.Duration) {
	q.measure(ctx, st)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			q.measure(ctx, st)
		}
	}
}
