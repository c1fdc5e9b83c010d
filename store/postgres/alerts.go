package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// RecordAlert appends a to the alert record and sets a.ID.
func (db *DB) RecordAlert(ctx context.Context, a *store.AlertRecord) error {
	chs := make([]string, len(a.Channels))
	for i, c := range a.Channels {
		chs[i] = text(c)
	}
	channels, err := json.Marshal(chs)
	if err != nil {
		return fmt.Errorf("encode alert channels: %w", err)
	}
	err = db.pool.QueryRow(ctx, `INSERT INTO alerts (at, rule, key, severity, title, text, link, status, channels, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb, $10) RETURNING id`, a.At, text(a.Rule), text(a.Key),
		text(a.Severity), text(a.Title), text(a.Text), text(a.Link), text(a.Status), string(channels), text(a.Error)).Scan(&a.ID)
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
		args = append(args, q.Since)
		where = append(where, fmt.Sprintf("at >= $%d", len(args)))
	}
	for _, f := range []struct{ col, v string }{{"rule", q.Rule}, {"key", q.Key}, {"status", q.Status}} {
		if f.v != "" {
			args = append(args, text(f.v))
			where = append(where, fmt.Sprintf("%s = $%d", f.col, len(args)))
		}
	}
	query := `SELECT id, at, rule, key, severity, title, text, link, status, channels::text, error FROM alerts`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY at DESC, id DESC"
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	defer rows.Close()
	var out []store.AlertRecord
	for rows.Next() {
		var (
			a        store.AlertRecord
			channels string
		)
		if err := rows.Scan(&a.ID, &a.At, &a.Rule, &a.Key, &a.Severity, &a.Title, &a.Text, &a.Link, &a.Status, &channels, &a.Error); err != nil {
			return nil, fmt.Errorf("read alerts: %w", err)
		}
		a.At = a.At.UTC()
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
	err := db.pool.QueryRow(ctx, `SELECT value::text FROM alert_state WHERE name = $1`, text(name)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("alert state %q: %w", name, trackplan.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read alert state %q: %w", name, err)
	}
	return json.RawMessage(v), nil
}

// SetAlertState stores value under name.
func (db *DB) SetAlertState(ctx context.Context, name string, value json.RawMessage) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO alert_state (name, value) VALUES ($1, $2::text::jsonb)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, text(name), string(value))
	if err != nil {
		return fmt.Errorf("write alert state %q: %w", name, err)
	}
	return nil
}

// PruneAlerts deletes the alert records from before the given time.
func (db *DB) PruneAlerts(ctx context.Context, before time.Time) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM alerts WHERE at < $1`, before); err != nil {
		return fmt.Errorf("prune alerts: %w", err)
	}
	return nil
}
