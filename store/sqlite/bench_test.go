package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
)

// benchBatch builds a batch shaped like SaaS traffic: 2,000 users in 200
// accounts, a dozen events, a few properties each.
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
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), store.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
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
