package store

import (
	"context"
	"strings"
	"time"
)

// Quarantiner is the part of the derived state that keeps the log records
// the store could not apply (ErrUnstorable): the aggregator moves the
// cursor past such a record and records it here instead of stopping. The
// records stay in the log, so a rebuild after a fix applies them again.
type Quarantiner interface {
	// Quarantine records that the record seq could not be applied, with the
	// reason, and moves the cursor from from to to, in one transaction. Like
	// Apply, it returns an error wrapping ErrCursorMoved, and changes
	// nothing, when the cursor is not at from or the epoch is not epoch.
	Quarantine(ctx context.Context, from, to, epoch, seq int64, reason string) error

	// Quarantined lists the quarantined records, by sequence number.
	Quarantined(ctx context.Context) ([]QuarantineEntry, error)
}

// QuarantineEntry is a log record the derived state could not take.
type QuarantineEntry struct {
	Seq    int64     `json:"seq"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"` // when it was quarantined
}

// maxQuarantineReason bounds the reason kept with a quarantined record: an
// error message may quote the data at fault.
const maxQuarantineReason = 1000

// QuarantineReason is reason as a store keeps it: valid UTF-8 without NUL,
// at most maxQuarantineReason bytes.
func QuarantineReason(reason string) string {
	return truncate(strings.ToValidUTF8(strings.ReplaceAll(reason, "\x00", "\uFFFD"), "\uFFFD"), maxQuarantineReason)
}
