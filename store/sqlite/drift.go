package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/trackplan/trackplan/store"
)

// EventVolumes counts each event's messages on the UTC days in [from, to).
func (db *DB) EventVolumes(ctx context.Context, from, to time.Time) (map[store.EventKey]int64, error) {
	out := map[store.EventKey]int64{}
	err := db.each(ctx, `SELECT e.source, e.type, e.name, sum(d.count) FROM event_daily d JOIN events e ON e.id = d.event_id
		WHERE d.day >= ? AND d.day <= ? GROUP BY e.id`, []any{store.Day(from), store.Day(to.Add(-time.Nanosecond))},
		func(rows *sql.Rows) error {
			var (
				k store.EventKey
				t string
				n int64
			)
			if err := rows.Scan(&k.Source, &t, &k.Name, &n); err != nil {
				return err
			}
			k.Type = callType(t)
			out[k] = n
			return nil
		})
	return out, err
}

// Hygiene counts users and accounts missing best-practice traits.
func (db *DB) Hygiene(ctx context.Context, nameTrait string) (store.Hygiene, error) {
	var h store.Hygiene
	has := func(table, idCol, trait string) string {
		return fmt.Sprintf(`EXISTS (SELECT 1 FROM %s t WHERE t.%s = x.%s AND t.name = '%s' AND t.value <> 'null')`, table, idCol, idCol, trait)
	}
	err := db.read.QueryRowContext(ctx, `SELECT count(*),
		coalesce(sum(NOT `+has("user_traits", "user_id", "email")+`), 0),
		coalesce(sum(NOT (`+has("user_traits", "user_id", "name")+` OR `+has("user_traits", "user_id", "first_name")+`)), 0),
		coalesce(sum(NOT (`+has("user_traits", "user_id", "created_at")+` OR `+has("user_traits", "user_id", "createdAt")+`)), 0),
		coalesce(sum(NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = x.user_id)), 0)
		FROM users x WHERE NOT EXISTS (SELECT 1 FROM identity_links l WHERE l.id = x.user_id)`).Scan(&h.Users, &h.UsersNoEmail, &h.UsersNoName, &h.UsersNoCreatedAt, &h.UsersNoAccount)
	if err != nil {
		return h, fmt.Errorf("count user hygiene: %w", err)
	}
	err = db.read.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(NOT EXISTS (SELECT 1 FROM account_traits t
		WHERE t.group_id = x.group_id AND t.name = ? AND t.value <> 'null')), 0) FROM accounts x`, nameTrait).
		Scan(&h.Accounts, &h.AccountsNoName)
	if err != nil {
		return h, fmt.Errorf("count account hygiene: %w", err)
	}
	return h, nil
}
