package scoring

import (
	"context"
	"encoding/json"
	"time"

	"github.com/trackplan/trackplan"
)

// ActivitySource streams what a scoring run reads from storage. Every method
// calls fn once per row, in any order, and stops with fn's error when fn
// fails. The signatures use only standard and root types, so a store
// implements the interface without importing this package. Rows grouped by
// user load faster.
//
// Rows are keyed by the ids the messages carried; Load resolves them with
// the identity links (package identity), so the rows of every id a person
// was known by count for that person, under the id they are known by now.
type ActivitySource interface {
	// Users calls fn for every known user, and every anonymous id linked to
	// one, with the times of their first and last event of any kind. Rows
	// of other ids (anonymous ids never linked to a user) are not scored.
	Users(ctx context.Context, fn func(userID string, first, last time.Time) error) error

	// Memberships calls fn for every (user, account) membership.
	Memberships(ctx context.Context, fn func(userID, groupID string) error) error

	// DailyActivity calls fn for every daily rollup of one of the named
	// events on a UTC day in [from, to); day is the day's midnight UTC and
	// count the number of times the user did the event that day.
	DailyActivity(ctx context.Context, events []string, from, to time.Time, fn func(userID, event string, day time.Time, count int64) error) error

	// EventTotals calls fn for every all-time (user, event) rollup of one of
	// the named events, with the times of the first and last occurrence.
	EventTotals(ctx context.Context, events []string, fn func(userID, event string, first, last time.Time) error) error

	// UserTraits calls fn with the current value (JSON, null when cleared)
	// of every named trait that a user has, and the event time that set
	// it: across ids merged into one user, the latest value wins.
	UserTraits(ctx context.Context, names []string, fn func(userID, name string, value json.RawMessage, at time.Time) error) error

	// AccountTraits calls fn with the current value (JSON) of every named
	// trait that an account has.
	AccountTraits(ctx context.Context, names []string, fn func(groupID, name string, value json.RawMessage) error) error

	// IdentityLinks calls fn for every identity link: an id (anonymousId
	// or alias previousId) linked to a userId by a message at event time
	// at.
	IdentityLinks(ctx context.Context, fn func(id, userID string, at time.Time) error) error
}

// SnapshotSaver stores the result of a scoring run.
type SnapshotSaver interface {
	// SaveScores stores one profile's run; a nil error means it is durable.
	SaveScores(ctx context.Context, run *trackplan.ScoreRun) error
}

// SnapshotLoader reads earlier runs, the baseline of trends.
type SnapshotLoader interface {
	// LatestScores returns the most recent run of the profile whose At is
	// before the given time, or an error wrapping trackplan.ErrNotFound.
	LatestScores(ctx context.Context, profile string, before time.Time) (*trackplan.ScoreRun, error)
}
