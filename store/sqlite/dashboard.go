package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// EventDaily streams each event's daily volume in [from, to).
func (db *DB) EventDaily(ctx context.Context, from, to time.Time, fn func(typ trackplan.CallType, name string, day time.Time, count int64) error) error {
	return db.each(ctx, `SELECT e.type, e.name, d.day, sum(d.count) FROM event_daily d JOIN events e ON e.id = d.event_id
		WHERE d.day >= ? AND d.day <= ? GROUP BY e.type, e.name, d.day ORDER BY e.type, e.name, d.day`,
		[]any{store.Day(from), store.Day(to.Add(-time.Nanosecond))}, func(rows *sql.Rows) error {
			var (
				t, name, day string
				n            int64
			)
			if err := rows.Scan(&t, &name, &day, &n); err != nil {
				return err
			}
			d, err := time.Parse(time.DateOnly, day)
			if err != nil {
				return fmt.Errorf("bad day %q: %w", day, err)
			}
			return fn(callType(t), name, d, n)
		})
}

// AccountTraitsOf returns an account's merged traits.
func (db *DB) AccountTraitsOf(ctx context.Context, groupID string) (map[string]json.RawMessage, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE group_id = ?`, groupID).Scan(&n); err != nil {
		return nil, fmt.Errorf("read account: %w", err)
	}
	if n == 0 {
		return nil, fmt.Errorf("account %q: %w", groupID, trackplan.ErrNotFound)
	}
	out := map[string]json.RawMessage{}
	err := db.each(ctx, `SELECT name, value FROM account_traits WHERE group_id = ? AND value <> 'null' ORDER BY name`,
		[]any{groupID}, func(rows *sql.Rows) error {
			var name, value string
			if err := rows.Scan(&name, &value); err != nil {
				return err
			}
			out[name] = json.RawMessage(value)
			return nil
		})
	return out, err
}

// AccountActivity returns what the account's members did of the events.
func (db *DB) AccountActivity(ctx context.Context, groupID string, events []string, from, to time.Time) ([]store.EventUse, error) {
	if len(events) == 0 {
		return nil, nil
	}
	args := append([]any{store.Day(from), store.Day(to.Add(-time.Nanosecond)), groupID}, anys(events)...)
	var out []store.EventUse
	err := db.each(ctx, `SELECT t.event, coalesce(sum(t.count), 0), max(t.last_seen), coalesce((SELECT sum(d.count)
			FROM activity_daily d JOIN memberships m2 ON m2.user_id = d.user_id
			WHERE m2.group_id = m.group_id AND d.event = t.event AND d.day >= ? AND d.day <= ?), 0)
		FROM activity_total t JOIN memberships m ON m.user_id = t.user_id
		WHERE m.group_id = ? AND t.event IN (`+placeholders(len(events))+`)
		GROUP BY t.event ORDER BY t.event`, args, func(rows *sql.Rows) error {
		var (
			u    store.EventUse
			last int64
		)
		if err := rows.Scan(&u.Event, &u.Total, &last, &u.Window); err != nil {
			return err
		}
		u.LastSeen = fromMicro(last)
		out = append(out, u)
		return nil
	})
	return out, err
}
