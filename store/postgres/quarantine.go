package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan/store"
)

// Quarantine records that the record seq could not be applied and moves the
// cursor from from to to, in one transaction holding the cursor's row lock
// (as Apply does), if the cursor is at from and the epoch is epoch.
func (db *DB) Quarantine(ctx context.Context, from, to, epoch, seq int64, reason string) error {
	reason = text(store.QuarantineReason(reason))
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			var cur, ep int64
			if err := tx.QueryRow(ctx, `SELECT cursor, epoch FROM derive_state FOR UPDATE`).Scan(&cur, &ep); err != nil {
				return fmt.Errorf("lock derive cursor: %w", err)
			}
			if cur != from || ep != epoch {
				return fmt.Errorf("quarantine record %d: cursor at %d, epoch %d: %w", seq, cur, ep, store.ErrCursorMoved)
			}
			return runBatch(ctx, tx, []stmt{
				{name: "quarantine record", sql: `INSERT INTO quarantine (seq, reason, at) VALUES ($1, $2, $3)
					ON CONFLICT (seq) DO UPDATE SET reason = excluded.reason, at = excluded.at`,
					args: []any{seq, reason, time.Now()}},
				{name: "move derive cursor", sql: `UPDATE derive_state SET cursor = $1`, args: []any{to}},
			})
		})
	})
	if err != nil {
		return fmt.Errorf("quarantine record %d: %w", seq, err)
	}
	db.guardMu.Lock()
	if db.applied == from {
		db.applied = to // the guard is still right: nothing was added
	}
	db.guardMu.Unlock()
	return nil
}

// Quarantined lists the quarantined records, by sequence number.
func (db *DB) Quarantined(ctx context.Context) ([]store.QuarantineEntry, error) {
	rows, err := db.pool.Query(ctx, `SELECT seq, reason, at FROM quarantine ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	defer rows.Close()
	var out []store.QuarantineEntry
	for rows.Next() {
		var e store.QuarantineEntry
		if err := rows.Scan(&e.Seq, &e.Reason, &e.At); err != nil {
			return nil, fmt.Errorf("read quarantine: %w", err)
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	return out, nil
}
