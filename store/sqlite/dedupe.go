package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// The dedupe keys of the SQLite store live in memory, rebuilt from the log:
// each block carries the 16-byte keys of its messages (hashes of source and
// messageId, uncompressed beside the records), so opening the store reads
// the keys of the blocks accepted within the dedupe window, and appending
// costs a map lookup per message. A table of random UUID keys cost more
// than everything else an append does (a page written per key at commit).
//
// Several processes may append to one store (serve and import): under the
// log's write lock an append first reads the keys of blocks other processes
// appended since it last looked, so a key claimed anywhere is seen.

// dedupeKey identifies a message for deduplication.
type dedupeKey [16]byte

func keyOf(m *trackplan.Message) dedupeKey {
	h := sha256.New()
	h.Write([]byte(m.Source))
	h.Write([]byte{0})
	h.Write([]byte(store.MessageKey(m)))
	var k dedupeKey
	copy(k[:], h.Sum(nil))
	return k
}

// dedupeIndex is the set of dedupe keys within the window, with the time
// each was accepted.
type dedupeIndex struct {
	mu   sync.Mutex
	keys map[dedupeKey]int64 // → accepted at, µs
	head int64               // the last log sequence number whose keys are in keys
}

// loadDedupe reads the keys of the blocks accepted after since, and the
// keys a store from before the log kept in its dedupe table.
func (db *DB) loadDedupe(ctx context.Context, since time.Time) error {
	d := &dedupeIndex{keys: map[dedupeKey]int64{}}
	rows, err := db.logr.QueryContext(ctx, `SELECT source, message_id, received_at FROM dedupe WHERE received_at >= ?`, micro(since))
	if err != nil {
		return fmt.Errorf("load dedupe keys: %w", err)
	}
	for rows.Next() {
		var m trackplan.Message
		var at int64
		if err := rows.Scan(&m.Source, &m.MessageID, &at); err != nil {
			rows.Close()
			return fmt.Errorf("load dedupe keys: %w", err)
		}
		d.keys[keyOf(&m)] = at
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("load dedupe keys: %w", err)
	}
	if err := db.logr.QueryRowContext(ctx, `SELECT head FROM log_head`).Scan(&d.head); err != nil {
		return fmt.Errorf("load dedupe keys: %w", err)
	}
	// The day index narrows the scan to the window's days.
	if err := d.addBlocks(ctx, db.logr, `day >= ? AND at >= ?`, store.Day(since), micro(since)); err != nil {
		return err
	}
	db.dedupe = d
	return nil
}

// queryer is a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// addBlocks adds the keys of the blocks the condition selects.
func (d *dedupeIndex) addBlocks(ctx context.Context, q queryer, cond string, args ...any) error {
	rows, err := q.QueryContext(ctx, `SELECT at, keys FROM log_blocks WHERE `+cond, args...)
	if err != nil {
		return fmt.Errorf("load dedupe keys of the log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var at int64
		var keys []byte
		if err := rows.Scan(&at, &keys); err != nil {
			return fmt.Errorf("load dedupe keys of the log: %w", err)
		}
		for i := 0; i+16 <= len(keys); i += 16 {
			d.keys[dedupeKey(keys[i:i+16])] = at
		}
	}
	return rows.Err()
}

// catchUp adds the keys of blocks other processes appended after d.head, up
// to head; tx holds the log's write lock.
func (d *dedupeIndex) catchUp(ctx context.Context, tx *sql.Tx, head int64) error {
	if head == d.head {
		return nil
	}
	if err := d.addBlocks(ctx, tx, `first_seq > ?`, d.head); err != nil {
		return err
	}
	d.head = head
	return nil
}

// claim splits msgs into the indexes of the fresh ones (first sighting,
// key not held) and, per source, the count of duplicates; it changes
// nothing (commit adds the keys once the block is durable).
func (d *dedupeIndex) claim(msgs []*trackplan.Message) (fresh []int, keys []byte, dups map[string]int64) {
	dups = map[string]int64{}
	seen := make(map[dedupeKey]struct{}, len(msgs))
	fresh = make([]int, 0, len(msgs))
	keys = make([]byte, 0, 16*len(msgs))
	for i, m := range msgs {
		k := keyOf(m)
		if _, ok := d.keys[k]; ok {
			dups[m.Source]++
			continue
		}
		if _, ok := seen[k]; ok {
			dups[m.Source]++
			continue
		}
		seen[k] = struct{}{}
		fresh = append(fresh, i)
		keys = append(keys, k[:]...)
	}
	return fresh, keys, dups
}

// commit adds the keys of a committed block.
func (d *dedupeIndex) commit(keys []byte, at time.Time, head int64) {
	us := micro(at)
	for i := 0; i+16 <= len(keys); i += 16 {
		d.keys[dedupeKey(keys[i:i+16])] = us
	}
	d.head = head
}

// prune forgets the keys accepted before t.
func (d *dedupeIndex) prune(t time.Time) {
	us := micro(t)
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, at := range d.keys {
		if at < us {
			delete(d.keys, k)
		}
	}
}

// Stored counts how many of the messageIds of source have dedupe keys.
func (db *DB) Stored(ctx context.Context, source string, ids []string) (int, error) {
	d := db.dedupe
	d.mu.Lock()
	defer d.mu.Unlock()
	var head int64
	if err := db.logr.QueryRowContext(ctx, `SELECT head FROM log_head`).Scan(&head); err != nil {
		return 0, fmt.Errorf("count stored messages: %w", err)
	}
	if head != d.head {
		if err := d.addBlocks(ctx, db.logr, `first_seq > ?`, d.head); err != nil {
			return 0, err
		}
		d.head = head
	}
	n := 0
	for _, id := range ids {
		if _, ok := d.keys[keyOf(&trackplan.Message{Source: source, MessageID: id})]; ok {
			n++
		}
	}
	return n, nil
}
