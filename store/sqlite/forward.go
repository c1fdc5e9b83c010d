package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/trackplan/trackplan/store"
)

// ForwardStart returns the source's state, creating it at start.
func (db *DB) ForwardStart(ctx context.Context, source string, start int64) (store.ForwardState, error) {
	db.mu.Lock()
	_, err := db.write.ExecContext(ctx, `INSERT INTO forward_cursors (source, seq, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (source) DO NOTHING`, source, start, micro(time.Now()))
	db.mu.Unlock()
	if err != nil {
		return store.ForwardState{}, fmt.Errorf("start forwarding %s: %w", source, err)
	}
	states, err := db.forwardStates(ctx, source)
	if err != nil {
		return store.ForwardState{}, err
	}
	return states[0], nil
}

// ForwardAdvance moves the cursor from from to to if it is at from.
func (db *DB) ForwardAdvance(ctx context.Context, source string, from, to, forwarded int64, held []store.HeldMessage) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin forward advance: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE forward_cursors SET seq = ?, forwarded = forwarded + ?, updated_at = ?,
		last_error = '', last_error_at = 0 WHERE source = ? AND seq = ?`, to, forwarded, micro(time.Now()), source, from)
	if err != nil {
		return fmt.Errorf("move forward cursor of %s: %w", source, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("move forward cursor of %s: %w", source, err)
	} else if n != 1 {
		return fmt.Errorf("move forward cursor of %s from %d: %w", source, from, store.ErrCursorMoved)
	}
	if err := insertHeld(ctx, tx, source, held); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit forward advance: %w", err)
	}
	return nil
}

func insertHeld(ctx context.Context, tx *sql.Tx, source string, held []store.HeldMessage) error {
	if len(held) == 0 {
		return nil
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO forward_held (source, seq, reason, message_id, arrived, detail)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, seq) DO UPDATE SET reason = excluded.reason, detail = excluded.detail`)
	if err != nil {
		return fmt.Errorf("hold messages of %s: %w", source, err)
	}
	defer ins.Close()
	for _, h := range held {
		if _, err := ins.ExecContext(ctx, source, h.Seq, h.Reason, h.MessageID, micro(h.Arrived), h.Detail); err != nil {
			return fmt.Errorf("hold message %d of %s: %w", h.Seq, source, err)
		}
	}
	return nil
}

// ForwardFailed records the source's last error.
func (db *DB) ForwardFailed(ctx context.Context, source, msg string, at time.Time) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if _, err := db.write.ExecContext(ctx, `UPDATE forward_cursors SET last_error = ?, last_error_at = ? WHERE source = ?`,
		msg, micro(at), source); err != nil {
		return fmt.Errorf("record forwarding error of %s: %w", source, err)
	}
	return nil
}

// ForwardStates returns every source's state.
func (db *DB) ForwardStates(ctx context.Context) ([]store.ForwardState, error) {
	return db.forwardStates(ctx, "")
}

func (db *DB) forwardStates(ctx context.Context, only string) ([]store.ForwardState, error) {
	rows, err := db.write.QueryContext(ctx, `SELECT source, seq, forwarded, updated_at, last_error, last_error_at
		FROM forward_cursors WHERE ? = '' OR source = ? ORDER BY source`, only, only)
	if err != nil {
		return nil, fmt.Errorf("read forwarding state: %w", err)
	}
	var out []store.ForwardState
	for rows.Next() {
		var (
			s          store.ForwardState
			upd, errAt int64
		)
		if err := rows.Scan(&s.Source, &s.Cursor, &s.Forwarded, &upd, &s.LastError, &errAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read forwarding state: %w", err)
		}
		s.Updated = fromMicro(upd)
		if errAt != 0 {
			s.ErrorAt = fromMicro(errAt)
		}
		s.Held = map[string]int64{}
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read forwarding state: %w", err)
	}
	held, err := db.write.QueryContext(ctx, `SELECT source, reason, count(*) FROM forward_held
		WHERE ? = '' OR source = ? GROUP BY source, reason`, only, only)
	if err != nil {
		return nil, fmt.Errorf("count held messages: %w", err)
	}
	defer held.Close()
	for held.Next() {
		var (
			source, reason string
			n              int64
		)
		if err := held.Scan(&source, &reason, &n); err != nil {
			return nil, fmt.Errorf("count held messages: %w", err)
		}
		for i := range out {
			if out[i].Source == source {
				out[i].Held[reason] = n
			}
		}
	}
	if err := held.Err(); err != nil {
		return nil, fmt.Errorf("count held messages: %w", err)
	}
	if only != "" && len(out) == 0 {
		return nil, fmt.Errorf("forwarding state of %s: none", only)
	}
	return out, nil
}

// ForwardHeld returns a page of a source's held messages since a time.
func (db *DB) ForwardHeld(ctx context.Context, source string, since time.Time, after int64, limit int) ([]store.HeldMessage, error) {
	var held []store.HeldMessage
	err := db.each(ctx, `SELECT seq, reason, message_id, arrived, detail FROM forward_held
		WHERE source = ? AND arrived >= ? AND seq > ? ORDER BY seq LIMIT ?`, []any{source, micro(since), after, limit},
		func(rows *sql.Rows) error {
			var (
				h  store.HeldMessage
				at int64
			)
			if err := rows.Scan(&h.Seq, &h.Reason, &h.MessageID, &at, &h.Detail); err != nil {
				return err
			}
			h.Arrived = fromMicro(at)
			held = append(held, h)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read held messages of %s: %w", source, err)
	}
	return held, nil
}

// ForwardRelease removes held messages and counts them as forwarded.
func (db *DB) ForwardRelease(ctx context.Context, source string, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin release: %w", err)
	}
	defer tx.Rollback()
	var released int64
	for _, seq := range seqs {
		res, err := tx.ExecContext(ctx, `DELETE FROM forward_held WHERE source = ? AND seq = ?`, source, seq)
		if err != nil {
			return fmt.Errorf("release message %d of %s: %w", seq, source, err)
		}
		n, _ := res.RowsAffected()
		released += n
	}
	if _, err := tx.ExecContext(ctx, `UPDATE forward_cursors SET forwarded = forwarded + ? WHERE source = ?`, released, source); err != nil {
		return fmt.Errorf("count released messages of %s: %w", source, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit release: %w", err)
	}
	return nil
}

// ForwardRetire drops the state of the sources not in keep.
func (db *DB) ForwardRetire(ctx context.Context, keep []string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	cond, args := "1 = 1", []any{}
	if len(keep) > 0 {
		cond = "source NOT IN (?" + strings.Repeat(", ?", len(keep)-1) + ")"
		for _, k := range keep {
			args = append(args, k)
		}
	}
	for _, table := range []string{"forward_cursors", "forward_held"} {
		if _, err := db.write.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+cond, args...); err != nil {
			return fmt.Errorf("retire forwarding state: %w", err)
		}
	}
	return nil
}

// forwardFloor is the lowest forwarding cursor, or max when no source
// forwards: the log after it must be kept.
func (db *DB) forwardFloor(ctx context.Context, max int64) (int64, error) {
	var floor sql.NullInt64
	if err := db.write.QueryRowContext(ctx, `SELECT min(seq) FROM forward_cursors`).Scan(&floor); err != nil {
		return 0, fmt.Errorf("read forwarding cursors: %w", err)
	}
	if !floor.Valid {
		return max, nil
	}
	return min(floor.Int64, max), nil
}
