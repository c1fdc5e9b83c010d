package store

import (
	"context"
	"encoding/json"
	"time"
)

// Alerts keeps what the alerting needs between evaluations: a record of
// every alert decided (sent, failed, or held for the daily digest) and a
// few named state values (the fingerprints already seen, the last digest).
type Alerts interface {
	// RecordAlert appends an alert to the record and sets its ID.
	RecordAlert(ctx context.Context, a *AlertRecord) error
	// AlertRecords returns the alerts matching q, newest first (by time,
	// then ID).
	AlertRecords(ctx context.Context, q AlertQuery) ([]AlertRecord, error)
	// AlertState returns the value last stored under name, or an error
	// wrapping trackplan.ErrNotFound when there is none.
	AlertState(ctx context.Context, name string) (json.RawMessage, error)
	// SetAlertState stores value under name, replacing what was there.
	SetAlertState(ctx context.Context, name string, value json.RawMessage) error
	// PruneAlerts deletes the alert records from before the given time.
	PruneAlerts(ctx context.Context, before time.Time) error
}

// Alert delivery outcomes, as recorded.
const (
	// AlertSent: every configured channel took it.
	AlertSent = "sent"
	// AlertFailed: at least one channel did not take it after the retries.
	AlertFailed = "failed"
	// AlertHeld: it did not page (below the paging severity, in its
	// cooldown, brought in by a plan edit); the next digest lists it.
	AlertHeld = "held"
	// AlertNoChannel: no channel is configured; kept for the record.
	AlertNoChannel = "no_channel"
)

// AlertRecord is one alert decided by the alerting.
type AlertRecord struct {
	ID int64 `json:"id"`
	// At is when it was decided, in UTC.
	At time.Time `json:"at"`
	// Rule names the rule that raised it ("new_finding", "volume_drop", …,
	// or "digest" and "test").
	Rule string `json:"rule"`
	// Key is what it is about, the dedupe key: a finding's fingerprint,
	// an event, "profile/account", a job.
	Key string `json:"key"`
	// Severity is "critical", "warning" or "info".
	Severity string `json:"severity"`
	// Title is a one-line summary; Text the details, both plain text.
	Title string `json:"title"`
	Text  string `json:"text,omitempty"`
	// Link is the dashboard page it points to, "" when none.
	Link string `json:"link,omitempty"`
	// Status is one of AlertSent, AlertFailed, AlertHeld, AlertNoChannel.
	Status string `json:"status"`
	// Channels are the channels it was sent to ("slack", "webhook").
	Channels []string `json:"channels"`
	// Error says why a delivery failed; never holds a channel's URL.
	Error string `json:"error,omitempty"`
}

// AlertQuery selects alert records; zero fields do not filter.
type AlertQuery struct {
	Since  time.Time // At at or after
	Rule   string
	Key    string
	Status string
	Limit  int // 0: no limit
}
