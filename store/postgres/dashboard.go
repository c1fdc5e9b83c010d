package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// EventDaily streams each event's daily volume in [from, to).
func (db *DB) EventDaily(ctx context.Context, from, to time.Time, fn func(typ trackplan.CallType, name string, day time.Time, count int64) error) error {
	return db.each(ctx, "read daily event volumes", `SELECT e.type, e.name, d.day::text, sum(d.count)::bigint
		FROM event_daily d JOIN events e ON e.id = d.event_id
		WHERE d.day >= $1::text::date AND d.day <= $2::text::date
		GROUP BY e.type, e.name, d.day ORDER BY e.type, e.name, d.day`,
		[]any{store.Day(from), store.Day(to.Add(-time.Nanosecond))}, func(rows pgx.Rows) error {
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
			return fn(trackplan.CallType(t), name, d, n)
		})
}

// AccountTraitsOf returns an account's merged traits.
func (db *DB) AccountTraitsOf(ctx context.Context, groupID string) (map[string]json.RawMessage, error) {
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM accounts WHERE group_id = $1`, text(groupID)).Scan(&n); err != nil {
		return nil, fmt.Errorf("read account: %w", err)
	}
	if n == 0 {
		return nil, fmt.Errorf("account %q: %w", groupID, trackplan.ErrNotFound)
	}
	out := map[string]json.RawMessage{}
	err := db.each(ctx, "read account traits", `SELECT name, value::text FROM account_traits
		WHERE group_id = $1 AND value <> 'null'::jsonb ORDER BY name`, []any{text(groupID)}, func(rows pgx.Rows) error {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return err
		}
		out[name] = json.RawMessage(value)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AccountActivity returns what the account's members did of the events.
func (db *DB) AccountActivity(ctx context.Context, groupID string, events []string, from, to time.Time) ([]store.EventUse, error) {
	if len(events) == 0 {
		return nil, nil
	}
	names := make([]string, len(events))
	for i, e := range events {
		names[i] = text(e)
	}
	var out []store.EventUse
	err := db.each(ctx, "read account activity", `SELECT t.event, sum(t.count)::bigint, max(t.last_seen),
		coalesce((SELECT sum(d.count) FROM activity_daily d JOIN memberships m2 ON m2.user_id = d.user_id
			WHERE m2.group_id = $1 AND d.event = t.event AND d.day >= $2::text::date AND d.day <= $3::text::date), 0)::bigint
		FROM activity_total t JOIN memberships m ON m.user_id = t.user_id
		WHERE m.group_id = $1 AND t.event = ANY($4) GROUP BY t.event ORDER BY t.event`,
		[]any{text(groupID), store.Day(from), store.Day(to.Add(-time.Nanosecond)), names}, func(rows pgx.Rows) error {
			var u store.EventUse
			if err := rows.Scan(&u.Event, &u.Total, &u.LastSeen, &u.Window); err != nil {
				return err
			}
			u.LastSeen = u.LastSeen.UTC()
			out = append(out, u)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}
