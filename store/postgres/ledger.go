package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan/store"
)

// ledgerChunk is how many entries one ledger statement writes: a push of a
// million users is written in bounded statements, in one transaction.
const ledgerChunk = 5000

// LedgerLoad streams the profile's acknowledged entries.
func (db *DB) LedgerLoad(ctx context.Context, profile string, fn func(store.LedgerEntry) error) error {
	return db.each(ctx, "read push ledger", `SELECT kind, entity_id, digest, message_id, traits::text, acked_at
		FROM push_ledger WHERE profile = $1`, []any{text(profile)}, func(rows pgx.Rows) error {
		var (
			e      store.LedgerEntry
			kind   string
			traits string
		)
		if err := rows.Scan(&kind, &e.ID, &e.Digest, &e.MessageID, &traits, &e.AckedAt); err != nil {
			return err
		}
		e.Kind, e.Traits, e.AckedAt = store.EntityKind(kind), json.RawMessage(traits), e.AckedAt.UTC()
		return fn(e)
	})
}

// LedgerFailures streams the profile's failed keys.
func (db *DB) LedgerFailures(ctx context.Context, profile string, fn func(store.LedgerFailure) error) error {
	return db.each(ctx, "read push failures", `SELECT kind, entity_id, message_id, status, reason, error, attempts,
		first_failed, last_failed FROM push_failures WHERE profile = $1`, []any{text(profile)}, func(rows pgx.Rows) error {
		var (
			f            store.LedgerFailure
			kind, status string
		)
		if err := rows.Scan(&kind, &f.ID, &f.MessageID, &status, &f.Reason, &f.Error, &f.Attempts,
			&f.FirstFailed, &f.LastFailed); err != nil {
			return err
		}
		f.Kind, f.Status = store.EntityKind(kind), store.FailureStatus(status)
		f.FirstFailed, f.LastFailed = f.FirstFailed.UTC(), f.LastFailed.UTC()
		return fn(f)
	})
}

func compareLedgerKeys(a, b store.LedgerKey) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
}

// LedgerAck records acknowledged entries in one transaction: each replaces
// its key's entry and clears its key's failure.
func (db *DB) LedgerAck(ctx context.Context, profile string, entries []store.LedgerEntry) error {
	if len(entries) == 0 {
		return nil
	}
	rows := make([]store.LedgerEntry, len(entries))
	for i, e := range entries {
		e.Kind, e.ID = store.EntityKind(text(string(e.Kind))), text(e.ID)
		rows[i] = e
	}
	rows = sortMerge(rows, func(a, b store.LedgerEntry) int { return compareLedgerKeys(a.LedgerKey, b.LedgerKey) },
		func(into *store.LedgerEntry, e store.LedgerEntry) { *into = e })
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			for start := 0; start < len(rows); start += ledgerChunk {
				chunk := rows[start:min(start+ledgerChunk, len(rows))]
				kinds := make([]string, len(chunk))
				ids := make([]string, len(chunk))
				digests := make([]string, len(chunk))
				msgIDs := make([]string, len(chunk))
				traits := make([]string, len(chunk))
				acked := make([]time.Time, len(chunk))
				for i, e := range chunk {
					kinds[i], ids[i], digests[i], msgIDs[i] = string(e.Kind), e.ID, text(e.Digest), text(e.MessageID)
					traits[i], acked[i] = string(jsonValue(e.Traits)), e.AckedAt
				}
				err := runBatch(ctx, tx, []stmt{
					{name: "record acknowledged pushes", args: []any{text(profile), kinds, ids, digests, msgIDs, traits, acked},
						sql: `INSERT INTO push_ledger AS t (profile, kind, entity_id, digest, message_id, traits, acked_at)
						SELECT $1, k, i, d, m, tr::jsonb, a
						FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) AS u(k, i, d, m, tr, a)
						ON CONFLICT (profile, kind, entity_id) DO UPDATE SET digest = excluded.digest,
						message_id = excluded.message_id, traits = excluded.traits, acked_at = excluded.acked_at`},
					{name: "clear push failures", args: []any{text(profile), kinds, ids},
						sql: `DELETE FROM push_failures f USING unnest($2::text[], $3::text[]) AS u(k, i)
						WHERE f.profile = $1 AND f.kind = u.k AND f.entity_id = u.i`},
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("ledger ack for profile %q: %w", profile, err)
	}
	return nil
}

// LedgerFail records failures in one transaction: a new key starts at one
// attempt with FirstFailed = LastFailed; a known key gets one more attempt
// and the new message id, status, reason, error and LastFailed.
// Acknowledged entries are left as they are.
func (db *DB) LedgerFail(ctx context.Context, profile string, failures []store.LedgerFailure) error {
	if len(failures) == 0 {
		return nil
	}
	rows := make([]store.LedgerFailure, len(failures))
	for i, f := range failures {
		f.Kind, f.ID = store.EntityKind(text(string(f.Kind))), text(f.ID)
		rows[i] = f
	}
	rows = sortMerge(rows, func(a, b store.LedgerFailure) int { return compareLedgerKeys(a.LedgerKey, b.LedgerKey) },
		func(into *store.LedgerFailure, f store.LedgerFailure) { *into = f })
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			for start := 0; start < len(rows); start += ledgerChunk {
				chunk := rows[start:min(start+ledgerChunk, len(rows))]
				kinds := make([]string, len(chunk))
				ids := make([]string, len(chunk))
				msgIDs := make([]string, len(chunk))
				statuses := make([]string, len(chunk))
				reasons := make([]string, len(chunk))
				errs := make([]string, len(chunk))
				at := make([]time.Time, len(chunk))
				for i, f := range chunk {
					kinds[i], ids[i], msgIDs[i], statuses[i] = string(f.Kind), f.ID, text(f.MessageID), text(string(f.Status))
					reasons[i], errs[i], at[i] = text(f.Reason), text(f.Error), f.LastFailed
				}
				_, err := tx.Exec(ctx, `INSERT INTO push_failures AS t (profile, kind, entity_id, message_id, status, reason, error,
					attempts, first_failed, last_failed)
					SELECT $1, k, i, m, s, r, e, 1, a, a
					FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])
						AS u(k, i, m, s, r, e, a)
					ON CONFLICT (profile, kind, entity_id) DO UPDATE SET attempts = t.attempts + 1,
					message_id = excluded.message_id, status = excluded.status, reason = excluded.reason,
					error = excluded.error, last_failed = excluded.last_failed`,
					text(profile), kinds, ids, msgIDs, statuses, reasons, errs, at)
				if err != nil {
					return fmt.Errorf("record push failures: %w", err)
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("ledger failures for profile %q: %w", profile, err)
	}
	return nil
}

// LedgerRetire deletes the entries and failures of the given keys, in one
// transaction.
func (db *DB) LedgerRetire(ctx context.Context, profile string, keys []store.LedgerKey) error {
	if len(keys) == 0 {
		return nil
	}
	rows := make([]store.LedgerKey, len(keys))
	for i, k := range keys {
		rows[i] = store.LedgerKey{Kind: store.EntityKind(text(string(k.Kind))), ID: text(k.ID)}
	}
	rows = sortMerge(rows, compareLedgerKeys, func(*store.LedgerKey, store.LedgerKey) {})
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			for start := 0; start < len(rows); start += ledgerChunk {
				chunk := rows[start:min(start+ledgerChunk, len(rows))]
				kinds := make([]string, len(chunk))
				ids := make([]string, len(chunk))
				for i, k := range chunk {
					kinds[i], ids[i] = string(k.Kind), k.ID
				}
				args := []any{text(profile), kinds, ids}
				err := runBatch(ctx, tx, []stmt{
					{name: "retire push ledger entries", args: args,
						sql: `DELETE FROM push_ledger l USING unnest($2::text[], $3::text[]) AS u(k, i)
						WHERE l.profile = $1 AND l.kind = u.k AND l.entity_id = u.i`},
					{name: "retire push failures", args: args,
						sql: `DELETE FROM push_failures f USING unnest($2::text[], $3::text[]) AS u(k, i)
						WHERE f.profile = $1 AND f.kind = u.k AND f.entity_id = u.i`},
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("ledger retire for profile %q: %w", profile, err)
	}
	return nil
}
