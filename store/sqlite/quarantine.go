package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/trackplan/trackplan/store"
)

// Quarantine records that the record seq could not be applied and moves the
// cursor from from to to, in one transaction, if the cursor is at from and
// the epoch is epoch.
func (db *DB) Quarantine(ctx context.Context, from, to, epoch, seq int64, reason string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin quarantine: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE derive_state SET cursor = ? WHERE cursor = ? AND epoch = ?`, to, from, epoch)
	if err != nil {
		return fmt.Errorf("move derive cursor: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("move derive cursor: %w", err)
	} else if n != 1 {
		return fmt.Errorf("quarantine record %d: %w", seq, store.ErrCursorMoved)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO quarantine (seq, reason, at) VALUES (?, ?, ?)
		ON CONFLICT (seq) DO UPDATE SET reason = excluded.reason, at = excluded.at`,
		seq, store.QuarantineReason(reason), micro(time.Now())); err != nil {
		return fmt.Errorf("quarantine record %d: %w", seq, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit quarantine: %w", err)
	}
	if db.applied == from {
		db.applied = to // the guard is still right: nothing was added
	}
	return nil
}

// Quarantined lists the quarantined records, by sequence number.
func (db *DB) Quarantined(ctx context.Context) ([]store.QuarantineEntry, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT seq, reason, at FROM quarantine ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	defer rows.Close()
	var out []store.QuarantineEntry
	for rows.Next() {
		var (
			e  store.QuarantineEntry
			at int64
		)
		if err := rows.Scan(&e.Seq, &e.Reason, &at); err != nil {
			return nil, fmt.Errorf("read quarantine: %w", err)
		}
		e.At = fromMicro(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read quarantine: %w", err)
	}
	return out, nil
}
