package store

import (
	"context"
	"time"
)

// DriftSource is what reconciling the plan with observations reads beyond
// Observed and Violations.
type DriftSource interface {
	// EventVolumes counts each observed event's messages on the UTC days in
	// [from, to).
	EventVolumes(ctx context.Context, from, to time.Time) (map[EventKey]int64, error)
	// Hygiene counts users and accounts missing what the best-practice
	// checks want; nameTrait is the account display-name trait. A userId
	// merged into another by an alias is not counted (each id's own traits
	// are checked, not the person's).
	Hygiene(ctx context.Context, nameTrait string) (Hygiene, error)
}

// Hygiene counts identity best-practice gaps.
type Hygiene struct {
	Users            int64 `json:"users"`
	UsersNoEmail     int64 `json:"users_without_email"`
	UsersNoName      int64 `json:"users_without_name"`
	UsersNoCreatedAt int64 `json:"users_without_created_at"`
	UsersNoAccount   int64 `json:"users_without_account"`
	Accounts         int64 `json:"accounts"`
	AccountsNoName   int64 `json:"accounts_without_name"`
}
