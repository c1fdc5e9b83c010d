package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/trackplan/trackplan/store"
)

// LedgerLoad streams the profile's acknowledged entries.
func (db *DB) LedgerLoad(ctx context.Context, profile string, fn func(store.LedgerEntry) error) error {
	err := db.each(ctx, `SELECT kind, entity_id, digest, message_id, traits, acked_at FROM push_ledger WHERE profile = ?`,
		[]any{profile}, func(rows *sql.Rows) error {
			var (
				e      store.LedgerEntry
				kind   string
				traits []byte
				acked  int64
			)
			if err := rows.Scan(&kind, &e.ID, &e.Digest, &e.MessageID, &traits, &acked); err != nil {
				return err
			}
			e.Kind, e.Traits, e.AckedAt = store.EntityKind(kind), traits, fromMicro(acked)
			return fn(e)
		})
	if err != nil {
		return fmt.Errorf("load %s push ledger: %w", profile, err)
	}
	return nil
}

// LedgerFailures streams the profile's failed keys.
func (db *DB) LedgerFailures(ctx context.Context, profile string, fn func(store.LedgerFailure) error) error {
	err := db.each(ctx, `SELECT kind, entity_id, message_id, status, reason, error, attempts, first_failed, last_failed
		FROM push_failures WHERE profile = ?`, []any{profile}, func(rows *sql.Rows) error {
		var (
			f             store.LedgerFailure
			kind, status  string
			first, latest int64
		)
		if err := rows.Scan(&kind, &f.ID, &f.MessageID, &status, &f.Reason, &f.Error, &f.Attempts, &first, &latest); err != nil {
			return err
		}
		f.Kind, f.Status = store.EntityKind(kind), store.FailureStatus(status)
		f.FirstFailed, f.LastFailed = fromMicro(first), fromMicro(latest)
		return fn(f)
	})
	if err != nil {
		return fmt.Errorf("load %s push failures: %w", profile, err)
	}
	return nil
}

// LedgerAck upserts acknowledged entries and clears their failures, in one
// transaction.
func (db *DB) LedgerAck(ctx context.Context, profile string, entries []store.LedgerEntry) error {
	if len(entries) == 0 {
		return nil
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ack %s push ledger: %w", profile, err)
	}
	defer tx.Rollback()
	ex := execer{ctx: ctx, tx: tx, stmts: map[string]*sql.Stmt{}}
	defer ex.close()

	args := make([]any, 0, 7*min(len(entries), bulkRows))
	for start := 0; start < len(entries) && ex.err == nil; start += bulkRows {
		args = args[:0]
		for _, e := range entries[start:min(start+bulkRows, len(entries))] {
			args = append(args, profile, string(e.Kind), e.ID, e.Digest, e.MessageID, string(e.Traits), micro(e.AckedAt))
		}
		ex.bulk(`INSERT INTO push_ledger (profile, kind, entity_id, digest, message_id, traits, acked_at) VALUES`, 7,
			`ON CONFLICT (profile, kind, entity_id) DO UPDATE SET digest = excluded.digest,
			message_id = excluded.message_id, traits = excluded.traits, acked_at = excluded.acked_at`, args)
	}
	var failures bool
	if ex.err == nil {
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM push_failures WHERE profile = ?)`, profile).Scan(&failures); err != nil {
			ex.err = fmt.Errorf("look up push failures: %w", err)
		}
	}
	for start := 0; failures && start < len(entries) && ex.err == nil; start += bulkRows {
		args = args[:0]
		for _, e := range entries[start:min(start+bulkRows, len(entries))] {
			args = append(args, string(e.Kind), e.ID)
		}
		n := len(args) / 2
		ex.exec(`DELETE FROM push_failures WHERE profile = ? AND (kind, entity_id) IN (VALUES `+tuples(n, 2)+`)`,
			append([]any{profile}, args...)...)
	}
	if ex.err != nil {
		return fmt.Errorf("ack %s push ledger: %w", profile, ex.err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit %s push ledger: %w", profile, err)
	}
	return nil
}

// LedgerFail upserts failed keys in one transaction, counting attempts.
func (db *DB) LedgerFail(ctx context.Context, profile string, failures []store.LedgerFailure) error {
	if len(failures) == 0 {
		return nil
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record %s push failures: %w", profile, err)
	}
	defer tx.Rollback()
	ex := execer{ctx: ctx, tx: tx, stmts: map[string]*sql.Stmt{}}
	defer ex.close()
	args := make([]any, 0, 10*min(len(failures), bulkRows))
	for start := 0; start < len(failures) && ex.err == nil; start += bulkRows {
		args = args[:0]
		for _, f := range failures[start:min(start+bulkRows, len(failures))] {
			at := micro(f.LastFailed)
			args = append(args, profile, string(f.Kind), f.ID, f.MessageID, string(f.Status), f.Reason, f.Error, 1, at, at)
		}
		ex.bulk(`INSERT INTO push_failures (profile, kind, entity_id, message_id, status, reason, error, attempts, first_failed, last_failed) VALUES`, 10,
			`ON CONFLICT (profile, kind, entity_id) DO UPDATE SET message_id = excluded.message_id,
			status = excluded.status, reason = excluded.reason, error = excluded.error,
			attempts = push_failures.attempts + 1, last_failed = excluded.last_failed`, args)
	}
	if ex.err != nil {
		return fmt.Errorf("record %s push failures: %w", profile, ex.err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit %s push failures: %w", profile, err)
	}
	return nil
}

// LedgerRetire deletes the entries and failures of the given keys, in one
// transaction.
func (db *DB) LedgerRetire(ctx context.Context, profile string, keys []store.LedgerKey) error {
	if len(keys) == 0 {
		return nil
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("retire %s push ledger entries: %w", profile, err)
	}
	defer tx.Rollback()
	ex := execer{ctx: ctx, tx: tx, stmts: map[string]*sql.Stmt{}}
	defer ex.close()
	args := make([]any, 0, 1+2*min(len(keys), bulkRows))
	for start := 0; start < len(keys) && ex.err == nil; start += bulkRows {
		chunk := keys[start:min(start+bulkRows, len(keys))]
		args = append(args[:0], profile)
		for _, k := range chunk {
			args = append(args, string(k.Kind), k.ID)
		}
		in := `(kind, entity_id) IN (VALUES ` + tuples(len(chunk), 2) + `)`
		ex.exec(`DELETE FROM push_ledger WHERE profile = ? AND `+in, args...)
		ex.exec(`DELETE FROM push_failures WHERE profile = ? AND `+in, args...)
	}
	if ex.err != nil {
		return fmt.Errorf("retire %s push ledger entries: %w", profile, ex.err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit %s push ledger retirement: %w", profile, err)
	}
	return nil
}

// tuples returns n comma-separated tuples of ncols placeholders.
func tuples(n, ncols int) string {
	tuple := "(" + placeholders(ncols) + ")"
	b := make([]byte, 0, n*(len(tuple)+1))
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, tuple...)
	}
	return string(b)
}
