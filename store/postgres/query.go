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

// Observed returns totals, every observed event with its property paths and
// types, and the rejection counters, read from one snapshot.
func (db *DB) Observed(ctx context.Context) (*store.Observed, error) {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("read observed: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	o := &store.Observed{Events: []store.ObservedEvent{}, Rejections: []store.RejectionSum{}}
	err = tx.QueryRow(ctx, `SELECT
		coalesce((SELECT sum(messages) FROM source_counts), 0)::bigint,
		coalesce((SELECT sum(rejected) FROM source_counts), 0)::bigint,
		coalesce((SELECT sum(clamped) FROM source_counts), 0)::bigint,
		coalesce((SELECT sum(duplicates) FROM source_counts), 0)::bigint,
		(SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM identity_links l WHERE l.id = u.user_id)),
		(SELECT count(*) FROM accounts),
		(SELECT count(DISTINCT id) FROM identity_links),
		(SELECT count(*) FROM (SELECT id FROM identity_links GROUP BY id HAVING count(*) > 1) c),
		(SELECT count(*) FROM quarantine)`).
		Scan(&o.Totals.Messages, &o.Totals.Rejected, &o.Totals.ClampedTimestamps, &o.Totals.Duplicates, &o.Totals.Users, &o.Totals.Accounts,
			&o.Totals.LinkedIDs, &o.Totals.IdentityConflicts, &o.Totals.Quarantined)
	if err != nil {
		return nil, fmt.Errorf("read totals: %w", err)
	}

	rows, err := tx.Query(ctx, `SELECT id, source, type, name, count, first_seen, last_seen
		FROM events ORDER BY source, type, name`)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	index := map[int64]int{}
	for rows.Next() {
		var (
			id int64
			e  store.ObservedEvent
			t  string
		)
		if err := rows.Scan(&id, &e.Source, &t, &e.Name, &e.Count, &e.FirstSeen, &e.LastSeen); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read events: %w", err)
		}
		e.Type, e.FirstSeen, e.LastSeen = trackplan.CallType(t), e.FirstSeen.UTC(), e.LastSeen.UTC()
		e.Properties = []store.ObservedProperty{}
		index[id] = len(o.Events)
		o.Events = append(o.Events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}

	rows, err = tx.Query(ctx, `SELECT p.event_id, p.path, p.present, p.first_seen, p.last_seen, p.examples,
		t.type, t.count FROM properties p JOIN property_types t ON t.event_id = p.event_id AND t.path = p.path
		ORDER BY p.event_id, p.path, t.type`)
	if err != nil {
		return nil, fmt.Errorf("read properties: %w", err)
	}
	for rows.Next() {
		var (
			id, present, n int64
			first, last    time.Time
			path, typ      string
			examples       []string
		)
		if err := rows.Scan(&id, &path, &present, &first, &last, &examples, &typ, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read properties: %w", err)
		}
		i, ok := index[id]
		if !ok {
			continue // an event committed after the events were read
		}
		ev := &o.Events[i]
		if k := len(ev.Properties); k == 0 || ev.Properties[k-1].Path != path {
			p := store.ObservedProperty{Path: path, Present: present, Types: map[string]int64{},
				FirstSeen: first.UTC(), LastSeen: last.UTC()}
			p.Examples = examples
			if p.Examples == nil {
				p.Examples = []string{} // as the SQLite store reads an empty list
			}
			ev.Properties = append(ev.Properties, p)
		}
		ev.Properties[len(ev.Properties)-1].Types[typ] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read properties: %w", err)
	}

	rows, err = tx.Query(ctx, `SELECT source, reason, count, sample, first_seen, last_seen FROM rejections
		ORDER BY count DESC, source, reason`)
	if err != nil {
		return nil, fmt.Errorf("read rejections: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r store.RejectionSum
		if err := rows.Scan(&r.Source, &r.Reason, &r.Count, &r.Sample, &r.FirstSeen, &r.LastSeen); err != nil {
			return nil, fmt.Errorf("read rejections: %w", err)
		}
		r.FirstSeen, r.LastSeen = r.FirstSeen.UTC(), r.LastSeen.UTC()
		o.Rejections = append(o.Rejections, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rejections: %w", err)
	}
	return o, nil
}

// Reservoir returns up to limit recent raw messages of an event, newest first.
func (db *DB) Reservoir(ctx context.Context, k store.EventKey, limit int) ([]json.RawMessage, error) {
	k2 := storedEventKey(k)
	rows, err := db.pool.Query(ctx, `SELECT r.body FROM reservoir r JOIN events e ON e.id = r.event_id
		WHERE e.source = $1 AND e.type = $2 AND e.name = $3 ORDER BY r.seq DESC LIMIT $4`,
		k2.source, k2.typ, k2.name, limit)
	if err != nil {
		return nil, fmt.Errorf("read reservoir of %q: %w", k.Name, err)
	}
	defer rows.Close()
	var out []json.RawMessage
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("read reservoir of %q: %w", k.Name, err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read reservoir of %q: %w", k.Name, err)
	}
	return out, nil
}

// Prune deletes dedupe keys, and daily activity, hourly verdicts and
// volumes, older than the given times, and the events last seen before
// activityBefore (freeing their guard slots), each in its own transaction,
// retried if it deadlocks with an ingest.
func (db *DB) Prune(ctx context.Context, dedupeBefore, activityBefore time.Time) error {
	err := retry(ctx, func() error {
		_, err := db.pool.Exec(ctx, `DELETE FROM dedupe WHERE received_at < $1`, dedupeBefore)
		return err
	})
	if err != nil {
		return fmt.Errorf("prune dedupe keys: %w", err)
	}
	err = retry(ctx, func() error {
		_, err := db.pool.Exec(ctx, `DELETE FROM activity_daily WHERE day < $1::text::date`, store.Day(activityBefore))
		return err
	})
	if err != nil {
		return fmt.Errorf("prune activity: %w", err)
	}
	for _, table := range []string{"violations", "event_hourly"} {
		err = retry(ctx, func() error {
			_, err := db.pool.Exec(ctx, `DELETE FROM `+table+` WHERE hour < $1`, store.Hour(activityBefore))
			return err
		})
		if err != nil {
			return fmt.Errorf("prune %s: %w", table, err)
		}
	}
	// The visitors last seen before activityBefore who never linked to a
	// user: their activity could be credited to no one.
	gone := `SELECT anonymous_id FROM anonymous_ids a WHERE last_seen < $1
		AND NOT EXISTS (SELECT 1 FROM identity_links l WHERE l.id = a.anonymous_id)
		AND NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = a.anonymous_id)`
	var stmts []stmt
	for _, table := range []string{"activity_total", "activity_daily", "user_traits", "memberships"} {
		stmts = append(stmts, stmt{name: "prune anonymous ids' " + table, args: []any{activityBefore},
			sql: `DELETE FROM ` + table + ` WHERE user_id IN (` + gone + `)`})
	}
	stmts = append(stmts, stmt{name: "prune anonymous ids", args: []any{activityBefore},
		sql: `DELETE FROM anonymous_ids WHERE anonymous_id IN (` + gone + `)`})
	err = retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return runBatch(ctx, tx, stmts) })
	})
	if err != nil {
		return fmt.Errorf("prune anonymous ids: %w", err)
	}
	return db.pruneEvents(ctx, activityBefore)
}

// UserTraitsOf returns a user's merged traits; cleared (null) traits are absent.
func (db *DB) UserTraitsOf(ctx context.Context, userID string) (map[string]any, error) {
	rows, err := db.pool.Query(ctx, `SELECT name, value::text FROM user_traits
		WHERE user_id = $1 AND value <> 'null'::jsonb`, text(userID))
	if err != nil {
		return nil, fmt.Errorf("read traits of user: %w", err)
	}
	defer rows.Close()
	out := map[string]any{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, fmt.Errorf("read traits of user: %w", err)
		}
		var v any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			return nil, fmt.Errorf("decode trait %q: %w", name, err)
		}
		out[name] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read traits of user: %w", err)
	}
	return out, nil
}

// Stored counts how many of the messageIds of source have dedupe keys.
func (db *DB) Stored(ctx context.Context, source string, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = text(id)
	}
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM dedupe WHERE source = $1 AND message_id = ANY($2::text[])`,
		text(source), keys).Scan(&n); err != nil {
		return 0, fmt.Errorf("count stored messages: %w", err)
	}
	return n, nil
}
