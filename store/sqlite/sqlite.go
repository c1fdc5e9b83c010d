// Package sqlite is the embedded, single-file implementation of store.Store,
// on the pure-Go modernc.org/sqlite driver: WAL mode, a busy timeout, full
// synchronous commits, and embedded ordered migrations.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/trackplan/trackplan/store"
)

//go:embed migrations/*.sql logmigrations/*.sql
var migrationFiles embed.FS

var _ store.Store = (*DB)(nil)

// DB is a SQLite-backed store in two files: the derived state at the path
// given, and the event log beside it (path + "-log"), so an append never
// waits for the aggregator's transaction. Each file has one writing
// connection (SQLite allows one writer at a time) and a small reading pool.
type DB struct {
	path   string
	limits store.Limits
	write  *sql.DB // derived state
	read   *sql.DB
	logw   *sql.DB // the event log
	logr   *sql.DB
	// readOnly: opened by OpenReadOnly, write and read (logw and logr)
	// are one read-only pool each.
	readOnly bool

	mu       sync.Mutex // serialises Apply: guard, eventIDs and applied belong to it
	guard    *store.Guard
	eventIDs map[store.EventKey]int64
	// applied is the cursor the guard knows the derived state at: when an
	// Apply starts elsewhere (another process applied since), the guard is
	// reloaded first, so the limits match a rebuild's.
	applied int64
	// guardEpoch is the epoch the guard was loaded at: a prune that
	// dropped events (in any process) moves the epoch, and the next Apply
	// reloads the guard, freeing their slots.
	guardEpoch int64

	dedupe *dedupeIndex
}

// LogPath is the file the event log of the store at path is kept in.
func LogPath(path string) string { return path + "-log" }

// Open opens (creating if needed) the SQLite store at path and its log
// file, and applies pending migrations.
func Open(ctx context.Context, path string, limits store.Limits) (*DB, error) {
	db := &DB{path: path, limits: limits, eventIDs: map[store.EventKey]int64{}}
	var err error
	if db.write, db.read, err = openFile(path); err != nil {
		return nil, err
	}
	if db.logw, db.logr, err = openFile(LogPath(path)); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.loadGuard(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.loadDedupe(ctx, time.Now().Add(-limits.DedupeWindow)); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// ErrNeedsMigration is returned by OpenReadOnly for a store whose schema
// is older than this binary's.
var ErrNeedsMigration = errors.New("the store's schema needs migrating, which a read-only store cannot do")

// OpenReadOnly opens the SQLite store at path without writing to it: for
// reading commands on a store they may not write (a file or a directory
// without write permission, a read-only mount). Nothing is migrated; a
// store whose schema is behind is refused with ErrNeedsMigration. When
// SQLite cannot open the write-ahead log's shared memory beside a
// read-only file, the file is read as immutable: a snapshot that ignores
// a writer working at the same time.
func OpenReadOnly(ctx context.Context, path string, limits store.Limits) (*DB, error) {
	db := &DB{path: path, limits: limits, eventIDs: map[store.EventKey]int64{}, readOnly: true}
	var err error
	if db.read, err = openReadOnlyFile(ctx, path, "migrations"); err != nil {
		return nil, err
	}
	if db.logr, err = openReadOnlyFile(ctx, LogPath(path), "logmigrations"); err != nil {
		db.Close()
		return nil, err
	}
	// Writes go to the same read-only pools, and fail there.
	db.write, db.logw = db.read, db.logr
	if err := db.loadGuard(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openReadOnlyFile opens one file read-only and checks its schema is the
// latest this binary knows.
func openReadOnlyFile(ctx context.Context, path, dir string) (*sql.DB, error) {
	var last error
	for _, extra := range []string{"", "&immutable=1"} {
		conn, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)"+extra)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s read-only: %w", path, err)
		}
		conn.SetMaxOpenConns(4)
		var have int
		err = conn.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have)
		if err != nil {
			conn.Close()
			last = err
			continue
		}
		if have < latestMigration(dir) {
			conn.Close()
			return nil, fmt.Errorf("open %s: %w (run `trackplan migrate` with write access)", path, ErrNeedsMigration)
		}
		return conn, nil
	}
	return nil, fmt.Errorf("open sqlite %s read-only: %w", path, last)
}

// migrationVersion is the version a migration file's name starts with.
func migrationVersion(base string) (int, error) {
	return strconv.Atoi(strings.SplitN(base, "_", 2)[0])
}

// latestMigration is the highest version of the embedded migrations in dir.
func latestMigration(dir string) int {
	names, _ := fs.Glob(migrationFiles, dir+"/*.sql")
	latest := 0
	for _, n := range names {
		if v, err := migrationVersion(strings.TrimPrefix(n, dir+"/")); err == nil {
			latest = max(latest, v)
		}
	}
	return latest
}

// ReadOnly reports whether the store was opened with OpenReadOnly.
func (db *DB) ReadOnly() bool { return db.readOnly }

// openFile opens one database file: a single writing connection and a
// pool of readers.
func openFile(path string) (write, read *sql.DB, err error) {
	// WAL with full synchronous commits: an acknowledged batch survives
	// power loss, not just a killed process. Statement journals of the
	// multi-row upserts stay in memory (temp_store): on disk they were a
	// third of the commit time. secure_delete overwrites freed pages, so an
	// erased person's data does not linger in the file; incremental
	// auto-vacuum (set when the file is created) lets a prune give pages
	// back.
	q := url.Values{}
	for _, p := range []string{"auto_vacuum(INCREMENTAL)", "busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)",
		"foreign_keys(off)", "cache_size(-65536)", "temp_store(MEMORY)", "secure_delete(ON)"} {
		q.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + q.Encode()
	write, err = sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	read, err = sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	return write, read, nil
}

// Close closes every connection pool.
func (db *DB) Close() error {
	var errs []error
	closed := map[*sql.DB]bool{}
	for _, p := range []*sql.DB{db.write, db.read, db.logw, db.logr} {
		if p != nil && !closed[p] {
			closed[p] = true
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(errs...)
}

// Migrate applies the embedded migrations not yet recorded in each file's
// schema_migrations, each in its own transaction, then moves what a store
// from before the log kept of the append path (dedupe keys, duplicate
// counts) into the log file.
func (db *DB) Migrate(ctx context.Context) error {
	if err := migrate(ctx, db.write, db.path, "migrations"); err != nil {
		return err
	}
	if err := migrate(ctx, db.logw, LogPath(db.path), "logmigrations"); err != nil {
		return err
	}
	return db.moveAppendState(ctx)
}

func migrate(ctx context.Context, w *sql.DB, path, dir string) error {
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate %s: %w", path, err)
	}
	names, err := fs.Glob(migrationFiles, dir+"/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, dir+"/")
		version, err := migrationVersion(base)
		if err != nil {
			return fmt.Errorf("migration %s: bad version prefix", base)
		}
		var n int
		if err := w.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if n > 0 {
			continue
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", base, err)
		}
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("apply migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			version, base, time.Now().UnixMicro()); err != nil {
			tx.Rollback()
			return fmt.Errorf("record migration %s: %w", base, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit migration %s: %w", base, err)
		}
	}
	return nil
}

// moveAppendState moves the dedupe keys and duplicate counts a store from
// before the log kept in its main file into the log file, once: a resend
// within the dedupe window still counts once after the upgrade.
func (db *DB) moveAppendState(ctx context.Context) error {
	var n int
	if err := db.write.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM dedupe LIMIT 1)`).Scan(&n); err != nil {
		return fmt.Errorf("look for dedupe keys to move: %w", err)
	}
	var dups int64
	if err := db.write.QueryRowContext(ctx, `SELECT coalesce(sum(duplicates), 0) FROM source_counts`).Scan(&dups); err != nil {
		return fmt.Errorf("look for duplicate counts to move: %w", err)
	}
	if n == 0 && dups == 0 {
		return nil
	}
	ltx, err := db.logw.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("move dedupe keys: %w", err)
	}
	defer ltx.Rollback()
	rows, err := db.write.QueryContext(ctx, `SELECT source, message_id, received_at FROM dedupe`)
	if err != nil {
		return fmt.Errorf("move dedupe keys: %w", err)
	}
	for rows.Next() {
		var src, id string
		var at int64
		if err := rows.Scan(&src, &id, &at); err != nil {
			rows.Close()
			return fmt.Errorf("move dedupe keys: %w", err)
		}
		if _, err := ltx.ExecContext(ctx, `INSERT OR IGNORE INTO dedupe (source, message_id, received_at) VALUES (?, ?, ?)`, src, id, at); err != nil {
			rows.Close()
			return fmt.Errorf("move dedupe keys: %w", err)
		}
	}
	rows.Close()
	if _, err := ltx.ExecContext(ctx, `INSERT INTO duplicates (source, count) VALUES ('', ?)
		ON CONFLICT (source) DO UPDATE SET count = count + excluded.count`, dups); err != nil {
		return fmt.Errorf("move duplicate counts: %w", err)
	}
	// The log file commits first: a crash before the main file's commit
	// moves the keys again (INSERT OR IGNORE) and counts the duplicates of
	// before the upgrade twice at worst, never loses a key.
	if err := ltx.Commit(); err != nil {
		return fmt.Errorf("move dedupe keys: %w", err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("move dedupe keys: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM dedupe`); err != nil {
		return fmt.Errorf("move dedupe keys: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE source_counts SET duplicates = 0`); err != nil {
		return fmt.Errorf("move duplicate counts: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("move dedupe keys: %w", err)
	}
	return nil
}

func (db *DB) loadGuard(ctx context.Context) error {
	db.guard = store.NewGuard(db.limits)
	clear(db.eventIDs)
	if err := db.read.QueryRowContext(ctx, `SELECT cursor, epoch FROM derive_state`).Scan(&db.applied, &db.guardEpoch); err != nil {
		return fmt.Errorf("read derive cursor: %w", err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT e.id, e.source, e.type, e.name, coalesce(p.path, '')
		FROM events e LEFT JOIN properties p ON p.event_id = e.id`)
	if err != nil {
		return fmt.Errorf("load observed events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   int64
			k    store.EventKey
			t    string
			path string
		)
		if err := rows.Scan(&id, &k.Source, &t, &k.Name, &path); err != nil {
			return fmt.Errorf("load observed events: %w", err)
		}
		k.Type = callType(t)
		db.eventIDs[k] = id
		db.guard.Know(k, path)
	}
	return rows.Err()
}

func micro(t time.Time) int64 { return t.UnixMicro() }

func fromMicro(us int64) time.Time { return time.UnixMicro(us).UTC() }
