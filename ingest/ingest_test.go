package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/ingest"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
)

// gated delegates to a real SQLite store, each commit waiting for the gate:
// it lets a test hold the committer while submissions pile up.
type gated struct {
	*sqlite.DB
	gate    chan struct{}
	mu      sync.Mutex
	blocked int
	batches []int
}

// waiting reports whether a commit is waiting at the gate.
func (g *gated) waiting() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.blocked > 0
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func (g *gated) Append(ctx context.Context, b *store.LogBatch) (store.IngestResult, error) {
	g.mu.Lock()
	g.blocked++
	g.mu.Unlock()
	<-g.gate
	g.mu.Lock()
	g.batches = append(g.batches, len(b.Messages))
	g.mu.Unlock()
	return g.DB.Append(ctx, b)
}

func openGated(t *testing.T) *gated {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"), store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &gated{DB: db, gate: make(chan struct{})}
}

func msgs(prefix string, n int) []*trackplan.Message {
	out := make([]*trackplan.Message, n)
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range out {
		out[i] = &trackplan.Message{Source: "web", Type: trackplan.Track, MessageID: fmt.Sprint(prefix, i),
			UserID: "u", Event: "Signed In", Timestamp: now, ReceivedAt: now}
	}
	return out
}

func TestGroupCommitAndOverload(t *testing.T) {
	st := openGated(t)
	p := ingest.Open(st, ingest.Options{QueueSize: 4, QueueWait: 50 * time.Millisecond})

	// The first submission occupies the committer (blocked on the gate);
	// four more fill the queue; the sixth is refused after QueueWait.
	errs := make(chan error, 5)
	go func() { errs <- p.Submit(context.Background(), msgs("first-", 10), nil) }()
	waitFor(t, func() bool { return st.waiting() }) // the committer holds the first
	for i := range 4 {
		go func() { errs <- p.Submit(context.Background(), msgs(fmt.Sprint("q", i, "-"), 10), nil) }()
	}
	waitFor(t, func() bool { return p.Queued() == 4 })
	if err := p.Submit(context.Background(), msgs("late-", 10), nil); !errors.Is(err, trackplan.ErrOverloaded) {
		t.Fatalf("submission into a full queue: %v; want ErrOverloaded", err)
	}
	close(st.gate)
	for range 5 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	if err := p.Submit(context.Background(), msgs("after-", 1), nil); !errors.Is(err, ingest.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	// One commit for the first submission, one for the four queued ones.
	if len(st.batches) != 2 || st.batches[1] != 40 {
		t.Errorf("commits = %v; want [10 40] (the queued submissions grouped)", st.batches)
	}
	if got := p.Totals(); got.Stored != 50 {
		t.Errorf("totals = %+v", got)
	}
	if head, err := st.LogHead(context.Background()); err != nil || head != 50 {
		t.Errorf("log head = %d, %v; want the 50 messages appended", head, err)
	}
}

func TestCloseCommitsWhatIsQueued(t *testing.T) {
	st := openGated(t)
	p := ingest.Open(st, ingest.Options{})
	var wg sync.WaitGroup
	submit := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Submit(context.Background(), msgs(fmt.Sprint("c", i, "-"), 5), nil); err != nil {
				t.Error(err)
			}
		}()
	}
	submit(0)
	waitFor(t, st.waiting) // the committer holds the first submission
	submit(1)
	submit(2)
	waitFor(t, func() bool { return p.Queued() == 2 })
	close(st.gate)
	p.Close()
	wg.Wait()
	n, err := st.Stored(context.Background(), "web", []string{"c0-0", "c1-4", "c2-2"})
	if err != nil || n != 3 {
		t.Errorf("stored %d, %v; want every queued submission committed", n, err)
	}
}

// TestSubmitBoundedWhenStoreHangs: a store that stops answering gets its
// callers ErrOverloaded (a prompt 503) after CommitWait, not a hang; once
// the store answers again, the late commit still lands and new
// submissions are acknowledged.
func TestSubmitBoundedWhenStoreHangs(t *testing.T) {
	g := openGated(t)
	p := ingest.Open(g, ingest.Options{CommitWait: 100 * time.Millisecond})
	defer p.Close()
	now := time.Now().UTC()
	m := func(id string) []*trackplan.Message {
		return []*trackplan.Message{{Source: "web", Type: trackplan.Track, MessageID: id, UserID: "u", Event: "E",
			Timestamp: now, ReceivedAt: now, Raw: []byte(`{}`)}}
	}
	start := time.Now()
	err := p.Submit(context.Background(), m("late"), nil)
	if !errors.Is(err, trackplan.ErrOverloaded) || time.Since(start) > 5*time.Second {
		t.Fatalf("Submit on a hung store: %v after %s; want ErrOverloaded after about 100ms", err, time.Since(start))
	}
	close(g.gate) // the store answers again
	if err := p.Submit(context.Background(), m("next"), nil); err != nil {
		t.Fatalf("after the store is back: %v", err)
	}
	if n, err := g.Stored(context.Background(), "web", []string{"late", "next"}); err != nil || n != 2 {
		t.Errorf("stored %d of the late and the next message (%v); want both", n, err)
	}
}
