package store

import (
	"context"
	"time"
)

// Forwarding is the outbox state of the forwarder (package forward): per
// source, a cursor in the event log up to which every message of the source
// was forwarded or held, and the messages held back (blocked by the
// source's enforcement policy, or refused by the destination), which stay
// in the log and can be replayed.
//
// Retention never prunes log blocks past the lowest forwarding cursor:
// PruneLog keeps them, as it keeps the blocks derivation has not applied.
type Forwarding interface {
	// ForwardStart returns a source's forwarding state, creating it with
	// its cursor at start when the source has none yet.
	ForwardStart(ctx context.Context, source string, start int64) (ForwardState, error)

	// ForwardAdvance moves a source's cursor from from to to, adds
	// forwarded to its count of forwarded messages, records held and
	// clears the source's last error, in one transaction. It returns an
	// error wrapping ErrCursorMoved, and changes nothing, when the cursor
	// is not at from (another process forwarded those records first).
	ForwardAdvance(ctx context.Context, source string, from, to int64, forwarded int64, held []HeldMessage) error

	// ForwardFailed records a source's last error and when it happened.
	// The error text must hold no secret.
	ForwardFailed(ctx context.Context, source, msg string, at time.Time) error

	// ForwardStates returns every source's forwarding state, by name.
	ForwardStates(ctx context.Context) ([]ForwardState, error)

	// ForwardHeld returns up to limit of a source's held messages that
	// arrived at or after since, with a sequence number after after, in
	// log order: a page, the next one after the last seq of this one.
	ForwardHeld(ctx context.Context, source string, since time.Time, after int64, limit int) ([]HeldMessage, error)

	// ForwardRelease removes held messages of a source (a replay forwarded
	// them) and adds how many to its count of forwarded messages.
	ForwardRelease(ctx context.Context, source string, seqs []int64) error

	// ForwardRetire drops the forwarding state of every source not in
	// keep (their forwarding was turned off), so retention is no longer
	// held back by their cursors.
	ForwardRetire(ctx context.Context, keep []string) error
}

// ForwardState is one source's forwarding state.
type ForwardState struct {
	Source    string    `json:"source"`
	Cursor    int64     `json:"cursor"`    // the last log sequence number forwarded or held
	Forwarded int64     `json:"forwarded"` // messages forwarded, replays included
	Updated   time.Time `json:"updated"`   // when the cursor last moved
	LastError string    `json:"last_error,omitempty"`
	ErrorAt   time.Time `json:"last_error_at,omitzero"`
	// Held counts the messages held back, by reason.
	Held map[string]int64 `json:"held"`
}

// HeldMessage is a message the forwarder did not forward: its record's
// sequence number, why (a Held* reason), and when it arrived.
type HeldMessage struct {
	Seq       int64     `json:"seq"`
	Reason    string    `json:"reason"`
	MessageID string    `json:"message_id"`
	Arrived   time.Time `json:"arrived"`
	Detail    string    `json:"detail,omitempty"` // e.g. the destination's answer
}

// Reasons a message is held back from forwarding.
const (
	HeldUnplanned = "blocked_unplanned" // the source blocks unplanned events
	HeldInvalid   = "blocked_invalid"   // the source blocks messages with error-level violations
	HeldRefused   = "refused"           // the destination refused it (400)
)
