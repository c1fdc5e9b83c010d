package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trackplan/trackplan"
)

// Log is the event log half of a store: every accepted message, appended
// before the request is answered, in blocks of compressed records with a
// per-store sequence number. Everything else a store holds is derived from
// it (see Derived).
type Log interface {
	// Append claims the batch's dedupe keys and appends the messages whose
	// keys were new, and every rejection, as one block in one committed
	// transaction. When it returns nil, the block is durable. Duplicates
	// are counted per source (a collector counter, not derived state).
	Append(ctx context.Context, b *LogBatch) (IngestResult, error)

	// ReadLog calls fn with the blocks that hold records after sequence
	// number after, in order, until about maxRecords records were read
	// (at least one block when there is one). The first block may hold
	// records up to after too (a cursor inside a block, left there by a
	// quarantine): the caller skips them.
	ReadLog(ctx context.Context, after int64, maxRecords int, fn func(LogBlock) error) error

	// LogHead is the last sequence number assigned (0 for an empty log).
	LogHead(ctx context.Context) (int64, error)

	// LogStats describes the log: its sequence range, size and age. It
	// reads every block's row: for reports, not for polling.
	LogStats(ctx context.Context) (LogStats, error)

	// LogDiskBytes is the space the log takes on disk, read cheaply (file
	// sizes, catalog sizes): what a quota polls.
	LogDiskBytes(ctx context.Context) (int64, error)

	// PruneLog drops the blocks that arrived before the given time, by
	// whole days of arrival, and reports what it dropped. Blocks the
	// derived state has not applied yet are kept.
	PruneLog(ctx context.Context, before time.Time) (LogPruned, error)

	// RewriteLog calls fn with every block; when fn returns changed, the
	// block's data is replaced by data (an empty data deletes the block)
	// and the old bytes are overwritten on disk. fn may be called more than
	// once with a block (to find it, then to rewrite it as it is then). It
	// is how a person is erased from the log.
	RewriteLog(ctx context.Context, fn func(LogBlock) (data []byte, count int, changed bool, err error)) error
}

// Derived is the derived-state half of a store: aggregates maintained from
// the log by exactly-once application of its blocks.
type Derived interface {
	// Cursor is the sequence number of the last record applied.
	Cursor(ctx context.Context) (int64, error)

	// Epoch counts the erasures, resets and event prunes of the derived
	// state. A deriver reads it before the cursor and the log, and passes
	// it in Batch.Epoch: a run read before an erasure is then refused, so
	// erased records never come back.
	Epoch(ctx context.Context) (int64, error)

	// Apply adds what b holds (the records from after the sequence number
	// from to to, checked against the plan) to the derived state and moves
	// the cursor from from to to, in one transaction. It returns an error
	// wrapping ErrCursorMoved, and changes nothing, when the cursor is not
	// at from (another process applied those records first) or the epoch
	// is not b.Epoch (an erasure or a reset happened since they were read).
	Apply(ctx context.Context, from, to int64, b *Batch) error

	// Quarantine and Quarantined keep the records Apply cannot take (see
	// quarantine.go).
	Quarantiner

	// ResetDerived empties every table derived from the log, the
	// quarantine included (a rebuild applies those records again), sets the
	// cursor to zero and advances the epoch, for a rebuild. Duplicate counts (counted when
	// appending), the run log, snapshots and the push ledger stay.
	ResetDerived(ctx context.Context) error

	// ForgetDerived erases what the derived state holds of the given users
	// and accounts: their rows, and samples, reservoir messages and ledger
	// traits that hold any of needles (their ids, email and identifying
	// trait values) as a whole JSON string value, and examples equal to
	// one. Score snapshots and the push ledger are included. It advances
	// the epoch.
	ForgetDerived(ctx context.Context, userIDs, groupIDs, needles []string) error
}

// ErrCursorMoved is returned by Apply when another process applied the
// same records first.
var ErrCursorMoved = errors.New("derive cursor moved")

// LogBatch is what one Append call stores: the accepted messages and the
// rejections of the requests committed together.
type LogBatch struct {
	Messages   []*trackplan.Message
	Rejections []trackplan.Rejection
	// Lines, when set, are the messages' records already encoded with
	// EncodeMessage (one per message, in order): callers encode in their
	// own goroutines so the append transaction only compresses.
	Lines [][]byte
	// At is when the batch was accepted: its arrival day in the log, and
	// the time its dedupe keys expire from (not a message's own receivedAt,
	// which an archive carries from long ago). Zero means now.
	At time.Time
}

// LogBlock is one stored block of the log: records First through Last
// (some may have been erased), appended at At.
type LogBlock struct {
	First, Last int64
	At          time.Time
	Count       int // records the block holds
	Data        []byte
}

// LogStats describes the log.
type LogStats struct {
	First, Last int64     // sequence range held; 0, 0 when empty
	Blocks      int64     // blocks held
	Records     int64     // records held
	Bytes       int64     // compressed bytes held
	Oldest      time.Time // arrival of the oldest block held
	Newest      time.Time // arrival of the newest block held
	// Pruned is true when records were ever dropped from the front of the
	// log (retention) or the store had derived state before it had a log:
	// a rebuild then cannot re-derive everything.
	Pruned bool
}

// LogPruned reports what PruneLog dropped.
type LogPruned struct {
	Blocks, Records int64
	Through         int64 // the last sequence number dropped
}

// CorruptBlockError is a log block that cannot be decoded: it names the
// sequence range it held.
type CorruptBlockError struct {
	First, Last int64
	Err         error
}

func (e *CorruptBlockError) Error() string {
	return fmt.Sprintf("log block %d-%d is corrupt: %v", e.First, e.Last, e.Err)
}

func (e *CorruptBlockError) Unwrap() error { return e.Err }

// EncodeLines returns the record lines of the batch's messages: b.Lines, or
// each message encoded now.
func (b *LogBatch) EncodeLines() ([][]byte, error) {
	if len(b.Lines) == len(b.Messages) {
		return b.Lines, nil
	}
	lines := make([][]byte, len(b.Messages))
	for i, m := range b.Messages {
		line, err := EncodeMessage(m)
		if err != nil {
			return nil, err
		}
		lines[i] = line
	}
	return lines, nil
}

// Set returns the strings of xs as a set.
func Set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}
