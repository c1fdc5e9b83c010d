package scoring

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/identity"
)

// Synthetic population of BenchmarkScore1M.
const (
	benchUsers    = 1_000_000
	benchAccounts = 100_000
	benchEvents   = 30
	benchWindow   = 30
)

var benchAt = time.Date(2024, 6, 1, 3, 0, 0, 0, time.UTC)

func benchProfile() *trackplan.Profile {
	p := &trackplan.Profile{Name: "bench", Events: map[string]int{}, WindowDays: benchWindow,
		Activation: trackplan.Activation{Events: []string{"Event 00", "Event 05", "Event 20"}},
		Exclude:    trackplan.Exclusions{EmailDomains: []string{"internal.example"}},
	}
	for e := range benchEvents {
		p.Events[fmt.Sprintf("Event %02d", e)] = 1 + e%10
	}
	return p
}

// generate feeds a synthetic, skewed population to b the way a store would
// (rows grouped by user): for the benchmark, 1,000,000 users in 100,000
// accounts (sizes skewed
// towards low account numbers, 5% of users in two), 30 scored events with
// Zipf popularity, two 30-day time frames of daily rollups where 35% of the
// users are dormant and the others are active on an exponentially
// distributed number of days, and all-time rollups for every user.
//
// With anon set, each user also has two anonymous ids (user-N's are
// anon-2N and anon-2N+1) and their days alternate between the user id and
// the first anonymous id, as a visitor's activity before sign-up would; the
// builder must resolve them (see benchGraph).
func generate(tb testing.TB, b *Builder, spec Spec, users, accounts int, anon bool) {
	tb.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	// Event e is drawn with probability ∝ 1/(e+1)^1.3, by inverting the
	// cumulative distribution.
	var cdf [benchEvents]float64
	for e := range cdf {
		cdf[e] = 1 / math.Pow(float64(e+1), 1.3)
		if e > 0 {
			cdf[e] += cdf[e-1]
		}
	}
	zipf := func() int {
		x := r.Float64() * cdf[benchEvents-1]
		e, _ := slices.BinarySearch(cdf[:], x)
		return min(e, benchEvents-1)
	}
	events := make([]string, benchEvents)
	for e := range events {
		events[e] = fmt.Sprintf("Event %02d", e)
	}
	days := int(spec.To.Sub(spec.From) / (24 * time.Hour))
	check := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	for a := range accounts {
		id := fmt.Sprintf("acct-%06d", a)
		check(b.AddAccountTrait(id, "name", json.RawMessage(fmt.Sprintf(`"Company %d"`, a))))
		check(b.AddAccountTrait(id, "created_at", json.RawMessage(fmt.Sprintf(`"%s"`, benchAt.AddDate(0, 0, -r.IntN(1000)).Format(time.RFC3339)))))
	}
	account := func() string {
		f := r.Float64()
		return fmt.Sprintf("acct-%06d", int(f*f*float64(accounts)))
	}
	var count [benchEvents]int64
	for u := range users {
		id := fmt.Sprintf("user-%07d", u)
		created := benchAt.Add(-time.Duration(r.IntN(900*24)) * time.Hour)
		check(b.AddUser(id, created, benchAt.Add(-time.Duration(r.IntN(120*24))*time.Hour)))
		check(b.AddMembership(id, account()))
		if r.IntN(20) == 0 {
			check(b.AddMembership(id, account()))
		}
		domain := "example.com"
		if r.IntN(1000) == 0 {
			domain = "internal.example"
		}
		check(b.AddUserTrait(id, "email", json.RawMessage(fmt.Sprintf(`"%s@%s"`, id, domain)), created))
		check(b.AddUserTrait(id, "created_at", json.RawMessage(fmt.Sprintf(`"%s"`, created.Format(time.RFC3339))), created))

		// All-time rollups: a few events, popular ones first.
		for range 1 + r.IntN(8) {
			e := zipf()
			first := created.Add(time.Duration(r.IntN(24)) * time.Hour)
			check(b.AddTotal(id, events[e], first, first.Add(time.Duration(r.IntN(100*24))*time.Hour)))
		}
		if r.IntN(100) < 35 {
			continue // dormant
		}
		active := min(days, 1+int(r.ExpFloat64()*9))
		rowID := id
		if anon {
			check(b.AddUser(fmt.Sprintf("anon-%08d", 2*u), created, created))
		}
		for i := range active {
			if anon && i%2 == 1 {
				rowID = fmt.Sprintf("anon-%08d", 2*u)
			} else {
				rowID = id
			}
			day := spec.From.AddDate(0, 0, r.IntN(days))
			clear(count[:])
			for range 1 + int(r.ExpFloat64()*2.5) {
				count[zipf()] += 1 + int64(r.ExpFloat64()*3)
			}
			for e, n := range count {
				if n > 0 {
					check(b.AddDaily(rowID, events[e], day, n))
				}
			}
		}
	}
}

func benchInput(tb testing.TB, withIdentity bool) *Input {
	spec := SpecFor(benchAt, "", "", benchProfile())
	b, err := NewBuilder(spec)
	if err != nil {
		tb.Fatal(err)
	}
	if withIdentity {
		b.Resolve(benchGraph(benchUsers))
	}
	generate(tb, b, spec, benchUsers, benchAccounts, withIdentity)
	return b.Input()
}

// benchGraph links two anonymous ids to each of users users (anon-2N and
// anon-2N+1 to user-N) and has users/10 aliases from an old id (old-N to
// user-10N): 2M anonymous ids and 100k aliases for a million users.
func benchGraph(users int) *identity.Graph {
	g := identity.New(3*users + users/10)
	for i := range 2 * users {
		g.Add(fmt.Sprintf("anon-%08d", i), fmt.Sprintf("user-%07d", i/2), benchAt)
	}
	for i := range users / 10 {
		g.Add(fmt.Sprintf("old-%07d", i), fmt.Sprintf("user-%07d", 10*i), benchAt)
	}
	g.Stats() // resolve once
	return g
}

// peakHeap samples the live heap every 10 ms until stop is called and
// returns the highest sample in bytes.
func peakHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var (
		mu   sync.Mutex
		peak uint64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	read := func() {
		metrics.Read(sample)
		mu.Lock()
		peak = max(peak, sample[0].Value.Uint64())
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() uint64 {
		read()
		close(done)
		wg.Wait()
		return peak
	}
}

// BenchmarkScore1M scores a 30-day profile over 1,000,000 users in 100,000
// accounts with 30 scored events, the trend baseline included (computed from
// the 30 days before). "load" times generating the rows and building the
// Input through the Builder, as a store's rows would be; "score" times
// Score alone. Both report the peak live heap (peak-heap-MB) and the
// process's peak resident size (max-RSS-MB, where the platform tells).
func BenchmarkScore1M(b *testing.B) {
	if testing.Short() {
		b.Skip("1M-user benchmark skipped in short mode")
	}
	report := func(b *testing.B, peak uint64) {
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		if rss, ok := maxRSS(); ok {
			b.ReportMetric(float64(rss)/(1<<20), "max-RSS-MB")
		}
	}
	b.Run("load", func(b *testing.B) {
		runtime.GC()
		stop := peakHeap()
		var in *Input
		for b.Loop() {
			in = benchInput(b, false)
		}
		daily, totals := in.Rows()
		b.ReportMetric(float64(daily), "daily-rows")
		b.ReportMetric(float64(totals), "total-rows")
		report(b, stop())
	})
	// The same, with every row's id resolved through an identity graph of
	// 2M anonymous ids and 100k aliases (built inside the timing), half of
	// the active users' days logged under an anonymous id.
	b.Run("load-resolved", func(b *testing.B) {
		runtime.GC()
		stop := peakHeap()
		var in *Input
		for b.Loop() {
			in = benchInput(b, true)
		}
		if in.Users() != benchUsers {
			b.Fatalf("%d users after resolving, want %d", in.Users(), benchUsers)
		}
		daily, totals := in.Rows()
		b.ReportMetric(float64(daily), "daily-rows")
		b.ReportMetric(float64(totals), "total-rows")
		report(b, stop())
	})
	b.Run("score", func(b *testing.B) {
		in := benchInput(b, false)
		p := benchProfile()
		runtime.GC()
		stop := peakHeap()
		var run *trackplan.ScoreRun
		for b.Loop() {
			var err error
			if run, err = Score(in, p, benchAt, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(run.Users)), "users")
		b.ReportMetric(float64(run.ActiveUsers), "active-users")
		b.ReportMetric(float64(len(run.Accounts)), "accounts")
		report(b, stop())
	})
}

// TestScore1MSmoke runs the benchmark's generator and a full Runner-free
// pass at a hundredth of the size, so that the benchmark cannot rot
// unnoticed.
func TestScore1MSmoke(t *testing.T) {
	const users, accounts = benchUsers / 100, benchAccounts / 100
	spec := SpecFor(benchAt, "", "", benchProfile())
	b, err := NewBuilder(spec)
	if err != nil {
		t.Fatal(err)
	}
	b.Resolve(benchGraph(users))
	generate(t, b, spec, users, accounts, true)
	in := b.Input()
	if in.Users() != users || in.Accounts() > accounts {
		t.Fatalf("%d users, %d accounts", in.Users(), in.Accounts())
	}
	run, err := Score(in, benchProfile(), benchAt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.ActiveUsers < users/2 || run.P90 <= 0 || len(run.Accounts) == 0 {
		t.Errorf("%d active users, P90 %v, %d accounts", run.ActiveUsers, run.P90, len(run.Accounts))
	}
}
