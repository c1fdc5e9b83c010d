package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan/store"
)

// pruneEvents drops the events last seen before `before`, with their
// properties, volumes, reservoir and verdicts: they left retention, and
// the slots they held in the cardinality guard are free for new events.
// It holds the cursor's lock, as Apply does first, so it never deadlocks
// with one; when it dropped any it moves the epoch, so every replica
// reloads its guard before its next Apply.
func (db *DB) pruneEvents(ctx context.Context, before time.Time) error {
	var dropped int64
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			gone := `SELECT id FROM events WHERE last_seen < $1`
			stmts := []stmt{{name: "lock derive cursor", sql: `SELECT cursor FROM derive_state FOR UPDATE`}}
			for _, table := range []string{"event_daily", "properties", "property_types", "reservoir"} {
				stmts = append(stmts, stmt{name: "prune events' " + table, args: []any{before},
					sql: `DELETE FROM ` + table + ` WHERE event_id IN (` + gone + `)`})
			}
			// The hourly rows of such an event are all in hours up to the
			// one holding `before`: the others went with their hours.
			hour := store.Hour(before)
			stmts = append(stmts,
				stmt{name: "prune events' event_hourly", args: []any{hour, before},
					sql: `DELETE FROM event_hourly WHERE hour <= $1 AND event_id IN (SELECT id FROM events WHERE last_seen < $2)`},
				stmt{name: "prune events' violations", args: []any{hour, before},
					sql: `DELETE FROM violations WHERE hour <= $1 AND (source, type, event) IN (
						SELECT source, type, name FROM events WHERE last_seen < $2)`},
				stmt{name: "prune events", args: []any{before},
					sql: `WITH d AS (DELETE FROM events WHERE last_seen < $1 RETURNING 1),
						e AS (UPDATE derive_state SET epoch = epoch + 1 WHERE EXISTS (SELECT 1 FROM d) RETURNING 1)
						SELECT count(*) FROM d`,
					rows: func(rows pgx.Rows) error {
						for rows.Next() {
							if err := rows.Scan(&dropped); err != nil {
								return err
							}
						}
						return rows.Err()
					}})
			return runBatch(ctx, tx, stmts)
		})
	})
	if err != nil {
		return fmt.Errorf("prune events: %w", err)
	}
	if dropped > 0 {
		db.guardMu.Lock()
		db.guardStale = true
		db.guardMu.Unlock()
	}
	return nil
}
