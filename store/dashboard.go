package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/trackplan/trackplan"
)

// DashboardSource is what the dashboard reads beyond the other methods.
type DashboardSource interface {
	// EventDaily calls fn with each event's messages per UTC day in
	// [from, to), summed over sources; days without messages are skipped.
	EventDaily(ctx context.Context, from, to time.Time, fn func(typ trackplan.CallType, name string, day time.Time, count int64) error) error
	// AccountTraitsOf returns an account's merged traits (cleared ones
	// absent), or an error wrapping trackplan.ErrNotFound for an unknown
	// account.
	AccountTraitsOf(ctx context.Context, groupID string) (map[string]json.RawMessage, error)
	// AccountActivity returns, for each of the named events a member of the
	// account ever did, its count on the UTC days in [from, to), its count
	// over the kept history and its last occurrence.
	AccountActivity(ctx context.Context, groupID string, events []string, from, to time.Time) ([]EventUse, error)
}

// EventUse is what the members of one account did of one event.
type EventUse struct {
	Event    string
	Window   int64
	Total    int64
	LastSeen time.Time
}
