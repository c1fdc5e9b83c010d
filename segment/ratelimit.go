package segment

import (
	"math"
	"sync"
	"time"
)

// RateLimits bound the requests the collector takes, per write key and
// per client address (the connection's, not a header a client can forge):
// a token bucket each, refilled at Rate per second up to Burst. A request
// past a limit is answered 429 with Retry-After, before its body is read
// for the client limit. Zero rates turn a limit off.
type RateLimits struct {
	PerKey, PerClient     float64 // requests per second
	KeyBurst, ClientBurst int     // requests at once; default 2 s of the rate
}

// DefaultRateLimits are far above real traffic (a browser sends a batch
// every few seconds; a server SDK a few per second per process, up to
// 2,500 messages each; a backfill through the HTTP API a few hundred) and
// stop one client or one leaked key from flooding the collector: 5,000
// requests/s per write key, 1,000 per client address.
func DefaultRateLimits() RateLimits {
	return RateLimits{PerKey: 5000, PerClient: 1000}
}

// maxBuckets bounds the limiter's memory: past it, buckets idle for a
// minute are dropped (a full bucket and a missing one are the same).
const maxBuckets = 100_000

// limiter is a set of token buckets by name.
type limiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	evicted time.Time // last eviction sweep
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	if rate <= 0 {
		return nil
	}
	b := float64(burst)
	if b <= 0 {
		b = math.Max(1, 2*rate)
	}
	return &limiter{rate: rate, burst: b, now: now, buckets: map[string]*bucket{}}
}

// allow takes a token for name, or says how long until one is there.
func (l *limiter) allow(name string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[name]
	if b == nil {
		if len(l.buckets) >= maxBuckets && now.Sub(l.evicted) >= time.Second {
			// At most one sweep a second: a flood of new clients must not
			// make every request scan the whole map.
			l.evict(now)
			l.evicted = now
		}
		if len(l.buckets) >= maxBuckets {
			// Still full of clients active within the minute: a new one
			// starts with a full bucket it does not keep.
			return true, 0
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[name] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// evict drops the buckets idle long enough to be full again.
func (l *limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.at) > time.Minute {
			delete(l.buckets, k)
		}
	}
}

// RateLimitedError is a request refused by a rate limit.
type RateLimitedError struct {
	Limit string // "write key" or "client"
	Retry time.Duration
}

func (e *RateLimitedError) Error() string { return "rate limited per " + e.Limit }
