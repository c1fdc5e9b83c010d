package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan/store"
)

// derivedTables are emptied by ResetDerived: everything Apply writes but the
// source counters, whose duplicates are not derived.
var derivedTables = []string{
	"events", "event_daily", "event_hourly", "properties", "property_types", "violations", "rejections",
	"users", "user_traits", "accounts", "account_traits", "memberships", "identity_links", "anonymous_ids",
	"activity_daily", "activity_total", "reservoir", "quarantine",
}

// pruneLockTimeout bounds how long PruneLog waits to lock log_blocks.
const pruneLockTimeout = `'2s'`

const blockColumns = `first_seq, last_seq, at, count, data`

func scanBlock(row pgx.Row) (store.LogBlock, error) {
	var b store.LogBlock
	err := row.Scan(&b.First, &b.Last, &b.At, &b.Count, &b.Data)
	b.At = b.At.UTC()
	return b, err
}

// ReadLog calls fn with the blocks after sequence number after, in order,
// until about maxRecords records were read. The query asks only for the
// blocks that can be needed, so a large log is not sent whole.
func (db *DB) ReadLog(ctx context.Context, after int64, maxRecords int, fn func(store.LogBlock) error) error {
	// A cursor inside a block (left by a quarantine) reads that block too.
	var inside *int64
	if err := db.pool.QueryRow(ctx, `SELECT CASE WHEN last_seq > $1 THEN first_seq END FROM log_blocks
		WHERE first_seq <= $1 ORDER BY first_seq DESC LIMIT 1`, after).Scan(&inside); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("read log after %d: %w", after, err)
	}
	if inside != nil {
		after = *inside - 1
	}
	rows, err := db.pool.Query(ctx, `SELECT `+blockColumns+` FROM log_blocks
		WHERE first_seq > $1 AND first_seq < (SELECT min(first_seq) FROM log_blocks WHERE first_seq > $1) + $2::bigint
		ORDER BY first_seq`, after, maxRecords)
	if err != nil {
		return fmt.Errorf("read log after %d: %w", after, err)
	}
	defer rows.Close()
	read := 0
	for read < maxRecords && rows.Next() {
		b, err := scanBlock(rows)
		if err != nil {
			return fmt.Errorf("read log after %d: %w", after, err)
		}
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

// LogHead is the last sequence number assigned.
func (db *DB) LogHead(ctx context.Context) (int64, error) {
	var h int64
	if err := db.pool.QueryRow(ctx, `SELECT head FROM log_state`).Scan(&h); err != nil {
		return 0, fmt.Errorf("read log head: %w", err)
	}
	return h, nil
}

// LogStats describes the log.
func (db *DB) LogStats(ctx context.Context) (store.LogStats, error) {
	var (
		s              store.LogStats
		oldest, newest *time.Time
	)
	err := db.pool.QueryRow(ctx, `SELECT coalesce(min(first_seq), 0), coalesce(max(last_seq), 0), count(*),
		coalesce(sum(count), 0)::bigint, coalesce(sum(octet_length(data)), 0)::bigint, min(at), max(at),
		(SELECT pruned FROM log_state) FROM log_blocks`).
		Scan(&s.First, &s.Last, &s.Blocks, &s.Records, &s.Bytes, &oldest, &newest, &s.Pruned)
	if err != nil {
		return s, fmt.Errorf("log stats: %w", err)
	}
	if oldest != nil {
		s.Oldest, s.Newest = oldest.UTC(), newest.UTC()
	}
	return s, nil
}

// PruneLog drops the partitions of the arrival days before the given
// time's day, each in a transaction of its own. A partition holding a block
// not yet applied to the derived state is kept, for a later prune: each
// transaction holds a share lock on the cursor, so it cannot move back
// (ResetDerived), and an exclusive lock on log_blocks, taken before the
// partition is read, so no block is added to it meanwhile. That lock stops
// appends and reads for a moment; it is waited for at most pruneLockTimeout,
// so that a prune queued behind a long transaction (a RewriteLog) does not
// hold up appends: the prune fails and the next one drops the partition.
func (db *DB) PruneLog(ctx context.Context, before time.Time) (store.LogPruned, error) {
	var p store.LogPruned
	cutoff := store.Day(before)
	days, err := db.partitionDays(ctx)
	if err != nil {
		return p, err
	}
	for _, d := range days {
		day := d.Format(time.DateOnly)
		if day >= cutoff {
			break
		}
		var (
			part             = partitionName(d)
			n, recs, through int64
			gone             bool // dropped, by this prune or another replica's
		)
		err := retry(ctx, func() error {
			n, recs, through, gone = 0, 0, 0, false
			return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
				var cur, floor int64
				var exists bool
				err := runBatch(ctx, tx, []stmt{
					{name: "set lock timeout", sql: `SET LOCAL lock_timeout = ` + pruneLockTimeout},
					{name: "lock derive cursor", sql: `SELECT cursor FROM derive_state FOR SHARE`,
						rows: scanOne(&cur)},
					// Nor what a source has not forwarded yet.
					{name: "read forwarding cursors", sql: `SELECT coalesce(min(seq), 9223372036854775807) FROM forward_cursors`,
						rows: scanOne(&floor)},
					{name: "lock log", sql: `LOCK TABLE ONLY log_blocks IN ACCESS EXCLUSIVE MODE`},
					{name: "find partition", sql: `SELECT to_regclass($1) IS NOT NULL`,
						args: []any{part}, rows: scanOne(&exists)},
				})
				if err != nil {
					return err
				}
				if !exists {
					gone = true // by another replica
					return nil
				}
				if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(count), 0)::bigint, coalesce(max(last_seq), 0)
					FROM `+part).Scan(&n, &recs, &through); err != nil {
					return fmt.Errorf("read partition: %w", err)
				}
				if through > min(cur, floor) {
					return nil // not all applied or forwarded yet
				}
				if _, err := tx.Exec(ctx, `DROP TABLE `+part); err != nil {
					return fmt.Errorf("drop partition: %w", err)
				}
				gone = true
				if n == 0 {
					return nil
				}
				_, err = tx.Exec(ctx, `UPDATE log_state SET pruned = true WHERE NOT pruned`)
				return err
			})
		})
		if err != nil {
			return p, fmt.Errorf("prune log of %s: %w", day, err)
		}
		if !gone {
			continue
		}
		db.forgetPartition(day)
		p.Blocks += n
		p.Records += recs
		p.Through = max(p.Through, through)
	}
	if p.Through > 0 {
		// Held messages go with their records.
		if _, err := db.pool.Exec(ctx, `DELETE FROM forward_held WHERE seq <= $1`, p.Through); err != nil {
			return p, fmt.Errorf("drop held messages of the pruned log: %w", err)
		}
	}
	return p, nil
}

// scanOne reads the single row of one column a statement returns into dst.
func scanOne[T any](dst *T) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		v, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[T])
		*dst = v
		return err
	}
}

// RewriteLog rewrites the blocks fn changes, in one transaction that locks
// each block it reads (a concurrent rewrite waits, then reads the rewritten
// block), and then vacuums the table, so the old row versions are removed
// from it. PostgreSQL does not zero the freed space: the old bytes stay on
// disk, unreachable, until it is reused, and in the write-ahead log until it
// is recycled.
func (db *DB) RewriteLog(ctx context.Context, fn func(store.LogBlock) ([]byte, int, bool, error)) error {
	changed := false
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var after int64
		for {
			b, err := scanBlock(tx.QueryRow(ctx, `SELECT `+blockColumns+` FROM log_blocks
				WHERE first_seq > $1 ORDER BY first_seq LIMIT 1 FOR UPDATE`, after))
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("rewrite log: %w", err)
			}
			after = b.First
			data, count, ok, err := fn(b)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			changed = true
			if len(data) == 0 {
				_, err = tx.Exec(ctx, `DELETE FROM log_blocks WHERE first_seq = $1`, b.First)
			} else {
				_, err = tx.Exec(ctx, `UPDATE log_blocks SET data = $1, count = $2 WHERE first_seq = $3`, data, count, b.First)
			}
			if err != nil {
				return fmt.Errorf("rewrite log block %d-%d: %w", b.First, b.Last, err)
			}
		}
	})
	if err != nil || !changed {
		return err
	}
	if _, err := db.pool.Exec(ctx, `VACUUM log_blocks`); err != nil {
		return fmt.Errorf("vacuum the rewritten log: %w", err)
	}
	return nil
}

// Epoch counts the erasures and resets of the derived state.
func (db *DB) Epoch(ctx context.Context) (int64, error) {
	var e int64
	if err := db.pool.QueryRow(ctx, `SELECT epoch FROM derive_state`).Scan(&e); err != nil {
		return 0, fmt.Errorf("read derive epoch: %w", err)
	}
	return e, nil
}

// Cursor is the sequence number of the last record applied.
func (db *DB) Cursor(ctx context.Context) (int64, error) {
	var c int64
	if err := db.pool.QueryRow(ctx, `SELECT cursor FROM derive_state`).Scan(&c); err != nil {
		return 0, fmt.Errorf("read derive cursor: %w", err)
	}
	return c, nil
}

// ResetDerived empties the derived tables and rewinds the cursor, in one
// transaction that holds the cursor's lock, then forgets what this
// replica's guard learnt. Other replicas keep their guards until they open
// again.
func (db *DB) ResetDerived(ctx context.Context) error {
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			return runBatch(ctx, tx, []stmt{
				{name: "lock derive cursor", sql: `SELECT cursor FROM derive_state FOR UPDATE`},
				{name: "empty derived tables", sql: `TRUNCATE ` + strings.Join(derivedTables, ", ")},
				{name: "reset source counts", sql: `UPDATE source_counts SET messages = 0, rejected = 0, clamped = 0
					WHERE messages <> 0 OR rejected <> 0 OR clamped <> 0`},
				{name: "reset derive cursor", sql: `UPDATE derive_state SET cursor = 0, epoch = epoch + 1`},
			})
		})
	})
	if err != nil {
		return fmt.Errorf("reset derived state: %w", err)
	}
	db.guardMu.Lock()
	db.guard, db.applied = store.NewGuard(db.limits), 0
	db.guardMu.Unlock()
	return nil
}

// LogDiskBytes is the size on disk of the log's partitions, indexes and
// TOAST included, from the catalog.
func (db *DB) LogDiskBytes(ctx context.Context) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0)::bigint
		FROM pg_inherits WHERE inhparent = 'log_blocks'::regclass`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("log size: %w", err)
	}
	return n, nil
}
