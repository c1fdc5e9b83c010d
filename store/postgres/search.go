package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan/store"
)

// SearchAccounts finds accounts by a part of their id or name trait.
func (db *DB) SearchAccounts(ctx context.Context, text, nameTrait string, limit int) ([]store.Match, error) {
	return db.search(ctx, "search accounts", `SELECT a.group_id, coalesce(t.value::text, '') FROM accounts a
		LEFT JOIN account_traits t ON t.group_id = a.group_id AND t.name = $1
		WHERE a.group_id ILIKE $2 OR (jsonb_typeof(t.value) = 'string' AND (t.value #>> '{}') ILIKE $2)
		ORDER BY a.group_id LIMIT $3`, nameTrait, text, limit)
}

// SearchUsers finds users by a part of their id or email trait.
func (db *DB) SearchUsers(ctx context.Context, text string, limit int) ([]store.Match, error) {
	return db.search(ctx, "search users", `SELECT u.user_id, coalesce(t.value::text, '') FROM users u
		LEFT JOIN user_traits t ON t.user_id = u.user_id AND t.name = $1
		WHERE u.user_id ILIKE $2 OR (jsonb_typeof(t.value) = 'string' AND (t.value #>> '{}') ILIKE $2)
		ORDER BY u.user_id LIMIT $3`, store.EmailTrait, text, limit)
}

// search runs a search query for part taking the trait name, its pattern (ILIKE
// escapes with \ by default) and the limit.
func (db *DB) search(ctx context.Context, what, q, trait, part string, limit int) ([]store.Match, error) {
	if limit <= 0 {
		return nil, nil
	}
	out := []store.Match{}
	err := db.each(ctx, what, q, []any{text(trait), text(store.LikePattern(part)), limit}, func(rows pgx.Rows) error {
		var id, value string
		if err := rows.Scan(&id, &value); err != nil {
			return err
		}
		out = append(out, store.Match{ID: id, Label: store.TraitLabel(value)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
