package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/store/storetest"
)

func benchmarkIngest(b *testing.B, size int) {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), store.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchIngest(b, db, size)
}

// BenchmarkIngest measures one transaction per batch, at the batch sizes a
// single client (250) and grouped clients (2,500) produce.
func BenchmarkIngest(b *testing.B) {
	for _, size := range []int{250, 2500} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) { benchmarkIngest(b, size) })
	}
}

// BenchmarkSnapshot1M saves and reloads the snapshot of a scoring run of
// 1,000,000 users in 100,000 accounts: the save half of a scoring run and
// the load the push and the trends start from.
func BenchmarkSnapshot1M(b *testing.B) {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "snap.db"), store.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	run := &trackplan.ScoreRun{Profile: "default", At: at, WindowDays: 30, P90: 120}
	rng := rand.New(rand.NewPCG(3, 4))
	for a := range 100_000 {
		run.Accounts = append(run.Accounts, trackplan.AccountScore{ID: fmt.Sprintf("acct-%06d", a), Name: fmt.Sprintf("Company %d", a),
			AverageScore: float64(rng.IntN(1000)) / 10, TotalScore: int64(rng.IntN(500)), Band: trackplan.BandPassive,
			ActiveUsers: rng.IntN(10), TotalUsers: 10, LastActiveUser: fmt.Sprintf("user-%07d", a*10)})
	}
	for u := range 1_000_000 {
		last := at.Add(-time.Duration(rng.IntN(30*24)) * time.Hour)
		run.Users = append(run.Users, trackplan.UserScore{ID: fmt.Sprintf("user-%07d", u), Raw: int64(rng.IntN(300)),
			Score: rng.IntN(101), Active: true, Frequency: rng.IntN(30), LastActive: &last, Band: trackplan.BandEngaged,
			Accounts: []string{fmt.Sprintf("acct-%06d", u/10)}})
	}
	b.ResetTimer()
	for i := range b.N {
		run.At = at.Add(time.Duration(i) * time.Hour)
		start := time.Now()
		if err := db.SaveScores(context.Background(), run); err != nil {
			b.Fatal(err)
		}
		saved := time.Since(start)
		start = time.Now()
		got, err := db.LatestScores(context.Background(), "default", run.At.Add(time.Second))
		if err != nil || len(got.Users) != len(run.Users) {
			b.Fatalf("reload: %v", err)
		}
		b.ReportMetric(saved.Seconds(), "save-s")
		b.ReportMetric(time.Since(start).Seconds(), "load-s")
	}
}

// BenchmarkAppend measures the append path alone: dedupe claims, the
// compressed block, the commit.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{250, 2500} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) {
			db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), store.DefaultLimits())
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			storetest.BenchAppend(b, db, size)
		})
	}
}

// BenchmarkDerive measures deriving 100,000 logged messages in runs of
// 5,000 and 50,000 records.
func BenchmarkDerive(b *testing.B) {
	for _, run := range []int{5000, 50000} {
		b.Run(fmt.Sprint("run=", run), func(b *testing.B) {
			db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), store.DefaultLimits())
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			storetest.BenchDerive(b, db, 100_000, run)
		})
	}
}
