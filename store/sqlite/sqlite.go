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

//go:embed migrations/*.sql
var migrationFiles embed.FS

var _ store.Store = (*DB)(nil)

// DB is a SQLite-backed store. One connection writes (SQLite allows one
// writer at a time); a small pool reads.
type DB struct {
	path   string
	limits store.Limits
	write  *sql.DB
	read   *sql.DB

	mu       sync.Mutex // serialises Apply: guard and eventIDs belong to it
	guard    *store.Guard
	eventIDs map[store.EventKey]int64
}

// Open opens (creating if needed) the SQLite database at path and applies
// pending migrations.
func Open(ctx context.Context, path string, limits store.Limits) (*DB, error) {
	// WAL with full synchronous commits: an acknowledged batch survives
	// power loss, not just a killed process. Statement journals of the
	// multi-row upserts stay in memory (temp_store): on disk they were a
	// third of the commit time.
	q := url.Values{}
	// secure_delete overwrites freed pages, so an erased person's data does
	// not linger in the file; incremental auto-vacuum (set when the file is
	// created) lets a log prune give pages back.
	for _, p := range []string{"auto_vacuum(INCREMENTAL)", "busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)",
		"foreign_keys(off)", "cache_size(-65536)", "temp_store(MEMORY)", "secure_delete(ON)"} {
		q.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + q.Encode()
	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	db := &DB{path: path, limits: limits, write: write, read: read, eventIDs: map[store.EventKey]int64{}}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.loadGuard(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes both connection pools.
func (db *DB) Close() error {
	return errors.Join(db.write.Close(), db.read.Close())
}

// Migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction.
func (db *DB) Migrate(ctx context.Context) error {
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate %s: %w", db.path, err)
	}
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad version prefix", base)
		}
		var n int
		if err := db.write.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if n > 0 {
			continue
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", base, err)
		}
		tx, err := db.write.BeginTx(ctx, nil)
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

func (db *DB) loadGuard(ctx context.Context) error {
	db.guard = store.NewGuard(db.limits)
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
