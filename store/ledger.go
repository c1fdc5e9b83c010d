package store

import (
	"context"
	"encoding/json"
	"time"
)

// Ledger is the push ledger, per profile: the traits last acknowledged per
// entity (account or user), and the failed keys kept apart, so a failure
// never erases what was acknowledged and a failed key is retried until it
// is accepted. Keys are unique within one call.
type Ledger interface {
	// LedgerLoad streams the profile's acknowledged entries, in any order.
	LedgerLoad(ctx context.Context, profile string, fn func(LedgerEntry) error) error
	// LedgerFailures streams the profile's failed keys, in any order.
	LedgerFailures(ctx context.Context, profile string, fn func(LedgerFailure) error) error
	// LedgerAck records acknowledged entries in one transaction: each
	// replaces its key's entry and clears its key's failure.
	LedgerAck(ctx context.Context, profile string, entries []LedgerEntry) error
	// LedgerFail records failures in one transaction: a new key starts at
	// one attempt with FirstFailed = LastFailed; a known key gets one more
	// attempt and the new message id, status, reason, error and LastFailed.
	// Acknowledged entries are left as they are.
	LedgerFail(ctx context.Context, profile string, failures []LedgerFailure) error
	// LedgerRetire deletes the entries and the failures of the given keys
	// in one transaction, so the push forgets the entities: an entity that
	// left the profile's snapshot once its final update was acknowledged,
	// or a user merged into another. Keys the ledger does not hold are
	// ignored; other profiles are left as they are.
	LedgerRetire(ctx context.Context, profile string, keys []LedgerKey) error
}

// EntityKind is what a pushed entity is.
type EntityKind string

// Entity kinds of the push ledger.
const (
	// EntityAccount is an account, pushed as a group call.
	EntityAccount EntityKind = "account"
	// EntityUser is a user, pushed as an identify call.
	EntityUser EntityKind = "user"
)

// LedgerKey identifies one pushed entity within a profile's ledger.
type LedgerKey struct {
	Kind EntityKind
	ID   string
}

// LedgerEntry is what was last acknowledged for one entity of a profile:
// the traits of the last message the endpoint accepted.
type LedgerEntry struct {
	LedgerKey
	// Digest is the pusher's digest of Traits; the store keeps it as is and
	// never interprets it.
	Digest string
	// MessageID is the messageId of the acknowledged message.
	MessageID string
	// Traits is a JSON object: trait name → last acknowledged value. A
	// store may reformat it (key order, spacing) but must keep its values.
	Traits json.RawMessage
	// AckedAt is when the acknowledgement arrived (microsecond precision).
	AckedAt time.Time
}

// FailureStatus says why an entity is in the failed-keys ledger.
type FailureStatus string

// Failure statuses. Both are retried on every push until accepted.
const (
	// FailurePending: the endpoint could not take the message (no answer,
	// a timeout, 429, 5xx) or the run ended before its outcome was known;
	// it may even have been delivered.
	FailurePending FailureStatus = "pending"
	// FailureRejected: the endpoint refused the message for good (a 4xx
	// other than 408 and 429, a message over 32 KB).
	FailureRejected FailureStatus = "rejected"
)

// LedgerFailure is an entity whose latest push was not acknowledged. It is
// kept apart from the entity's LedgerEntry, which still holds the last
// acknowledged traits.
type LedgerFailure struct {
	LedgerKey
	// MessageID is the messageId of the latest failed message.
	MessageID string
	// Status is pending (transient) or rejected (permanent).
	Status FailureStatus
	// Reason is a short machine-readable cause: http_503, transport,
	// message_too_big, no_outcome, …
	Reason string
	// Error is the error text, bounded by the pusher.
	Error string
	// Attempts counts the failed pushes of the entity since its last
	// acknowledgement. The store maintains it: ignored by LedgerFail.
	Attempts int
	// FirstFailed is the first failure since the last acknowledgement; the
	// store maintains it: ignored by LedgerFail.
	FirstFailed time.Time
	// LastFailed is the time of this failure (microsecond precision).
	LastFailed time.Time
}
