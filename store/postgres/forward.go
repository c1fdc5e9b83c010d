package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan/store"
)

// ForwardStart returns the source's state, creating it at start.
func (db *DB) ForwardStart(ctx context.Context, source string, start int64) (store.ForwardState, error) {
	if _, err := db.pool.Exec(ctx, `INSERT INTO forward_cursors (source, seq, updated_at) VALUES ($1, $2, now())
		ON CONFLICT (source) DO NOTHING`, text(source), start); err != nil {
		return store.ForwardState{}, fmt.Errorf("start forwarding %s: %w", source, err)
	}
	states, err := db.forwardStates(ctx, source)
	if err != nil {
		return store.ForwardState{}, err
	}
	if len(states) == 0 {
		return store.ForwardState{}, fmt.Errorf("forwarding state of %s: none", source)
	}
	return states[0], nil
}

// ForwardAdvance moves the cursor from from to to if it is at from.
func (db *DB) ForwardAdvance(ctx context.Context, source string, from, to, forwarded int64, held []store.HeldMessage) error {
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `UPDATE forward_cursors SET seq = $1, forwarded = forwarded + $2, updated_at = now(),
				last_error = '', last_error_at = NULL WHERE source = $3 AND seq = $4`, to, forwarded, text(source), from)
			if err != nil {
				return fmt.Errorf("move forward cursor: %w", err)
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("move forward cursor from %d: %w", from, store.ErrCursorMoved)
			}
			return insertHeld(ctx, tx, source, held)
		})
	})
	if err != nil {
		return fmt.Errorf("forward advance of %s: %w", source, err)
	}
	return nil
}

func insertHeld(ctx context.Context, tx pgx.Tx, source string, held []store.HeldMessage) error {
	if len(held) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, h := range held {
		b.Queue(`INSERT INTO forward_held (source, seq, reason, message_id, arrived, detail) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (source, seq) DO UPDATE SET reason = excluded.reason, detail = excluded.detail`,
			text(source), h.Seq, h.Reason, text(h.MessageID), h.Arrived, text(h.Detail))
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("hold messages: %w", err)
	}
	return nil
}

// ForwardFailed records the source's last error.
func (db *DB) ForwardFailed(ctx context.Context, source, msg string, at time.Time) error {
	if _, err := db.pool.Exec(ctx, `UPDATE forward_cursors SET last_error = $1, last_error_at = $2 WHERE source = $3`,
		text(msg), at, text(source)); err != nil {
		return fmt.Errorf("record forwarding error of %s: %w", source, err)
	}
	return nil
}

// ForwardStates returns every source's state.
func (db *DB) ForwardStates(ctx context.Context) ([]store.ForwardState, error) {
	return db.forwardStates(ctx, "")
}

func (db *DB) forwardStates(ctx context.Context, only string) ([]store.ForwardState, error) {
	rows, err := db.pool.Query(ctx, `SELECT source, seq, forwarded, updated_at, last_error, last_error_at
		FROM forward_cursors WHERE $1 = '' OR source = $1 ORDER BY source`, text(only))
	if err != nil {
		return nil, fmt.Errorf("read forwarding state: %w", err)
	}
	var out []store.ForwardState
	for rows.Next() {
		var (
			s     store.ForwardState
			errAt *time.Time
		)
		if err := rows.Scan(&s.Source, &s.Cursor, &s.Forwarded, &s.Updated, &s.LastError, &errAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read forwarding state: %w", err)
		}
		s.Updated = s.Updated.UTC()
		if errAt != nil {
			s.ErrorAt = errAt.UTC()
		}
		s.Held = map[string]int64{}
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read forwarding state: %w", err)
	}
	held, err := db.pool.Query(ctx, `SELECT source, reason, count(*) FROM forward_held
		WHERE $1 = '' OR source = $1 GROUP BY source, reason`, text(only))
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
	return out, nil
}

// ForwardHeld returns a page of a source's held messages since a time.
func (db *DB) ForwardHeld(ctx context.Context, source string, since time.Time, after int64, limit int) ([]store.HeldMessage, error) {
	rows, err := db.pool.Query(ctx, `SELECT seq, reason, message_id, arrived, detail FROM forward_held
		WHERE source = $1 AND arrived >= $2 AND seq > $3 ORDER BY seq LIMIT $4`, text(source), since, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read held messages of %s: %w", source, err)
	}
	held, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.HeldMessage, error) {
		var h store.HeldMessage
		err := r.Scan(&h.Seq, &h.Reason, &h.MessageID, &h.Arrived, &h.Detail)
		h.Arrived = h.Arrived.UTC()
		return h, err
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
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `DELETE FROM forward_held WHERE source = $1 AND seq = ANY($2)`, text(source), seqs)
			if err != nil {
				return fmt.Errorf("release held messages: %w", err)
			}
			_, err = tx.Exec(ctx, `UPDATE forward_cursors SET forwarded = forwarded + $1 WHERE source = $2`,
				tag.RowsAffected(), text(source))
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("release held messages of %s: %w", source, err)
	}
	return nil
}

// ForwardRetire drops the state of the sources not in keep.
func (db *DB) ForwardRetire(ctx context.Context, keep []string) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for _, table := range []string{"forward_cursors", "forward_held"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE NOT (source = ANY($1))`, texts(keep)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("retire forwarding state: %w", err)
	}
	return nil
}
