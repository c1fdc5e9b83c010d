package identity_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/trackplan/trackplan/identity"
)

// Population of BenchmarkResolve1M.
const (
	benchUsers   = 1_000_000
	benchAnon    = 2_000_000 // two devices per user
	benchAliases = 100_000
)

// benchLinks calls fn with the links of benchUsers users: two anonymous ids
// each (one in fifty seen with a second user too: a shared device), and
// benchAliases alias calls from an old userId to the current one.
func benchLinks(fn func(id, user string, at time.Time)) {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range benchAnon {
		u := i / 2
		anon := fmt.Sprintf("anon-%08d", i)
		fn(anon, fmt.Sprintf("user-%07d", u), t.Add(time.Duration(i)*time.Second))
		if i%50 == 0 {
			fn(anon, fmt.Sprintf("user-%07d", (u+1)%benchUsers), t.Add(time.Duration(i+1)*time.Second))
		}
	}
	for i := range benchAliases {
		fn(fmt.Sprintf("old-%07d", i), fmt.Sprintf("user-%07d", i*(benchUsers/benchAliases)), t)
	}
}

// BenchmarkResolve1M builds the graph of 1M users with 2M anonymous ids
// and 100k aliases and resolves every id, as a scoring run does before it
// loads rows; it reports the graph's retained heap.
func BenchmarkResolve1M(b *testing.B) {
	if testing.Short() {
		b.Skip("1M-user benchmark skipped in short mode")
	}
	var stats identity.Stats
	var heap uint64
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		g := identity.New(benchAnon + benchUsers + benchAliases)
		benchLinks(func(id, user string, at time.Time) { g.Add(id, user, at) })
		stats = g.Stats()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - before.HeapAlloc
		runtime.KeepAlive(g)
	}
	b.ReportMetric(float64(stats.IDs), "ids")
	b.ReportMetric(float64(stats.Merged), "merged")
	b.ReportMetric(float64(stats.Conflicts), "conflicts")
	b.ReportMetric(float64(heap)/(1<<20), "graph-heap-MB")
}
