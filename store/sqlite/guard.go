package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/trackplan/trackplan/store"
)

// eventChildren are the tables whose rows belong to an events row.
var eventChildren = []string{"event_daily", "properties", "property_types", "reservoir"}

// pruneEvents drops the events last seen before `before`, with their
// properties, volumes, reservoir and verdicts: they left retention, and
// the slots they held in the cardinality guard are free for new events.
// When it dropped any it moves the epoch, so every process reloads its
// guard (and event ids) before its next Apply. Called with db.mu held.
func (db *DB) pruneEvents(ctx context.Context, before time.Time) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("prune events: %w", err)
	}
	defer tx.Rollback()
	cut := micro(before)
	gone := `SELECT id FROM events WHERE last_seen < ?`
	for _, table := range eventChildren {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE event_id IN (`+gone+`)`, cut); err != nil {
			return fmt.Errorf("prune events' %s: %w", table, err)
		}
	}
	// The hourly rows of such an event are all in hours up to the one
	// holding `before`: the others went with their hours.
	hour := store.Hour(before)
	if _, err := tx.ExecContext(ctx, `DELETE FROM event_hourly WHERE hour <= ? AND event_id IN (`+gone+`)`, hour, cut); err != nil {
		return fmt.Errorf("prune events' event_hourly: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM violations WHERE hour <= ? AND (source, type, event) IN (
		SELECT source, type, name FROM events WHERE last_seen < ?)`, hour, cut); err != nil {
		return fmt.Errorf("prune events' violations: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE last_seen < ?`, cut)
	if err != nil {
		return fmt.Errorf("prune events: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("prune events: %w", err)
	}
	if n == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE derive_state SET epoch = epoch + 1`); err != nil {
		return fmt.Errorf("prune events: move the epoch: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("prune events: %w", err)
	}
	db.applied = -1 // reload the guard and event ids at the next Apply
	return nil
}
