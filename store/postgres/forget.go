package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan/store"
)

// ForgetDerived erases users and accounts from the derived tables, the
// score snapshots and the push ledger, in one transaction that holds the
// derive cursor's lock, so no apply runs meanwhile. Samples, examples,
// reservoir messages and ledger traits are scrubbed when they contain a
// needle: raw bytes are searched as bytes, text as text (empty needles are
// ignored: they would match everything).
func (db *DB) ForgetDerived(ctx context.Context, userIDs, groupIDs, needles []string) error {
	stmts := []stmt{{name: "advance derive epoch", sql: `UPDATE derive_state SET epoch = epoch + 1`}}
	add := func(name, sql string, arg any, n int) {
		if n > 0 {
			stmts = append(stmts, stmt{name: name, sql: sql, args: []any{arg}})
		}
	}
	users, groups := texts(userIDs), texts(groupIDs)
	del := func(table, col string, ids []string, and string) {
		add("forget in "+table, `DELETE FROM `+table+` WHERE `+col+` = ANY($1::text[])`+and, ids, len(ids))
	}
	for _, t := range []string{"users", "user_traits", "memberships", "activity_daily", "activity_total", "identity_links"} {
		del(t, "user_id", users, "")
	}
	del("identity_links", "id", users, "")
	del("anonymous_ids", "anonymous_id", users, "")
	for _, t := range []string{"accounts", "account_traits", "memberships", "account_score_history"} {
		del(t, "group_id", groups, "")
	}
	for _, t := range []string{"push_ledger", "push_failures"} {
		del(t, "entity_id", users, ` AND kind = '`+string(store.EntityUser)+`'`)
		del(t, "entity_id", groups, ` AND kind = '`+string(store.EntityAccount)+`'`)
	}

	// JSON text is searched for a needle as a whole JSON string value;
	// examples are compared with it.
	var textNeedles, plainNeedles []string
	var byteNeedles [][]byte
	for _, n := range needles {
		if n != "" {
			q := store.JSONString(n)
			textNeedles, byteNeedles = append(textNeedles, text(string(q))), append(byteNeedles, q)
			plainNeedles = append(plainNeedles, text(n))
		}
	}
	// Each statement matches a row when any needle occurs in the column.
	inBytes := func(col string) string {
		return `EXISTS (SELECT 1 FROM unnest($1::bytea[]) n WHERE position(n IN ` + col + `) > 0)`
	}
	inText := func(col string) string {
		return `EXISTS (SELECT 1 FROM unnest($1::text[]) n WHERE strpos(` + col + `, n) > 0)`
	}
	n := len(textNeedles)
	add("scrub reservoir", `DELETE FROM reservoir WHERE `+inBytes("body"), byteNeedles, n)
	add("scrub violation samples", `UPDATE violations SET sample = NULL WHERE `+inBytes("sample"), byteNeedles, n)
	add("scrub rejection samples", `UPDATE rejections SET sample = '(erased)' WHERE `+inText("sample"), textNeedles, n)
	add("scrub property examples", `UPDATE properties SET examples = ARRAY(
		SELECT v FROM unnest(examples) v WHERE v <> ALL($1::text[]) ORDER BY v)
		WHERE examples && $1::text[]`, plainNeedles, n)
	add("scrub ledger traits", `UPDATE push_ledger SET traits = '{}' WHERE `+inText("traits::text"), textNeedles, n)
	// Alert records name accounts and users in their keys and titles.
	add("scrub alert records", `DELETE FROM alerts WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) n
		WHERE strpos(key, n) > 0 OR strpos(title, n) > 0 OR strpos(text, n) > 0 OR strpos(link, n) > 0)`, plainNeedles, n)

	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if err := runBatch(ctx, tx, stmts); err != nil {
				return err
			}
			return eraseFromRuns(ctx, tx, store.Set(userIDs), store.Set(groupIDs))
		})
	})
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	return nil
}

// eraseFromRuns rewrites the score snapshots that hold any of the users or
// accounts, one snapshot in memory at a time.
func eraseFromRuns(ctx context.Context, tx pgx.Tx, users, groups map[string]bool) error {
	if len(users) == 0 && len(groups) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT id FROM score_runs ORDER BY id`)
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	for _, id := range ids {
		var body []byte
		err := tx.QueryRow(ctx, `SELECT body FROM score_runs WHERE id = $1 FOR UPDATE`, id).Scan(&body)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // pruned meanwhile
		}
		if err != nil {
			return fmt.Errorf("read snapshot %d: %w", id, err)
		}
		body, changed, err := store.EraseFromRun(body, users, groups)
		if err != nil {
			return fmt.Errorf("snapshot %d: %w", id, err)
		}
		if changed {
			if _, err := tx.Exec(ctx, `UPDATE score_runs SET body = $1 WHERE id = $2`, body, id); err != nil {
				return fmt.Errorf("rewrite snapshot %d: %w", id, err)
			}
		}
	}
	return nil
}
