package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// RecordAlert appends a to the alert record and sets a.ID.
func (db *DB) RecordAlert(ctx context.Context, a *store.AlertRecord) error {
	channels, err := json.Marshal(nonNil(a.Channels))
	if err != nil {
		return fmt.Errorf("encode alert channels: %w", err)
	}
	err = db.write.QueryRowContext(ctx, `INSERT INTO alerts (at, rule, key, severity, title, text, link, status, channels, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, micro(a.At), a.Rule, a.Key, a.Severity, a.Title, a.Text, a.Link,
		a.Status, string(channels), a.Error).Scan(&a.ID)
	if err != nil {
		return fmt.Errorf("record %s alert: %w", a.Rule, err)
	}
	return nil
}

// AlertRecords returns the alerts matching q, newest first.
func (db *DB) AlertRecords(ctx context.Context, q store.AlertQuery) ([]store.AlertRecord, error) {
	var where []string
	var args []any
	if !q.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, micro(q.Since))
	}
	for col, v := range map[string]string{"rule": q.Rule, "key": q.Key, "status": q.Status} {
		if v != "" {
			where, args = append(where, col+" = ?"), append(args, v)
		}
	}
	query := `SELECT id, at, rule, key, severity, title, text, link, status, channels, error FROM alerts`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY at DESC, id DESC"
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	defer rows.Close()
	var out []store.AlertRecord
	for rows.Next() {
		var (
			a        store.AlertRecord
			at       int64
			channels string
		)
		if err := rows.Scan(&a.ID, &at, &a.Rule, &a.Key, &a.Severity, &a.Title, &a.Text, &a.Link, &a.Status, &channels, &a.Error); err != nil {
			return nil, fmt.Errorf("read alerts: %w", err)
		}
		a.At = fromMicro(at)
		if err := json.Unmarshal([]byte(channels), &a.Channels); err != nil {
			return nil, fmt.Errorf("decode channels of alert %d: %w", a.ID, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	return out, nil
}

// AlertState returns the value stored under name.
func (db *DB) AlertState(ctx context.Context, name string) (json.RawMessage, error) {
	var v string
	err := db.read.QueryRowContext(ctx, `SELECT value FROM alert_state WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("alert state %q: %w", name, trackplan.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read alert state %q: %w", name, err)
	}
	return json.RawMessage(v), nil
}

// SetAlertState stores value under name.
func (db *DB) SetAlertState(ctx context.Context, name string, value json.RawMessage) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO alert_state (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, string(value))
	if err != nil {
		return fmt.Errorf("write alert state %q: %w", name, err)
	}
	return nil
}

// PruneAlerts deletes the alert records from before the given time.
func (db *DB) PruneAlerts(ctx context.Context, before time.Time) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM alerts WHERE at < ?`, micro(before)); err != nil {
		return fmt.Errorf("prune alerts: %w", err)
	}
	return nil
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}
