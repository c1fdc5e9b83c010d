package postgres_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan/store/postgres"
)

// replica is one process competing for leadership.
type replica struct {
	*postgres.Leader
	elected atomic.Int32 // times onElected was called
	running atomic.Bool  // onElected is running (its context not yet cancelled)
	stop    context.CancelFunc
	done    chan struct{}
}

func startReplica(t *testing.T, dsn string, key int64) *replica {
	t.Helper()
	l, err := postgres.NewLeader(dsn, key, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	l.Interval = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{Leader: l, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		l.Run(ctx, func(ctx context.Context) {
			r.elected.Add(1)
			r.running.Store(true)
			<-ctx.Done()
			r.running.Store(false)
		})
	}()
	t.Cleanup(func() { r.stop(); <-r.done })
	return r
}

func leaders(rs []*replica) []*replica {
	var out []*replica
	for _, r := range rs {
		if r.IsLeader() {
			out = append(out, r)
		}
	}
	return out
}

// waitOneLeader waits until exactly one replica leads and checks that it
// stays the only one for a while.
func waitOneLeader(t *testing.T, rs []*replica) *replica {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(leaders(rs)) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d leaders after 10s; want 1", len(leaders(rs)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	leader := leaders(rs)[0]
	for range 20 {
		time.Sleep(20 * time.Millisecond)
		if ls := leaders(rs); len(ls) != 1 || ls[0] != leader {
			t.Fatalf("leadership unstable: %d leaders", len(ls))
		}
	}
	if !leader.running.Load() {
		t.Error("the leader's onElected is not running")
	}
	return leader
}

func TestLeaderFailover(t *testing.T) {
	dsn := baseDSN(t)
	key := rand.Int64N(1<<62) + 1 // advisory locks are per database: a key no other run uses
	rs := []*replica{startReplica(t, dsn, key), startReplica(t, dsn, key), startReplica(t, dsn, key)}
	first := waitOneLeader(t, rs)

	// The leader's session ends as it does when its process dies: the
	// server closes it and the lock goes with it.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var terminated bool
	if err := conn.QueryRow(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
		AND classid::bigint = ($1::bigint >> 32) AND objid::bigint = ($1::bigint & 4294967295)`, key).Scan(&terminated); err != nil || !terminated {
		t.Fatalf("terminate the leader's session: %v, %v", terminated, err)
	}
	// The process is gone too: left running, it could win the lock back
	// within milliseconds of losing it, and no failover would be seen.
	first.stop()
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	for {
		ls := leaders(rs)
		if len(ls) == 1 && ls[0] != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new leader 10s after the leader's session ended (%d leaders)", len(ls))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("new leader elected %v after the old one's session ended", time.Since(start).Round(time.Millisecond))
	second := waitOneLeader(t, rs)
	if first.IsLeader() || first.running.Load() {
		t.Error("the old leader still leads or still runs its jobs")
	}

	// A graceful stop releases the lock to one of the others, after the
	// stopping leader's jobs have returned.
	second.stop()
	<-second.done
	if second.running.Load() || second.IsLeader() {
		t.Error("Run returned while still leading or with jobs running")
	}
	third := waitOneLeader(t, rs)
	if third == second {
		t.Error("a stopped replica leads")
	}
	var total int32
	for _, r := range rs {
		total += r.elected.Load()
	}
	if total != 3 {
		t.Errorf("onElected called %d times; want 3 (one per election)", total)
	}
}
