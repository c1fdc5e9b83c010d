package main

import (
	"math"
	"sync"
	"time"
)

// latencies is a log-bucketed histogram of request durations (about 5%
// resolution) for the collector's p50/p99 at shutdown and in benchmarks.
type latencies struct {
	mu      sync.Mutex
	buckets [600]int64
	n       int64
}

const latencyBase = 1.05

func (l *latencies) observe(d time.Duration) {
	us := float64(d.Microseconds())
	i := 0
	if us > 1 {
		i = min(int(math.Log(us)/math.Log(latencyBase)), len(l.buckets)-1)
	}
	l.mu.Lock()
	l.buckets[i]++
	l.n++
	l.mu.Unlock()
}

// quantile returns the upper bound of the bucket holding quantile q.
func (l *latencies) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(l.n)))
	var seen int64
	for i, c := range l.buckets {
		if seen += c; seen >= rank {
			return time.Duration(math.Pow(latencyBase, float64(i+1))) * time.Microsecond
		}
	}
	return 0
}

func (l *latencies) count() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}
