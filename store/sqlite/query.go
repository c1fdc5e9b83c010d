package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

func callType(s string) trackplan.CallType { return trackplan.CallType(s) }

// Observed returns totals, every observed event with its property paths and
// types, and the rejection counters.
func (db *DB) Observed(ctx context.Context) (*store.Observed, error) {
	o := &store.Observed{Events: []store.ObservedEvent{}, Rejections: []store.RejectionSum{}}
	err := db.read.QueryRowContext(ctx, `SELECT
		coalesce((SELECT sum(messages) FROM source_counts), 0),
		coalesce((SELECT sum(rejected) FROM source_counts), 0),
		coalesce((SELECT sum(clamped) FROM source_counts), 0),
		(SELECT count(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM identity_links l WHERE l.id = u.user_id)),
		(SELECT count(*) FROM accounts),
		(SELECT count(DISTINCT id) FROM identity_links),
		(SELECT count(*) FROM (SELECT id FROM identity_links GROUP BY id HAVING count(*) > 1)),
		(SELECT count(*) FROM quarantine)`).
		Scan(&o.Totals.Messages, &o.Totals.Rejected, &o.Totals.ClampedTimestamps, &o.Totals.Users, &o.Totals.Accounts, &o.Totals.LinkedIDs, &o.Totals.IdentityConflicts,
			&o.Totals.Quarantined)
	if err != nil {
		return nil, fmt.Errorf("read totals: %w", err)
	}
	if err := db.logr.QueryRowContext(ctx, `SELECT coalesce(sum(count), 0) FROM duplicates`).Scan(&o.Totals.Duplicates); err != nil {
		return nil, fmt.Errorf("read duplicate counts: %w", err)
	}

	rows, err := db.read.QueryContext(ctx, `SELECT id, source, type, name, count, first_seen, last_seen
		FROM events ORDER BY source, type, name`)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	index := map[int64]int{}
	for rows.Next() {
		var (
			id          int64
			e           store.ObservedEvent
			t           string
			first, last int64
		)
		if err := rows.Scan(&id, &e.Source, &t, &e.Name, &e.Count, &first, &last); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read events: %w", err)
		}
		e.Type, e.FirstSeen, e.LastSeen = callType(t), fromMicro(first), fromMicro(last)
		e.Properties = []store.ObservedProperty{}
		index[id] = len(o.Events)
		o.Events = append(o.Events, e)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}

	rows, err = db.read.QueryContext(ctx, `SELECT p.event_id, p.path, p.present, p.first_seen, p.last_seen, p.examples,
		t.type, t.count FROM properties p JOIN property_types t ON t.event_id = p.event_id AND t.path = p.path
		ORDER BY p.event_id, p.path, t.type`)
	if err != nil {
		return nil, fmt.Errorf("read properties: %w", err)
	}
	for rows.Next() {
		var (
			id, present, first, last, n int64
			path, examples, typ         string
		)
		if err := rows.Scan(&id, &path, &present, &first, &last, &examples, &typ, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read properties: %w", err)
		}
		ev := &o.Events[index[id]]
		if k := len(ev.Properties); k == 0 || ev.Properties[k-1].Path != path {
			p := store.ObservedProperty{Path: path, Present: present, Types: map[string]int64{},
				FirstSeen: fromMicro(first), LastSeen: fromMicro(last)}
			_ = json.Unmarshal([]byte(examples), &p.Examples) // written by us; an unreadable list just shows none
			ev.Properties = append(ev.Properties, p)
		}
		ev.Properties[len(ev.Properties)-1].Types[typ] = n
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read properties: %w", err)
	}

	rows, err = db.read.QueryContext(ctx, `SELECT source, reason, count, sample, first_seen, last_seen FROM rejections
		ORDER BY count DESC, source, reason`)
	if err != nil {
		return nil, fmt.Errorf("read rejections: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r           store.RejectionSum
			first, last int64
		)
		if err := rows.Scan(&r.Source, &r.Reason, &r.Count, &r.Sample, &first, &last); err != nil {
			return nil, fmt.Errorf("read rejections: %w", err)
		}
		r.FirstSeen, r.LastSeen = fromMicro(first), fromMicro(last)
		o.Rejections = append(o.Rejections, r)
	}
	return o, rows.Err()
}

// Reservoir returns up to limit recent raw messages of an event, newest first.
func (db *DB) Reservoir(ctx context.Context, k store.EventKey, limit int) ([]json.RawMessage, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT r.body FROM reservoir r JOIN events e ON e.id = r.event_id
		WHERE e.source = ? AND e.type = ? AND e.name = ? ORDER BY r.id DESC LIMIT ?`,
		k.Source, string(k.Type), k.Name, limit)
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
	return out, rows.Err()
}

// Prune deletes dedupe keys and daily activity older than the given times,
// and the events last seen before activityBefore (freeing their guard slots).
func (db *DB) Prune(ctx context.Context, dedupeBefore, activityBefore time.Time) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.dedupe.prune(dedupeBefore)
	if _, err := db.logw.ExecContext(ctx, `DELETE FROM dedupe WHERE received_at < ?`, micro(dedupeBefore)); err != nil {
		return fmt.Errorf("prune dedupe keys: %w", err)
	}
	if _, err := db.write.ExecContext(ctx, `DELETE FROM activity_daily WHERE day < ?`, store.Day(activityBefore)); err != nil {
		return fmt.Errorf("prune activity: %w", err)
	}
	for _, table := range []string{"violations", "event_hourly"} {
		if _, err := db.write.ExecContext(ctx, `DELETE FROM `+table+` WHERE hour < ?`, store.Hour(activityBefore)); err != nil {
			return fmt.Errorf("prune %s: %w", table, err)
		}
	}
	if err := db.pruneEvents(ctx, activityBefore); err != nil {
		return err
	}
	return db.pruneAnonymous(ctx, activityBefore)
}

// pruneAnonymous removes the visitors last seen before `before` who never
// linked to a user: their activity could be credited to no one.
func (db *DB) pruneAnonymous(ctx context.Context, before time.Time) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("prune anonymous ids: %w", err)
	}
	defer tx.Rollback()
	gone := `SELECT anonymous_id FROM anonymous_ids a WHERE last_seen < ?
		AND NOT EXISTS (SELECT 1 FROM identity_links l WHERE l.id = a.anonymous_id)
		AND NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = a.anonymous_id)`
	for _, table := range []string{"activity_total", "activity_daily", "user_traits", "memberships"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE user_id IN (`+gone+`)`, micro(before)); err != nil {
			return fmt.Errorf("prune anonymous ids' %s: %w", table, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM anonymous_ids WHERE anonymous_id IN (`+gone+`)`, micro(before)); err != nil {
		return fmt.Errorf("prune anonymous ids: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("prune anonymous ids: %w", err)
	}
	return nil
}

// UserTraitsOf returns a user's merged traits; cleared (null) traits are absent.
func (db *DB) UserTraitsOf(ctx context.Context, userID string) (map[string]any, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name, value FROM user_traits WHERE user_id = ? AND value <> 'null'`, userID)
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
	return out, rows.Err()
}
