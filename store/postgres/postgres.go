package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

var _ store.Store = (*DB)(nil)

// migrateLockClass is the first key of the two-key advisory lock taken while
// migrating; the second is a hash of the current schema, so stores in
// different schemas of one database migrate independently.
const migrateLockClass = 0x7470 // "tp"

// maxAttempts bounds how many times a transaction that failed with a
// serialization failure or a deadlock is run.
const maxAttempts = 5

// DB is a PostgreSQL-backed store on a pgx connection pool. It is safe for
// concurrent use, including concurrent Append and Apply calls.
type DB struct {
	pool   *pgxpool.Pool
	limits store.Limits
	// readOnly: the session may not write (a hot standby, or a role
	// without INSERT on the log); see ReadOnly.
	readOnly bool

	guardMu sync.Mutex // guards guard and applied: store.Guard is not safe for concurrent use
	guard   *store.Guard
	// applied is the cursor the guard knows the derived state at: when an
	// Apply starts elsewhere (another replica or process applied since),
	// the guard is reloaded first, so the limits match a rebuild's.
	applied int64
	// guardStale makes the next Apply reload the guard too: set when this
	// DB replaced the verdicts (SwitchPlan), whose enum values the guard
	// bounds. Kept apart from applied, which an Apply sets after its
	// commit, so that the two cannot overwrite each other.
	guardStale bool
	// guardEpoch is the epoch the guard was loaded at: a prune that
	// dropped events (on any replica) moves the epoch, and the next Apply
	// reloads the guard, freeing their slots.
	guardEpoch int64

	partMu sync.Mutex      // guards parts
	parts  map[string]bool // arrival days (YYYY-MM-DD) whose log partition is known to exist
}

// ErrNeedsMigration is returned by Open for a read-only session on a
// schema older than this binary's.
var ErrNeedsMigration = errors.New("the store's schema needs migrating, which a read-only session cannot do")

// readOnlySession reports whether the pool's sessions may not write the
// store: a hot standby (transaction_read_only), or a role without INSERT
// on an existing event log.
func readOnlySession(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	var ro bool
	err := pool.QueryRow(ctx, `SELECT current_setting('transaction_read_only') = 'on'
		OR (to_regclass('log_blocks') IS NOT NULL AND NOT has_table_privilege('log_blocks', 'INSERT'))`).Scan(&ro)
	if err != nil {
		return false, fmt.Errorf("check whether the session may write: %w", err)
	}
	return ro, nil
}

// schemaCurrent refuses a schema behind the embedded migrations.
func (db *DB) schemaCurrent(ctx context.Context) error {
	var have int
	if err := db.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("read the schema version: %w", err)
	}
	if have < latestMigration() {
		return fmt.Errorf("%w (run `trackplan migrate` with a role that may write)", ErrNeedsMigration)
	}
	return nil
}

// migrationVersion is the version a migration file's name starts with.
func migrationVersion(base string) (int, error) {
	return strconv.Atoi(strings.SplitN(base, "_", 2)[0])
}

// latestMigration is the highest version of the embedded migrations.
func latestMigration() int {
	names, _ := fs.Glob(migrationFiles, "migrations/*.sql")
	latest := 0
	for _, n := range names {
		if v, err := migrationVersion(strings.TrimPrefix(n, "migrations/")); err == nil {
			latest = max(latest, v)
		}
	}
	return latest
}

// ReadOnly reports whether the store's sessions may not write.
func (db *DB) ReadOnly() bool { return db.readOnly }

// ErrBadDSN is returned by Open for a connection string that does not parse.
var ErrBadDSN = errors.New("bad PostgreSQL connection string")

// Defaults of the connection string's connect_timeout and the session's
// statement_timeout, used when the connection string sets neither.
const (
	DefaultConnectTimeout   = 10 * time.Second
	DefaultStatementTimeout = 2 * time.Minute
)

// Open connects to the database named by dsn (a postgres:// URL or a
// keyword/value string, optionally with search_path and pgxpool settings such
// as pool_max_conns), applies pending migrations and loads the cardinality
// guard. Unless dsn sets them, connecting times out after
// DefaultConnectTimeout and a statement after DefaultStatementTimeout.
func Open(ctx context.Context, dsn string, limits store.Limits) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the string; its password is masked.
		return nil, fmt.Errorf("%w: %v", ErrBadDSN, err)
	}
	// Bounded waits by default: a database that does not answer must
	// not hang a command or the collector. The connection string's own
	// settings win.
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(DefaultStatementTimeout.Milliseconds(), 10)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres %s: %w", cfg.ConnConfig.Host, err)
	}
	db := &DB{pool: pool, limits: limits}
	if db.readOnly, err = readOnlySession(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	if db.readOnly {
		// A hot standby or a role that may only read: nothing is
		// migrated, and a schema behind this binary's is refused.
		if err := db.schemaCurrent(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	} else if err := db.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := db.loadGuard(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the connection pool, waiting for connections in use to be
// returned.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction, while holding an advisory
// lock on a dedicated connection: replicas starting at once apply each
// migration exactly once, the others waiting and then finding it recorded.
func (db *DB) Migrate(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	// Closing the session releases the advisory lock whatever happened.
	defer conn.Close(context.WithoutCancel(ctx))

	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext(coalesce(current_schema(), '')))`,
		migrateLockClass); err != nil {
		return fmt.Errorf("migrate: take migration lock: %w", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := migrationVersion(base)
		if err != nil {
			return fmt.Errorf("migration %s: bad version prefix", base)
		}
		var applied bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`,
			version).Scan(&applied); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if applied {
			continue
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", base, err)
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// No arguments: the simple protocol runs the file's several statements.
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("apply migration %s: %w", base, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`,
				version, base); err != nil {
				return fmt.Errorf("record migration %s: %w", base, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1, hashtext(coalesce(current_schema(), '')))`,
		migrateLockClass); err != nil {
		return fmt.Errorf("migrate: release migration lock: %w", err)
	}
	return nil
}

func (db *DB) loadGuard(ctx context.Context) error {
	g, err := db.readGuard(ctx, db.pool)
	if err != nil {
		return err
	}
	if err := db.pool.QueryRow(ctx, `SELECT cursor, epoch FROM derive_state`).Scan(&db.applied, &db.guardEpoch); err != nil {
		return fmt.Errorf("read derive cursor: %w", err)
	}
	db.guard = g
	return nil
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// readGuard builds a guard from the events and paths the derived state holds.
func (db *DB) readGuard(ctx context.Context, q querier) (*store.Guard, error) {
	g := store.NewGuard(db.limits)
	rows, err := q.Query(ctx, `SELECT e.source, e.type, e.name, coalesce(p.path, '')
		FROM events e LEFT JOIN properties p ON p.event_id = e.id`)
	if err != nil {
		return nil, fmt.Errorf("load observed events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k       store.EventKey
			t, path string
		)
		if err := rows.Scan(&k.Source, &t, &k.Name, &path); err != nil {
			return nil, fmt.Errorf("load observed events: %w", err)
		}
		k.Type = trackplan.CallType(t)
		g.Know(k, path)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load observed events: %w", err)
	}
	return g, nil
}

// retry runs fn until it succeeds, fails with an error that a new attempt
// cannot fix, or has failed maxAttempts times. Serialization failures and
// deadlocks (SQLSTATE 40001, 40P01) abort a transaction that would succeed if
// run again.
func retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return err
		}
		// Jittered exponential backoff: 10ms, 20ms, 40ms, … ± 50%.
		d := time.Duration(10<<(attempt-1)) * time.Millisecond
		d = d/2 + rand.N(d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

// unstorable reports an error about the data rather than the database: a
// data exception (SQLSTATE class 22) or a limit such as the index row size
// (class 54). The same data would fail again.
func unstorable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "54"))
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// text makes s storable in a PostgreSQL text value, which cannot hold NUL
// bytes or invalid UTF-8: both become U+FFFD. Strings without them, nearly
// all, are returned as they are.
func text(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}
