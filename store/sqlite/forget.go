package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/trackplan/trackplan/store"
)

// ForgetDerived erases users and accounts from the derived tables, the
// score snapshots and the push ledger, in one transaction, then checkpoints
// the WAL. With secure_delete on, the freed bytes are overwritten.
func (db *DB) ForgetDerived(ctx context.Context, userIDs, groupIDs, needles []string) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin forget: %w", err)
	}
	defer tx.Rollback()
	exec := func(q string, args ...any) {
		if err == nil {
			if _, e := tx.ExecContext(ctx, q, args...); e != nil {
				err = fmt.Errorf("forget: %s: %w", firstWords(q), e)
			}
		}
	}
	for _, id := range userIDs {
		for _, t := range []string{"users", "user_traits", "memberships", "activity_daily", "activity_total", "identity_links"} {
			exec(`DELETE FROM `+t+` WHERE user_id = ?`, id)
		}
		exec(`DELETE FROM identity_links WHERE id = ?`, id)
		exec(`DELETE FROM anonymous_ids WHERE anonymous_id = ?`, id)
		exec(`DELETE FROM push_ledger WHERE kind = 'user' AND entity_id = ?`, id)
		exec(`DELETE FROM push_failures WHERE kind = 'user' AND entity_id = ?`, id)
	}
	for _, id := range groupIDs {
		for _, t := range []string{"accounts", "account_traits", "memberships", "account_score_history"} {
			exec(`DELETE FROM `+t+` WHERE group_id = ?`, id)
		}
		exec(`DELETE FROM push_ledger WHERE kind = 'account' AND entity_id = ?`, id)
		exec(`DELETE FROM push_failures WHERE kind = 'account' AND entity_id = ?`, id)
	}
	exec(`UPDATE derive_state SET epoch = epoch + 1`)
	for _, n := range needles {
		if n == "" {
			continue // instr(x, '') matches every row
		}
		q := string(store.JSONString(n))
		exec(`DELETE FROM reservoir WHERE instr(CAST(body AS TEXT), ?) > 0`, q)
		exec(`UPDATE violations SET sample = NULL WHERE instr(CAST(sample AS TEXT), ?) > 0`, q)
		exec(`UPDATE rejections SET sample = '(erased)' WHERE instr(sample, ?) > 0`, q)
		exec(`UPDATE properties SET examples = (SELECT json_group_array(value) FROM json_each(properties.examples)
			WHERE value <> ?) WHERE EXISTS (SELECT 1 FROM json_each(properties.examples) WHERE value = ?)`, n, n)
		exec(`UPDATE push_ledger SET traits = '{}' WHERE instr(traits, ?) > 0`, q)
		// Alert records name accounts and users in their keys and titles.
		exec(`DELETE FROM alerts WHERE instr(key, ?1) > 0 OR instr(title, ?1) > 0 OR instr(text, ?1) > 0 OR instr(link, ?1) > 0`, n)
	}
	if err != nil {
		return err
	}
	if err := eraseFromRuns(ctx, tx, userIDs, groupIDs); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit forget: %w", err)
	}
	return checkpoint(ctx, db.write)
}

func eraseFromRuns(ctx context.Context, tx *sql.Tx, userIDs, groupIDs []string) error {
	users, groups := store.Set(userIDs), store.Set(groupIDs)
	rows, err := tx.QueryContext(ctx, `SELECT id, body FROM score_runs`)
	if err != nil {
		return fmt.Errorf("forget in snapshots: %w", err)
	}
	type rewrite struct {
		id   int64
		body []byte
	}
	var rewrites []rewrite
	for rows.Next() {
		var r rewrite
		if err := rows.Scan(&r.id, &r.body); err != nil {
			rows.Close()
			return fmt.Errorf("forget in snapshots: %w", err)
		}
		body, changed, err := store.EraseFromRun(r.body, users, groups)
		if err != nil {
			rows.Close()
			return fmt.Errorf("forget in snapshot %d: %w", r.id, err)
		}
		if changed {
			rewrites = append(rewrites, rewrite{r.id, body})
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("forget in snapshots: %w", err)
	}
	for _, r := range rewrites {
		if _, err := tx.ExecContext(ctx, `UPDATE score_runs SET body = ? WHERE id = ?`, r.body, r.id); err != nil {
			return fmt.Errorf("forget in snapshot %d: %w", r.id, err)
		}
	}
	return nil
}
