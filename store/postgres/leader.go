package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultLeaderKey is the advisory lock key replicas compete for when the
// configuration names none. Advisory locks belong to the database, not to a
// schema: deployments sharing a database must use different keys.
const DefaultLeaderKey int64 = 0x74726b706c616e // "trkplan"

// DefaultLeaderInterval is how often a follower tries to become leader and a
// leader checks that it still is.
const DefaultLeaderInterval = 5 * time.Second

// Leader elects one replica among those sharing a database to run the
// scheduled jobs. It holds a session-level advisory lock
// (pg_try_advisory_lock) on a dedicated connection of its own, never one
// borrowed from a pool, so the lock lives exactly as long as that session:
// when the leader's process exits or dies, PostgreSQL ends the session, the
// lock is released and a follower takes it at its next attempt.
//
// Failover takes at most Interval after the session ends. A process that
// exits or is killed closes its socket, which ends the session at once; a
// host that vanishes without closing it is detected through TCP keepalives,
// which Leader sets on its session to about 25 seconds unless the DSN sets
// them. A leader that can no longer reach the database steps down when a
// check fails or times out (within Interval plus the larger of Interval and
// two seconds), usually before the server gives its session up. When the
// session ends while the old leader's process still runs (an administrator
// terminating it), the old leader may still believe it leads until its next
// check: jobs should be idempotent, as trackplan's are.
//
// The lock must be taken on a direct connection: a transaction-pooling proxy
// in between would hand the session to other clients.
type Leader struct {
	cfg *pgx.ConnConfig
	key int64
	log *slog.Logger

	// Interval is how often a follower tries to take the lock and a leader
	// checks its session; zero means DefaultLeaderInterval. Set it before
	// Run.
	Interval time.Duration

	leading atomic.Bool
}

// NewLeader returns a Leader competing for the advisory lock key on the
// database named by dsn. It does not connect until Run.
func NewLeader(dsn string, key int64, logger *slog.Logger) (*Leader, error) {
	cfg, err := pgxpool.ParseConfig(dsn) // accepts, and drops, pool settings
	if err != nil {
		return nil, fmt.Errorf("parse postgres dsn: %w", err)
	}
	return newLeader(cfg.ConnConfig, key, logger), nil
}

// Leader returns a Leader competing for the advisory lock key on the
// database db is connected to, over a connection of its own.
func (db *DB) Leader(key int64, logger *slog.Logger) *Leader {
	return newLeader(db.pool.Config().ConnConfig.Copy(), key, logger)
}

func newLeader(cfg *pgx.ConnConfig, key int64, logger *slog.Logger) *Leader {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	defaults := map[string]string{
		"application_name":        "trackplan-leader",
		"tcp_keepalives_idle":     "10",
		"tcp_keepalives_interval": "5",
		"tcp_keepalives_count":    "3",
	}
	for k, v := range defaults {
		if _, ok := cfg.RuntimeParams[k]; !ok {
			cfg.RuntimeParams[k] = v
		}
	}
	return &Leader{cfg: cfg, key: key, log: logger.With("leader_key", key)}
}

// IsLeader reports whether this replica holds the lock now. It is safe to
// call from any goroutine, for example by a scheduler before each job.
func (l *Leader) IsLeader() bool { return l.leading.Load() }

// Run competes for leadership until ctx is done, reconnecting when its
// connection fails. Each time this replica is elected it calls onElected (if
// not nil) in a new goroutine with a context that is cancelled when
// leadership ends, and waits for it to return before competing again or
// returning; onElected returning early does not give leadership up. Run
// releases the lock, if held, before it returns.
func (l *Leader) Run(ctx context.Context, onElected func(ctx context.Context)) {
	for ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(ctx, l.cfg)
		if err != nil {
			if ctx.Err() == nil {
				l.log.Warn("leader election: cannot connect", "err", err)
				sleep(ctx, l.interval())
			}
			continue
		}
		l.campaign(ctx, conn, onElected)
		// Ending the session releases the lock if it is still held.
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.interval())
		conn.Close(closeCtx)
		cancel()
	}
}

func (l *Leader) interval() time.Duration {
	if l.Interval > 0 {
		return l.Interval
	}
	return DefaultLeaderInterval
}

// minCheckTimeout bounds how briefly a lock attempt or a health check may
// wait for the database, so that a loaded server with a short Interval does
// not make a healthy leader step down.
const minCheckTimeout = 2 * time.Second

// checkTimeout is how long a lock attempt or health check may take. A check
// that times out ends the session (pgx closes a connection whose query was
// cancelled), releasing the lock, so the leader steps down.
func (l *Leader) checkTimeout() time.Duration { return max(l.interval(), minCheckTimeout) }

// campaign tries to take the lock every interval until it gets it, the
// connection fails or ctx is done; once elected it leads.
func (l *Leader) campaign(ctx context.Context, conn *pgx.Conn, onElected func(context.Context)) {
	tick := time.NewTicker(l.interval())
	defer tick.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, l.checkTimeout())
		var got bool
		err := conn.QueryRow(qctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&got)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				l.log.Warn("leader election: lock attempt failed", "err", err)
			}
			return
		}
		if got {
			l.lead(ctx, conn, tick, onElected)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// lead runs onElected while the session that holds the lock stays healthy,
// checking it every tick, and stops it when the session fails or ctx is done.
func (l *Leader) lead(ctx context.Context, conn *pgx.Conn, tick *time.Ticker, onElected func(context.Context)) {
	l.leading.Store(true)
	l.log.Info("elected leader")
	jobs, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if onElected != nil {
			onElected(jobs)
		}
	}()
	for lost := false; !lost; {
		select {
		case <-ctx.Done():
			l.log.Info("leadership released")
			lost = true
		case <-tick.C:
			pctx, cancel := context.WithTimeout(ctx, l.checkTimeout())
			_, err := conn.Exec(pctx, `SELECT 1`)
			cancel()
			if err != nil && ctx.Err() == nil {
				l.log.Warn("leadership lost: database session failed", "err", err)
				lost = true
			}
		}
	}
	l.leading.Store(false)
	stop()
	<-done
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
