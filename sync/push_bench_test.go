package sync

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/segment"
)

// Population of BenchmarkPush: 100,000 accounts of 10 users (-short: a
// hundredth).
const (
	benchAccounts     = 100_000
	benchUsersPerAcct = 10
)

// benchRun builds a snapshot of n accounts with per users each.
func benchRun(at time.Time, n, per int) *trackplan.ScoreRun {
	run := &trackplan.ScoreRun{Profile: trackplan.DefaultProfileName, At: at, WindowDays: 30, P90: 120,
		Accounts: make([]trackplan.AccountScore, 0, n), Users: make([]trackplan.UserScore, 0, n*per)}
	last := at.Add(-26 * time.Hour).Truncate(time.Second)
	act := 66.7
	for i := range n {
		id := fmt.Sprintf("acct-%06d", i)
		score := float64(i%1000) / 10
		run.Accounts = append(run.Accounts, trackplan.AccountScore{ID: id, AverageScore: score, TotalScore: int64(i % 900),
			Band: trackplan.BandOf(score, true), Trend: trackplan.TrendOf(float64(i%21 - 10)), ActiveUsers: 1 + i%per,
			TotalUsers: per, ActivePct: float64(1+i%per) * 100 / float64(per), Frequency: 1 + i%30, LastActive: &last,
			Adoption: trackplan.Adoption{Window: 40, AllTime: 60}, Activation: &act,
			LastActiveUser: fmt.Sprintf("user-%06d-%02d", i, 0)})
	}
	for i := range n {
		for j := range per {
			s := (i*7 + j*13) % 101
			u := trackplan.UserScore{ID: fmt.Sprintf("user-%06d-%02d", i, j), Raw: int64(s), Score: s, Active: s > 0,
				Frequency: s % 30, Band: trackplan.BandOf(float64(s), s > 0), Trend: trackplan.TrendOf(float64(s%7 - 3)),
				Accounts: []string{run.Accounts[i].ID}, Adoption: trackplan.Adoption{Window: float64(s % 50), AllTime: 50}}
			if s > 0 {
				u.LastActive = &last
			}
			run.Users = append(run.Users, u)
		}
	}
	return run
}

// countingSink answers every batch 200 and counts its messages.
func countingSink(tb testing.TB) (*httptest.Server, *atomic.Int64, *atomic.Int64) {
	var msgs, reqs atomic.Int64
	key := []byte(`"messageId"`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, `{"success":false}`, http.StatusBadRequest)
			return
		}
		reqs.Add(1)
		msgs.Add(int64(bytes.Count(body, key) - 1)) // one is the batch's own
		io.WriteString(w, `{"success":true}`)
	}))
	tb.Cleanup(srv.Close)
	return srv, &msgs, &reqs
}

// peakRSS returns the process's peak resident set size (VmHWM) in bytes.
func peakRSS() (int64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// resetPeakRSS sets VmHWM back to the current RSS, where Linux allows it.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// BenchmarkPush pushes a first snapshot of 100,000 accounts and 1,000,000
// users to a local sink (every entity added), then pushes again with
// nothing changed (no message may be sent). It reports both wall times,
// the first push's messages per second, and the peak RSS of each push
// (VmHWM, after the snapshot was built and stored and memory returned).
func BenchmarkPush(b *testing.B) {
	accounts := benchAccounts
	if testing.Short() {
		accounts /= 100
	}
	ctx := context.Background()
	at := time.Date(2026, 11, 20, 5, 0, 0, 0, time.UTC)
	for range b.N {
		b.StopTimer()
		db := openStore(b)
		saveRun(b, db, benchRun(at, accounts, benchUsersPerAcct))
		srv, msgs, reqs := countingSink(b)
		runtime.GC()
		debug.FreeOSMemory()
		p, err := NewPush(db, segment.ClientConfig{Endpoint: srv.URL, WriteKey: "bench"}, DefaultPushConfig(),
			func() time.Time { return at.Add(time.Hour) }, nil)
		if err != nil {
			b.Fatal(err)
		}
		reset := resetPeakRSS()
		b.StartTimer()

		start := time.Now()
		res, err := p.Run(ctx)
		first := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		firstRSS, _ := peakRSS()
		want := accounts * (1 + benchUsersPerAcct)
		if got := res.Total().Acknowledged; got != want || msgs.Load() != int64(want) {
			b.Fatalf("first push acknowledged %d, sink got %d; want %d", got, msgs.Load(), want)
		}
		firstReqs := reqs.Load()
		runtime.GC()
		debug.FreeOSMemory()
		resetPeakRSS()
		b.StartTimer()

		start = time.Now()
		res, err = p.Run(ctx)
		again := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		againRSS, _ := peakRSS()
		if msgs.Load() != int64(want) || reqs.Load() != firstReqs || res.Total().Unchanged != want {
			b.Fatalf("push with nothing changed sent %d messages; want 0", msgs.Load()-int64(want))
		}
		b.ReportMetric(float64(want), "messages")
		b.ReportMetric(float64(want)/first.Seconds(), "messages/s")
		b.ReportMetric(first.Seconds(), "first-s")
		b.ReportMetric(again.Seconds(), "nochange-s")
		b.ReportMetric(float64(firstReqs), "requests")
		if reset {
			b.ReportMetric(float64(firstRSS>>20), "first-peak-MiB")
			b.ReportMetric(float64(againRSS>>20), "nochange-peak-MiB")
		} else {
			b.ReportMetric(float64(max(firstRSS, againRSS)>>20), "peak-MiB")
		}
		b.StartTimer()
	}
}
