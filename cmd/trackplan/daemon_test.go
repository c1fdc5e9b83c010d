package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/postgres"
	"github.com/trackplan/trackplan/store/sqlite"
)

// loadResult is what a load generator saw: every batch sent, acknowledged
// or not, and the ids acknowledged.
type loadResult struct {
	mu    sync.Mutex
	wg    sync.WaitGroup
	acked []string
	sent  [][]string
}

// wait waits for the senders to stop (after stop is closed).
func (r *loadResult) wait() { r.wg.Wait() }

// sendLoad posts batches of 50 to each URL in turn from `workers`
// goroutines until stop is closed. prefix keeps message ids unique.
func sendLoad(prefix string, urls []string, workers int, stop <-chan struct{}) *loadResult {
	res := &loadResult{}
	client := &http.Client{Timeout: 10 * time.Second}
	for g := range workers {
		res.wg.Add(1)
		go func() {
			defer res.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ids := make([]string, 50)
				items := make([]string, 50)
				for j := range ids {
					ids[j] = fmt.Sprintf("%s-g%d-b%d-m%d", prefix, g, i, j)
					items[j] = msg(ids[j], "")
				}
				res.mu.Lock()
				res.sent = append(res.sent, ids)
				res.mu.Unlock()
				if postBatch(client, urls[(g+i)%len(urls)], batch(items...)) == nil {
					res.mu.Lock()
					res.acked = append(res.acked, ids...)
					res.mu.Unlock()
				}
			}
		}()
	}
	return res
}

// TestSIGTERMUnderLoad stops the daemon with SIGTERM while clients send:
// it exits 0 within the grace period and every acknowledged message is
// stored.
func TestSIGTERMUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and signals the binary")
	}
	db := filepath.Join(t.TempDir(), "term.db")
	p := startProcess(t, db)
	stop := make(chan struct{})
	res := sendLoad("term", []string{"http://" + p.addr}, 4, stop)
	time.Sleep(time.Second)
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	err := p.cmd.Wait()
	took := time.Since(start)
	close(stop)
	res.wait()
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if took > 30*time.Second {
		t.Errorf("shutdown took %s; the grace period is 30s", took)
	}
	res.mu.Lock()
	acked := append([]string(nil), res.acked...)
	res.mu.Unlock()
	st, err := sqlite.Open(context.Background(), db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := st.Stored(context.Background(), "web", acked)
	if err != nil || n != len(acked) || n == 0 {
		t.Fatalf("after SIGTERM %d of %d acknowledged messages are stored (%v)", n, len(acked), err)
	}
	t.Logf("%d acknowledged messages, all stored; shutdown took %s", n, took.Round(time.Millisecond))
}

// pgSchemaDSN creates a fresh schema for one test and returns a DSN that
// uses it.
func pgSchemaDSN(t *testing.T) string {
	base := os.Getenv("TRACKPLAN_TEST_POSTGRES")
	if base == "" {
		t.Skip("TRACKPLAN_TEST_POSTGRES is not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	schema := fmt.Sprintf("tp_daemon_%d", time.Now().UnixNano())
	dsn, err := postgres.CreateSchema(context.Background(), base, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { postgres.DropSchema(context.Background(), base, schema) })
	return dsn
}

// TestReplicasOnPostgres runs two daemons on one PostgreSQL under load from
// two clients: the log holds every acknowledged message once, a message
// resent to the other replica is counted once, exactly one replica derives
// from the log and runs the scheduled job, and when the leader is killed the
// other takes both over with nothing applied twice.
func TestReplicasOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two daemons")
	}
	ctx := context.Background()
	dsn := pgSchemaDSN(t)
	cfg := filepath.Join(t.TempDir(), "trackplan.yaml")
	os.WriteFile(cfg, []byte("schedule:\n  score: \"@every 1s\"\n  plan_refresh: \"\"\n  prune: \"\"\n"), 0o600)
	a := startProcess(t, dsn, "--config", cfg)
	b := startProcess(t, dsn, "--config", cfg)
	defer a.cmd.Process.Kill()
	defer b.cmd.Process.Kill()
	urls := []string{"http://" + a.addr, "http://" + b.addr}

	stop := make(chan struct{})
	res := sendLoad("rep", urls, 4, stop)
	time.Sleep(2 * time.Second)
	close(stop)
	res.wait()
	res.mu.Lock()
	sent, acked := res.sent, res.acked
	res.mu.Unlock()
	// Resend every batch to the other replica: all duplicates.
	client := &http.Client{Timeout: 10 * time.Second}
	unique := 0
	for i, ids := range sent {
		items := make([]string, len(ids))
		for j, id := range ids {
			items[j] = msg(id, "")
		}
		if err := postBatch(client, urls[(i+1)%2], batch(items...)); err != nil {
			t.Fatalf("resend: %v", err)
		}
		unique += len(ids)
	}

	st, err := postgres.Open(ctx, dsn, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logged := loggedIDs(t, st)
	for _, id := range acked {
		if logged[id] != 1 {
			t.Fatalf("acknowledged message %s is in the log %d times; want once", id, logged[id])
		}
	}
	if len(logged) != unique {
		t.Errorf("the log holds %d messages; want the %d sent", len(logged), unique)
	}
	waitDerived(t, st)
	o, err := st.Observed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o.Totals.Messages != int64(unique) || o.Totals.Duplicates < int64(unique) {
		t.Errorf("totals %+v; want %d messages, each resent once as a duplicate", o.Totals, unique)
	}

	runs, err := st.Runs(ctx, "score", 100)
	if err != nil || len(runs) == 0 {
		t.Fatalf("no score runs: %v", err)
	}
	leader := runs[0].Instance
	for _, r := range runs {
		if r.Instance != leader {
			t.Errorf("score ran on %s and %s; exactly one replica should run it", leader, r.Instance)
		}
	}
	victim, survivor := a, b
	if strings.HasSuffix(leader, fmt.Sprintf(":%d", b.cmd.Process.Pid)) {
		victim, survivor = b, a
	}
	if n := derivedBy(t, victim); n != float64(unique) {
		t.Errorf("the leader derived %v records; want all %d", n, unique)
	}
	if n := derivedBy(t, survivor); n != 0 {
		t.Errorf("the follower derived %v records; only the leader derives", n)
	}

	// Kill the leader under load; the other takes over deriving and the
	// scheduled job, and applies nothing twice.
	stop = make(chan struct{})
	more := sendLoad("after", []string{"http://" + survivor.addr}, 2, stop)
	time.Sleep(300 * time.Millisecond)
	victim.cmd.Process.Signal(syscall.SIGKILL)
	victim.cmd.Wait()
	time.Sleep(time.Second)
	close(stop)
	more.wait()
	waitDerived(t, st)
	logged = loggedIDs(t, st)
	o, err = st.Observed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o.Totals.Messages != int64(len(logged)) {
		t.Errorf("after failover %d messages derived from a log of %d", o.Totals.Messages, len(logged))
	}
	if n := derivedBy(t, survivor); n <= 0 {
		t.Errorf("the survivor derived %v records after the leader died", n)
	}
	want := fmt.Sprintf(":%d", survivor.cmd.Process.Pid)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		runs, _ = st.Runs(ctx, "score", 1)
		if len(runs) == 1 && strings.HasSuffix(runs[0].Instance, want) {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Errorf("after the leader died, the survivor never ran the job (last run by %s)", runs[0].Instance)
}

// loggedIDs counts the messages in a store's log by messageId.
func loggedIDs(t *testing.T, st store.Store) map[string]int {
	t.Helper()
	ids := map[string]int{}
	err := st.ReadLog(context.Background(), 0, 1<<62, func(b store.LogBlock) error {
		recs, err := store.DecodeBlock(b)
		for _, r := range recs {
			if r.Message != nil {
				ids[r.Message.MessageID]++
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// waitDerived waits until the derived state has caught up with the log.
func waitDerived(t *testing.T, st store.Store) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		head, err1 := st.LogHead(context.Background())
		cur, err2 := st.Cursor(context.Background())
		if err1 == nil && err2 == nil && cur == head {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("derived state not caught up in 30s: cursor %d, head %d (%v %v)", cur, head, err1, err2)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var derivedRE = regexp.MustCompile(`(?m)^trackplan_derived_records_total (\S+)$`)

// derivedBy reads how many log records a daemon has derived.
func derivedBy(t *testing.T, p *process) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := derivedRE.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no trackplan_derived_records_total in /metrics")
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}
