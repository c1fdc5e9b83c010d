package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/trackplan/trackplan/store"
)

// derivedTables are emptied by ResetDerived: everything Apply writes.
var derivedTables = []string{
	"events", "event_daily", "event_hourly", "properties", "property_types", "violations", "rejections",
	"users", "user_traits", "accounts", "account_traits", "memberships", "identity_links", "anonymous_ids",
	"activity_daily", "activity_total", "reservoir", "quarantine",
}

// ReadLog calls fn with the blocks after sequence number after, in order.
func (db *DB) ReadLog(ctx context.Context, after int64, maxRecords int, fn func(store.LogBlock) error) error {
	// A cursor inside a block (left by a quarantine) reads that block too.
	var inside sql.NullInt64
	if err := db.logr.QueryRowContext(ctx, `SELECT CASE WHEN last_seq > ? THEN first_seq END FROM log_blocks
		WHERE first_seq <= ? ORDER BY first_seq DESC LIMIT 1`, after, after).Scan(&inside); err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("read log after %d: %w", after, err)
	}
	if inside.Valid {
		after = inside.Int64 - 1
	}
	rows, err := db.logr.QueryContext(ctx, `SELECT first_seq, last_seq, at, count, data FROM log_blocks
		WHERE first_seq > ? ORDER BY first_seq`, after)
	if err != nil {
		return fmt.Errorf("read log after %d: %w", after, err)
	}
	defer rows.Close()
	read := 0
	for rows.Next() && read < maxRecords {
		var b store.LogBlock
		var at int64
		if err := rows.Scan(&b.First, &b.Last, &at, &b.Count, &b.Data); err != nil {
			return fmt.Errorf("read log after %d: %w", after, err)
		}
		b.At = fromMicro(at)
		read += int(b.Last - b.First + 1)
		if err := fn(b); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read log after %d: %w", after, err)
	}
	return nil
}

// LogStats describes the log.
func (db *DB) LogStats(ctx context.Context) (store.LogStats, error) {
	var (
		s              store.LogStats
		oldest, newest sql.NullInt64
		pruned, legacy bool
		first, last    sql.NullInt64
	)
	err := db.logr.QueryRowContext(ctx, `SELECT min(first_seq), max(last_seq), count(*), coalesce(sum(count), 0),
		coalesce(sum(length(data)), 0), min(at), max(at), (SELECT pruned FROM log_head) FROM log_blocks`).
		Scan(&first, &last, &s.Blocks, &s.Records, &s.Bytes, &oldest, &newest, &pruned)
	if err != nil {
		return s, fmt.Errorf("log stats: %w", err)
	}
	if err := db.read.QueryRowContext(ctx, `SELECT legacy FROM derive_state`).Scan(&legacy); err != nil {
		return s, fmt.Errorf("log stats: %w", err)
	}
	s.First, s.Last, s.Pruned = first.Int64, last.Int64, pruned || legacy
	if oldest.Valid {
		s.Oldest, s.Newest = fromMicro(oldest.Int64), fromMicro(newest.Int64)
	}
	return s, nil
}

// PruneLog drops the blocks of the arrival days before the given time's
// day, in batches, and returns their pages to the file. Blocks not yet
// applied to the derived state are kept.
func (db *DB) PruneLog(ctx context.Context, before time.Time) (store.LogPruned, error) {
	var p store.LogPruned
	day := store.Day(before)
	cursor, err := db.Cursor(ctx)
	if err != nil {
		return p, err
	}
	// Nor what a source has not forwarded yet.
	if cursor, err = db.forwardFloor(ctx, cursor); err != nil {
		return p, err
	}
	for {
		var n, recs, through int64
		err := func() error {
			tx, err := db.logw.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(count), 0), coalesce(max(last_seq), 0) FROM (
				SELECT count, last_seq FROM log_blocks WHERE day < ? AND last_seq <= ?
				ORDER BY first_seq LIMIT 1000)`, day, cursor).
				Scan(&n, &recs, &through); err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM log_blocks WHERE first_seq IN (
				SELECT first_seq FROM log_blocks WHERE day < ? AND last_seq <= ?
				ORDER BY first_seq LIMIT 1000)`, day, cursor); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE log_head SET pruned = 1`); err != nil {
				return err
			}
			return tx.Commit()
		}()
		if err != nil {
			return p, fmt.Errorf("prune log before %s: %w", day, err)
		}
		if n == 0 {
			break
		}
		p.Blocks += n
		p.Records += recs
		p.Through = max(p.Through, through)
	}
	if p.Blocks > 0 {
		// Held messages go with their records.
		db.mu.Lock()
		_, err := db.write.ExecContext(ctx, `DELETE FROM forward_held WHERE seq <= ?`, p.Through)
		db.mu.Unlock()
		if err != nil {
			return p, fmt.Errorf("drop held messages of the pruned log: %w", err)
		}
		if _, err := db.logw.ExecContext(ctx, `PRAGMA incremental_vacuum`); err != nil {
			return p, fmt.Errorf("vacuum after pruning the log: %w", err)
		}
	}
	return p, nil
}

// RewriteLog finds the blocks fn changes by reading (appends go on), then
// rewrites each in a short transaction of its own, calling fn again on the
// block as it is then, and finally checkpoints the WAL so the old pages
// (zeroed by secure_delete) leave the write-ahead log too.
func (db *DB) RewriteLog(ctx context.Context, fn func(store.LogBlock) ([]byte, int, bool, error)) error {
	var changed []int64
	err := db.ReadLog(ctx, 0, 1<<62, func(b store.LogBlock) error {
		_, _, ch, err := fn(b)
		if ch {
			changed = append(changed, b.First)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("rewrite log: %w", err)
	}
	for _, first := range changed {
		if err := db.rewriteBlock(ctx, first, fn); err != nil {
			return err
		}
	}
	return checkpoint(ctx, db.logw)
}

func (db *DB) rewriteBlock(ctx context.Context, first int64, fn func(store.LogBlock) ([]byte, int, bool, error)) error {
	tx, err := db.logw.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin log rewrite: %w", err)
	}
	defer tx.Rollback()
	var b store.LogBlock
	var at int64
	err = tx.QueryRowContext(ctx, `SELECT first_seq, last_seq, at, count, data FROM log_blocks WHERE first_seq = ?`, first).
		Scan(&b.First, &b.Last, &at, &b.Count, &b.Data)
	if err == sql.ErrNoRows {
		return nil // pruned meanwhile
	}
	if err != nil {
		return fmt.Errorf("rewrite log block %d: %w", first, err)
	}
	b.At = fromMicro(at)
	data, count, changed, err := fn(b)
	if err != nil || !changed {
		return err
	}
	if len(data) == 0 {
		_, err = tx.ExecContext(ctx, `DELETE FROM log_blocks WHERE first_seq = ?`, b.First)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE log_blocks SET data = ?, count = ? WHERE first_seq = ?`, data, count, b.First)
	}
	if err != nil {
		return fmt.Errorf("rewrite log block %d-%d: %w", b.First, b.Last, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit log rewrite: %w", err)
	}
	return nil
}

// checkpoint copies a file's WAL into the database file and truncates it.
// A reader in the way makes SQLite give up (busy): it is tried again for a
// few seconds, then reported, since the WAL may still hold erased bytes.
func checkpoint(ctx context.Context, w *sql.DB) error {
	for attempt := 0; ; attempt++ {
		var busy, frames, done int
		if err := w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &done); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if busy == 0 {
			return nil
		}
		if attempt == 50 {
			return fmt.Errorf("checkpoint: readers kept the write-ahead log busy; erased bytes may stay in it until the next checkpoint")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// LogHead is the last sequence number assigned.
func (db *DB) LogHead(ctx context.Context) (int64, error) {
	var h int64
	if err := db.logr.QueryRowContext(ctx, `SELECT head FROM log_head`).Scan(&h); err != nil {
		return 0, fmt.Errorf("read log head: %w", err)
	}
	return h, nil
}

// Epoch counts the erasures and resets of the derived state.
func (db *DB) Epoch(ctx context.Context) (int64, error) {
	var e int64
	if err := db.read.QueryRowContext(ctx, `SELECT epoch FROM derive_state`).Scan(&e); err != nil {
		return 0, fmt.Errorf("read derive epoch: %w", err)
	}
	return e, nil
}

// Cursor is the sequence number of the last record applied.
func (db *DB) Cursor(ctx context.Context) (int64, error) {
	var c int64
	if err := db.read.QueryRowContext(ctx, `SELECT cursor FROM derive_state`).Scan(&c); err != nil {
		return 0, fmt.Errorf("read derive cursor: %w", err)
	}
	return c, nil
}

// ResetDerived empties the derived tables and rewinds the cursor.
func (db *DB) ResetDerived(ctx context.Context) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin reset: %w", err)
	}
	defer tx.Rollback()
	for _, t := range derivedTables {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
			return fmt.Errorf("reset %s: %w", t, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE source_counts SET messages = 0, rejected = 0, clamped = 0`); err != nil {
		return fmt.Errorf("reset source counts: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE derive_state SET cursor = 0, epoch = epoch + 1`); err != nil {
		return fmt.Errorf("reset derive cursor: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit reset: %w", err)
	}
	db.guard = store.NewGuard(db.limits)
	clear(db.eventIDs)
	db.applied = 0
	return nil
}

// CorruptBlockForTest flips bytes in the middle of the block that starts at
// first, as disk corruption would: for tests of corrupt-block handling.
func (db *DB) CorruptBlockForTest(ctx context.Context, first int64) error {
	var data []byte
	if err := db.logr.QueryRowContext(ctx, `SELECT data FROM log_blocks WHERE first_seq = ?`, first).Scan(&data); err != nil {
		return fmt.Errorf("corrupt block %d: %w", first, err)
	}
	for i := len(data) / 2; i < len(data)/2+8 && i < len(data); i++ {
		data[i] ^= 0xA5
	}
	if _, err := db.logw.ExecContext(ctx, `UPDATE log_blocks SET data = ? WHERE first_seq = ?`, data, first); err != nil {
		return fmt.Errorf("corrupt block %d: %w", first, err)
	}
	return nil
}

// LogDiskBytes is the size of the log's file and its write-ahead log.
func (db *DB) LogDiskBytes(ctx context.Context) (int64, error) {
	var total int64
	for _, p := range []string{LogPath(db.path), LogPath(db.path) + "-wal"} {
		fi, err := os.Stat(p)
		switch {
		case err == nil:
			total += fi.Size()
		case !errors.Is(err, fs.ErrNotExist):
			return 0, fmt.Errorf("log size: %w", err)
		}
	}
	return total, nil
}
