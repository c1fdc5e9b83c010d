package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// EventVolumes counts each event's messages on the UTC days in [from, to).
func (db *DB) EventVolumes(ctx context.Context, from, to time.Time) (map[store.EventKey]int64, error) {
	out := map[store.EventKey]int64{}
	err := db.each(ctx, "read event volumes", `SELECT e.source, e.type, e.name, sum(d.count)::bigint
		FROM event_daily d JOIN events e ON e.id = d.event_id
		WHERE d.day >= $1::text::date AND d.day <= $2::text::date GROUP BY e.id`,
		[]any{store.Day(from), store.Day(to.Add(-time.Nanosecond))}, func(rows pgx.Rows) error {
			var (
				k store.EventKey
				t string
				n int64
			)
			if err := rows.Scan(&k.Source, &t, &k.Name, &n); err != nil {
				return err
			}
			k.Type = trackplan.CallType(t)
			out[k] = n
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Hygiene counts users and accounts missing best-practice traits: a trait
// counts as present unless absent or cleared (null).
func (db *DB) Hygiene(ctx context.Context, nameTrait string) (store.Hygiene, error) {
	var h store.Hygiene
	// One pass over the traits and the memberships, joined by hash: on
	// 150,000 users this took 0.85 s where a lookup per user took 2 s.
	err := db.pool.QueryRow(ctx, `WITH t AS (
			SELECT user_id, bool_or(name = 'email') AS email, bool_or(name IN ('name', 'first_name')) AS named,
				bool_or(name IN ('created_at', 'createdAt')) AS created
			FROM user_traits
			WHERE name IN ('email', 'name', 'first_name', 'created_at', 'createdAt') AND value <> 'null'::jsonb
			GROUP BY user_id),
		m AS (SELECT DISTINCT user_id FROM memberships)
		SELECT count(*),
			count(*) FILTER (WHERE t.email IS NOT TRUE),
			count(*) FILTER (WHERE t.named IS NOT TRUE),
			count(*) FILTER (WHERE t.created IS NOT TRUE),
			count(*) FILTER (WHERE m.user_id IS NULL)
		FROM users x LEFT JOIN t ON t.user_id = x.user_id LEFT JOIN m ON m.user_id = x.user_id
		WHERE NOT EXISTS (SELECT 1 FROM identity_links l WHERE l.id = x.user_id)`).
		Scan(&h.Users, &h.UsersNoEmail, &h.UsersNoName, &h.UsersNoCreatedAt, &h.UsersNoAccount)
	if err != nil {
		return h, fmt.Errorf("count user hygiene: %w", err)
	}
	err = db.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM account_traits t
		WHERE t.group_id = x.group_id AND t.name = $1 AND t.value <> 'null'::jsonb)) FROM accounts x`, text(nameTrait)).
		Scan(&h.Accounts, &h.AccountsNoName)
	if err != nil {
		return h, fmt.Errorf("count account hygiene: %w", err)
	}
	return h, nil
}
