// Package store defines the Store contract, the one wide interface of
// trackplan, in two halves: the event log (every accepted message, appended
// before it is acknowledged) and the state derived from it. It also holds the
// log's block format and the aggregation that turns a run of logged messages
// into the bounded aggregates every implementation writes (schema
// observations, violations, traits, memberships, activity rollups, the
// reservoir).
//
// Implementations live in store/sqlite and store/postgres; store/storetest is
// the conformance suite both must pass.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/trackplan/trackplan"
)

// Store is what trackplan keeps between runs. Every method is safe for
// concurrent use.
type Store interface {
	// Log is the event log; Derived the state derived from it.
	Log
	Derived
	Verdicts

	// Stored counts how many of the given messageIds of a source are stored
	// (within the dedupe window).
	Stored(ctx context.Context, source string, messageIDs []string) (int, error)

	// Observed returns what has been seen, for `trackplan observed`.
	Observed(ctx context.Context) (*Observed, error)

	// Reservoir returns up to limit recent raw messages observed under the
	// given event key, newest first.
	Reservoir(ctx context.Context, key EventKey, limit int) ([]json.RawMessage, error)

	// Prune removes dedupe keys received before dedupeBefore, and activity
	// rollups, hourly verdicts and volumes before activityBefore, the
	// anonymous ids last seen before activityBefore that never linked to
	// a user, with their rollups, traits and memberships, and the events
	// last seen before activityBefore with what was observed of them (their
	// guard slots free up; the epoch moves when any go). The log is pruned
	// by PruneLog.
	Prune(ctx context.Context, dedupeBefore, activityBefore time.Time) error

	// RecordRun appends a job run to the run log and sets its ID.
	RecordRun(ctx context.Context, r *trackplan.JobRun) error

	// Runs returns the most recent job runs, newest first; job filters by
	// name when not empty.
	Runs(ctx context.Context, job string, limit int) ([]trackplan.JobRun, error)

	// The scoring source: rollups, traits and memberships streamed row by
	// row (see scoring.ActivitySource), keyed by the ids the messages
	// carried: the userId, else the anonymousId. Users streams every user
	// and every anonymous id linked to one; a reader resolves ids with the
	// identity links.
	Users(ctx context.Context, fn func(userID string, first, last time.Time) error) error
	Memberships(ctx context.Context, fn func(userID, groupID string) error) error
	DailyActivity(ctx context.Context, events []string, from, to time.Time, fn func(userID, event string, day time.Time, count int64) error) error
	EventTotals(ctx context.Context, events []string, fn func(userID, event string, first, last time.Time) error) error
	UserTraits(ctx context.Context, names []string, fn func(userID, name string, value json.RawMessage, at time.Time) error) error
	AccountTraits(ctx context.Context, names []string, fn func(groupID, name string, value json.RawMessage) error) error
	// IdentityLinks streams every identity link (see package identity)
	// with the event time of the first message that made it.
	IdentityLinks(ctx context.Context, fn func(id, userID string, at time.Time) error) error

	// SaveScores stores a profile's score run (a snapshot).
	SaveScores(ctx context.Context, run *trackplan.ScoreRun) error
	// LatestScores returns the profile's latest run before the given time,
	// or an error wrapping trackplan.ErrNotFound.
	LatestScores(ctx context.Context, profile string, before time.Time) (*trackplan.ScoreRun, error)
	// AccountHistory returns an account's average score per run, oldest
	// first, at most limit points.
	AccountHistory(ctx context.Context, profile, groupID string, limit int) ([]ScorePoint, error)
	// PruneScores deletes snapshots taken before the given time, keeping
	// each profile's latest.
	PruneScores(ctx context.Context, before time.Time) error

	DriftSource
	DashboardSource
	// Searcher finds accounts and users for the dashboard (search.go).
	Searcher

	// Ledger is the push ledger (ledger.go).
	Ledger

	// Alerts is the record of alerts and their state (alerts.go).
	Alerts

	// Forwarding is the forwarder's outbox state (forward.go).
	Forwarding

	// Close releases the store's resources.
	Close() error
}

// Limits are the cardinality guards and sizes every store applies. The
// guards count only what the plan does not name: planned events and
// planned property paths always get through (see Batch.Planned).
type Limits struct {
	MaxEventsPerSource int // distinct unplanned (type, name) per source; default 2,000
	MaxPathsPerEvent   int // distinct unplanned property paths per event; default 500
	ReservoirSize      int // recent raw messages kept per event; default 50
	ExamplesPerPath    int // example values kept per property path; default 3
	// DedupeWindow is how long a message's dedupe key is kept (default
	// 48h): a store that keeps its keys in memory loads this much at open.
	DedupeWindow time.Duration
}

// DefaultLimits returns the limits of product.md.
func DefaultLimits() Limits {
	return Limits{MaxEventsPerSource: 2000, MaxPathsPerEvent: 500, ReservoirSize: 50, ExamplesPerPath: 3, DedupeWindow: 48 * time.Hour}
}

// Batch is what one Apply call derives from: logged messages, each with the
// violations found by checking it against the current plan, and logged
// rejections, in log order.
type Batch struct {
	Messages   []Checked
	Rejections []trackplan.Rejection
	// Epoch is the derived state's epoch read before the records were
	// (see Derived.Epoch).
	Epoch int64
	// Plan is the ID of the plan version the messages were checked
	// against ("" when unchecked): Apply refuses it with ErrPlanMoved
	// unless the verdicts follow that plan.
	Plan string
	// Planned names what that plan plans, nil when unchecked: the guard
	// always lets it through (see Guard).
	Planned PlanNames
}

// ErrUnstorable is wrapped by the error of a store that refused the data
// itself (a value it cannot hold), as opposed to an outage: the same data
// would fail again. The ingest pipeline then isolates the messages at fault
// and stores the others.
var ErrUnstorable = errors.New("the store cannot take this data")

// MessageKey is the dedupe key of a message: its messageId, or a hash of
// its raw JSON when the client sent none, so an identical resend still
// counts once.
func MessageKey(m *trackplan.Message) string {
	if m.MessageID != "" {
		return m.MessageID
	}
	sum := sha256.Sum256(m.Raw)
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// Checked is an accepted message and its plan violations.
type Checked struct {
	Message    *trackplan.Message
	Violations []trackplan.Violation
}

// IngestResult counts what Append did.
type IngestResult struct {
	Stored     int // new messages appended
	Duplicates int // messages dropped as already stored
	Rejected   int
}

// EventKey identifies an observed event: identify, group and alias calls use
// their type as Name; page and screen calls are "Page Viewed"/"Screen Viewed".
type EventKey struct {
	Source string
	Type   trackplan.CallType
	Name   string
}

// Observed is the summary behind `trackplan observed`.
type Observed struct {
	Totals     Totals          `json:"totals"`
	Events     []ObservedEvent `json:"events"`
	Rejections []RejectionSum  `json:"rejections"`
}

// Totals counts messages and entities over the store's life.
type Totals struct {
	Messages   int64 `json:"messages"`
	Rejected   int64 `json:"rejected"`
	Duplicates int64 `json:"duplicates"`
	// Users counts the people identified by a userId: a userId merged
	// into another by an alias is not counted again.
	Users    int64 `json:"users"`
	Accounts int64 `json:"accounts"`
	// LinkedIDs counts the ids linked to a userId (anonymous ids and
	// alias previousIds); IdentityConflicts those linked to more than one
	// (shared devices), of which only the first link is followed.
	LinkedIDs         int64 `json:"linked_ids"`
	IdentityConflicts int64 `json:"identity_conflicts"`
	// ClampedTimestamps counts accepted messages whose timestamp was
	// before 2000 or more than a day after their receipt, and was replaced
	// by the receive time.
	ClampedTimestamps int64 `json:"clamped_timestamps"`
	// Quarantined counts the log records the derived state could not take
	// (see Quarantiner): the aggregator passed over them.
	Quarantined int64 `json:"quarantined"`
}

// ObservedEvent is what was seen of one event.
type ObservedEvent struct {
	Source     string             `json:"source"`
	Type       trackplan.CallType `json:"type"`
	Name       string             `json:"name"`
	Count      int64              `json:"count"`
	FirstSeen  time.Time          `json:"first_seen"`
	LastSeen   time.Time          `json:"last_seen"`
	Properties []ObservedProperty `json:"properties"`
}

// ObservedProperty is what was seen of one property path of an event.
type ObservedProperty struct {
	Path      string           `json:"path"`
	Types     map[string]int64 `json:"types"`
	Present   int64            `json:"present"`
	FirstSeen time.Time        `json:"first_seen"`
	LastSeen  time.Time        `json:"last_seen"`
	Examples  []string         `json:"examples,omitempty"`
}

// RejectionSum counts rejected messages by reason.
type RejectionSum struct {
	Source    string    `json:"source"`
	Reason    string    `json:"reason"`
	Count     int64     `json:"count"`
	Sample    string    `json:"sample"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}
