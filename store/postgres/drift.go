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
	err := db.pool.QueryRow(ctx, `SELECT count(*),
		count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM user_traits t
			WHERE t.user_id = x.user_id AND t.name = 'email' AND t.value <> 'null'::jsonb)),
		count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM user_traits t
			WHERE t.user_id = x.user_id AND t.name IN ('name', 'first_name') AND t.value <> 'null'::jsonb)),
		count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM user_traits t
			WHERE t.user_id = x.user_id AND t.name IN ('created_at', 'createdAt') AND t.value <> 'null'::jsonb)),
		count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = x.user_id))
		FROM users x`).Scan(&h.Users, &h.UsersNoEmail, &h.UsersNoName, &h.UsersNoCreatedAt, &h.UsersNoAccount)
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
