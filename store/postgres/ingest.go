package postgres

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan/store"
)

// Append claims the batch's dedupe keys and appends the fresh messages, in
// batch order, then the rejections, as one block, in one transaction. The
// partition of the block's arrival day is made first if this DB has not
// seen it yet (see ensurePartition).
// Concurrent calls, from this replica or others sharing the database, are
// safe: a message id is claimed by exactly one transaction, and the block's
// sequence numbers are taken from log_state by the transaction's last
// statement, whose row lock is held until commit, so they follow commit
// order. A transaction that deadlocks or fails to serialize is run again.
func (db *DB) Append(ctx context.Context, b *store.LogBatch) (store.IngestResult, error) {
	lines, err := b.EncodeLines()
	if err != nil {
		return store.IngestResult{}, err
	}
	rejLines := make([][]byte, len(b.Rejections))
	for i := range b.Rejections {
		if rejLines[i], err = store.EncodeRejection(&b.Rejections[i]); err != nil {
			return store.IngestResult{}, err
		}
	}
	at := b.At
	if at.IsZero() {
		at = time.Now()
	}
	day := store.Day(at)
	for attempt := 0; ; attempt++ {
		if err := db.ensurePartition(ctx, day); err != nil {
			return store.IngestResult{}, err
		}
		// Tomorrow's partition is made ahead, so the first append after
		// midnight does not wait for the table lock creating it takes. A
		// failure here costs nothing: tomorrow's first append makes it.
		if next := store.Day(at.AddDate(0, 0, 1)); db.ensurePartition(ctx, next) != nil {
			db.forgetPartition(next)
		}
		var res store.IngestResult
		err = retry(ctx, func() error {
			var err error
			res, err = db.appendTx(ctx, b, lines, rejLines, at)
			return err
		})
		if unstorable(err) {
			return res, fmt.Errorf("%w: %w", store.ErrUnstorable, err)
		}
		if attempt > 0 || !noPartition(err) {
			return res, err
		}
		db.forgetPartition(day) // another replica pruned the day: make it again
	}
}

func (db *DB) appendTx(ctx context.Context, b *store.LogBatch, lines, rejLines [][]byte, at time.Time) (store.IngestResult, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return store.IngestResult{}, fmt.Errorf("begin append: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // a no-op once committed

	fresh, dups, err := claim(ctx, tx, b, at)
	if err != nil {
		return store.IngestResult{}, err
	}
	ndup, err := countDuplicates(ctx, tx, dups)
	if err != nil {
		return store.IngestResult{}, err
	}
	block := make([][]byte, 0, len(fresh)+len(rejLines))
	for _, i := range fresh {
		block = append(block, lines[i])
	}
	block = append(block, rejLines...)
	if len(block) > 0 {
		// One statement takes the sequence numbers and stores the block:
		// the log_state row lock is held from here to the commit only.
		tag, err := tx.Exec(ctx, `WITH h AS (UPDATE log_state SET head = head + $1 RETURNING head)
			INSERT INTO log_blocks (first_seq, last_seq, day, at, count, data)
			SELECT head - $1 + 1, head, $2::date, $3, $1, $4 FROM h`,
			len(block), store.Day(at), at, store.CompressBlock(block))
		if err == nil && tag.RowsAffected() != 1 {
			err = errors.New("no log state")
		}
		if err != nil {
			return store.IngestResult{}, fmt.Errorf("append log block: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return store.IngestResult{}, fmt.Errorf("commit append: %w", err)
	}
	return store.IngestResult{Stored: len(fresh), Duplicates: ndup, Rejected: len(b.Rejections)}, nil
}

// countDuplicates adds the batch's duplicates to the per-source counters,
// in sorted order like every upsert, and returns how many there were.
func countDuplicates(ctx context.Context, tx pgx.Tx, dups map[string]int64) (int, error) {
	if len(dups) == 0 {
		return 0, nil
	}
	type row struct {
		source string
		n      int64
	}
	rows := make([]row, 0, len(dups))
	var total int64
	for src, n := range dups {
		rows = append(rows, row{text(src), n})
		total += n
	}
	rows = sortMerge(rows, func(a, b row) int { return cmp.Compare(a.source, b.source) },
		func(into *row, r row) { into.n += r.n })
	sources := make([]string, len(rows))
	counts := make([]int64, len(rows))
	for i, r := range rows {
		sources[i], counts[i] = r.source, r.n
	}
	if _, err := tx.Exec(ctx, `INSERT INTO source_counts AS t (source, duplicates)
		SELECT * FROM unnest($1::text[], $2::bigint[])
		ON CONFLICT (source) DO UPDATE SET duplicates = t.duplicates + excluded.duplicates`, sources, counts); err != nil {
		return 0, fmt.Errorf("count duplicates: %w", err)
	}
	return int(total), nil
}

// Apply adds a run of logged records to the derived state and moves the
// cursor from from to to, in one transaction that holds the derive_state
// row lock throughout: applies from every replica run one at a time, and
// one that finds the cursor moved changes nothing. A transaction that
// deadlocks or fails to serialize is run again. A data error (a value
// PostgreSQL cannot hold) wraps store.ErrUnstorable: the same run would
// fail again.
func (db *DB) Apply(ctx context.Context, from, to int64, b *store.Batch) error {
	err := retry(ctx, func() error { return db.applyTx(ctx, from, to, b) })
	if unstorable(err) {
		return fmt.Errorf("%w: %w", store.ErrUnstorable, err)
	}
	return err
}

func (db *DB) applyTx(ctx context.Context, from, to int64, b *store.Batch) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin apply: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	var (
		cur, epoch int64
		plan       string
	)
	if err := tx.QueryRow(ctx, `SELECT cursor, epoch, plan FROM derive_state FOR UPDATE`).Scan(&cur, &epoch, &plan); err != nil {
		return fmt.Errorf("lock derive cursor: %w", err)
	}
	if cur != from || epoch != b.Epoch {
		return fmt.Errorf("apply records %d-%d: cursor at %d, epoch %d: %w", from+1, to, cur, epoch, store.ErrCursorMoved)
	}
	if plan != b.Plan {
		return fmt.Errorf("apply records %d-%d checked against plan %q: %w", from+1, to, b.Plan, store.ErrPlanMoved)
	}
	db.guardMu.Lock()
	if db.applied != from || db.guardStale || db.guardEpoch != epoch {
		// Another replica or process applied since this guard was built,
		// this DB replaced the verdicts (SwitchPlan), or a prune dropped
		// events.
		g, err := db.readGuard(ctx, tx)
		if err != nil {
			db.guardMu.Unlock()
			return err
		}
		db.guard, db.guardStale, db.guardEpoch = g, false, epoch
	}
	d := store.Aggregate(b, db.guard, db.limits)
	db.guardMu.Unlock()
	forget := func() {
		db.guardMu.Lock()
		db.guard.Forget(d.GuardAdds)
		db.guardMu.Unlock()
	}
	if err := db.writeDelta(ctx, tx, d); err != nil {
		forget()
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE derive_state SET cursor = $1`, to); err != nil {
		forget()
		return fmt.Errorf("move derive cursor: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		forget()
		return fmt.Errorf("commit apply: %w", err)
	}
	db.guardMu.Lock()
	db.applied = to
	db.guardMu.Unlock()
	return nil
}

type msgKey struct{ source, id string }

func (a msgKey) compare(b msgKey) int {
	return cmp.Or(cmp.Compare(a.source, b.source), cmp.Compare(a.id, b.id))
}

// claim inserts the batch's dedupe keys, in sorted order so that concurrent
// claims wait for each other rather than deadlock, and returns the indexes
// of the messages whose keys were new and, per source, how many were
// duplicates. A key claimed by a concurrent transaction that has not
// committed yet makes this one wait for it: a message is stored by exactly
// one transaction.
func claim(ctx context.Context, tx pgx.Tx, b *store.LogBatch, at time.Time) ([]int, map[string]int64, error) {
	msgs := b.Messages
	dups := map[string]int64{}
	keys := make([]msgKey, len(msgs))
	first := make(map[msgKey]bool, len(msgs))
	unique := make([]msgKey, 0, len(msgs))
	for i, m := range msgs {
		k := msgKey{text(m.Source), text(store.MessageKey(m))}
		keys[i] = k
		if first[k] {
			dups[m.Source]++
			continue
		}
		first[k] = true
		unique = append(unique, k)
	}
	if len(unique) == 0 {
		return nil, dups, nil
	}
	slices.SortFunc(unique, msgKey.compare)
	sources := make([]string, len(unique))
	ids := make([]string, len(unique))
	received := make([]time.Time, len(unique))
	for i, k := range unique {
		sources[i], ids[i], received[i] = k.source, k.id, at
	}
	rows, err := tx.Query(ctx, `INSERT INTO dedupe (source, message_id, received_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
		ON CONFLICT DO NOTHING RETURNING source, message_id`, sources, ids, received)
	if err != nil {
		return nil, nil, fmt.Errorf("claim message ids: %w", err)
	}
	inserted := make(map[msgKey]bool, len(unique))
	for rows.Next() {
		var k msgKey
		if err := rows.Scan(&k.source, &k.id); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("claim message ids: %w", err)
		}
		inserted[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("claim message ids: %w", err)
	}
	fresh := make([]int, 0, len(inserted))
	for i, m := range msgs {
		if !first[keys[i]] {
			continue // an in-batch duplicate, already counted
		}
		first[keys[i]] = false
		if inserted[keys[i]] {
			fresh = append(fresh, i)
		} else {
			dups[m.Source]++
		}
	}
	return fresh, dups, nil
}

// writeDelta writes an aggregated run in two pipelined round trips. Rows
// shared by many runs (events and their properties, violations, source
// counters) are written last, so the row locks that make concurrent
// transactions wait (an append counting duplicates, a prune) are held for
// as short a time as possible. Every table is written by one statement whose
// rows are in sorted key order, and tables in a fixed order, so two
// transactions always lock rows in the same order.
func (db *DB) writeDelta(ctx context.Context, tx pgx.Tx, d *store.Delta) error {
	var cold []stmt
	cold = appendSeen(cold, "users", "user_id", d.Users)
	cold = appendSeen(cold, "anonymous_ids", "anonymous_id", d.Anonymous)
	cold = appendSeen(cold, "accounts", "group_id", d.Accounts)
	cold = appendTraits(cold, "user_traits", "user_id", d.UserTraits)
	cold = appendTraits(cold, "account_traits", "group_id", d.AcctTraits)
	cold = appendMemberships(cold, d.Memberships)
	cold = appendLinks(cold, d.Links)
	cold = appendActivity(cold, d.DailyActs, d.TotalActs)

	ids := make(map[eventKey]storedEvent, len(d.Events))
	cold = appendEvents(cold, d.Events, ids)
	if err := runBatch(ctx, tx, cold); err != nil {
		return err
	}

	var hot []stmt
	hot = db.appendEventChildren(hot, d.Events, ids)
	hot = appendVolumes(hot, d.Volumes, func(k eventKey) (int64, bool) {
		e, ok := ids[k] // every event with a volume is in d.Events
		return e.id, ok
	})
	hot = appendViolations(hot, d.Violations)
	hot = appendRejections(hot, d.Rejections)
	hot = appendSources(hot, d.Sources)
	return runBatch(ctx, tx, hot)
}

// stmt is one statement of a pipelined batch; rows, when set, reads what the
// statement returns.
type stmt struct {
	name string
	sql  string
	args []any
	rows func(pgx.Rows) error
}

// runBatch sends the statements in one round trip and reads their results
// in order, naming the statement that failed.
func runBatch(ctx context.Context, tx pgx.Tx, stmts []stmt) error {
	if len(stmts) == 0 {
		return nil
	}
	var b pgx.Batch
	for _, s := range stmts {
		b.Queue(s.sql, s.args...)
	}
	br := tx.SendBatch(ctx, &b)
	for _, s := range stmts {
		if s.rows == nil {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return fmt.Errorf("%s: %w", s.name, err)
			}
			continue
		}
		rows, err := br.Query()
		if err == nil {
			err = s.rows(rows)
			rows.Close()
		}
		if err != nil {
			br.Close()
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("send batch: %w", err)
	}
	return nil
}

// seen is store.Seen as written: merged rows add counts and widen the range.
type seen struct {
	count       int64
	first, last time.Time
}

func seenOf(s *store.Seen) seen { return seen{s.Count, s.First, s.Last} }

func (s *seen) merge(o seen) {
	s.count += o.count
	if o.first.Before(s.first) {
		s.first = o.first
	}
	if o.last.After(s.last) {
		s.last = o.last
	}
}

// sortMerge sorts rows by key and merges rows with equal keys. Delta keys
// are unique, but two of them can become equal when made storable as text
// (NUL or invalid UTF-8 replaced), and PostgreSQL refuses an upsert that
// touches one row twice.
func sortMerge[R any](rows []R, compare func(a, b R) int, merge func(into *R, r R)) []R {
	slices.SortFunc(rows, compare)
	out := rows[:0]
	for _, r := range rows {
		if n := len(out); n > 0 && compare(out[n-1], r) == 0 {
			merge(&out[n-1], r)
			continue
		}
		out = append(out, r)
	}
	return out
}

type idRow struct {
	id string
	seen
}

func appendSeen(stmts []stmt, table, idCol string, m map[string]*store.Seen) []stmt {
	if len(m) == 0 {
		return stmts
	}
	rows := make([]idRow, 0, len(m))
	for id, s := range m {
		rows = append(rows, idRow{text(id), seenOf(s)})
	}
	rows = sortMerge(rows, func(a, b idRow) int { return cmp.Compare(a.id, b.id) },
		func(into *idRow, r idRow) { into.merge(r.seen) })
	ids := make([]string, len(rows))
	counts := make([]int64, len(rows))
	firsts := make([]time.Time, len(rows))
	lasts := make([]time.Time, len(rows))
	for i, r := range rows {
		ids[i], counts[i], firsts[i], lasts[i] = r.id, r.count, r.first, r.last
	}
	return append(stmts, stmt{name: "upsert " + table, args: []any{ids, counts, firsts, lasts},
		sql: fmt.Sprintf(`INSERT INTO %[1]s AS t (%[2]s, count, first_seen, last_seen)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::timestamptz[])
		ON CONFLICT (%[2]s) DO UPDATE SET count = t.count + excluded.count,
		first_seen = least(t.first_seen, excluded.first_seen), last_seen = greatest(t.last_seen, excluded.last_seen)`,
			table, idCol)})
}

type traitRow struct {
	id, name string
	value    []byte
	at       time.Time
}

// appendTraits upserts traits keeping, per trait, the value with the latest
// event time: an older message never overwrites a newer value.
func appendTraits(stmts []stmt, table, idCol string, m map[store.TraitKey]store.TraitValue) []stmt {
	if len(m) == 0 {
		return stmts
	}
	rows := make([]traitRow, 0, len(m))
	for k, v := range m {
		rows = append(rows, traitRow{text(k.ID), text(k.Name), jsonValue(v.Value), v.At})
	}
	rows = sortMerge(rows, func(a, b traitRow) int { return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.name, b.name)) },
		func(into *traitRow, r traitRow) {
			if r.at.After(into.at) {
				*into = r
			}
		})
	ids := make([]string, len(rows))
	names := make([]string, len(rows))
	values := make([]string, len(rows))
	ats := make([]time.Time, len(rows))
	for i, r := range rows {
		ids[i], names[i], values[i], ats[i] = r.id, r.name, string(r.value), r.at
	}
	return append(stmts, stmt{name: "upsert " + table, args: []any{ids, names, values, ats},
		sql: fmt.Sprintf(`INSERT INTO %[1]s AS t (%[2]s, name, value, at)
		SELECT i, n, v::jsonb, a FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS u(i, n, v, a)
		ON CONFLICT (%[2]s, name) DO UPDATE SET value = excluded.value, at = excluded.at
		WHERE excluded.at >= t.at`, table, idCol)})
}

// jsonValue makes a JSON value storable as jsonb, which refuses the \u0000
// escape: such strings are rewritten with U+FFFD in place of NUL.
func jsonValue(raw json.RawMessage) []byte {
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return raw
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return []byte("null")
	}
	out, err := json.Marshal(cleanJSON(v))
	if err != nil {
		return []byte("null")
	}
	return out
}

func cleanJSON(v any) any {
	switch x := v.(type) {
	case string:
		return text(x)
	case []any:
		for i := range x {
			x[i] = cleanJSON(x[i])
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[text(k)] = cleanJSON(e)
		}
		return out
	}
	return v
}

type membershipRow struct {
	user, group string
	seen
}

func appendMemberships(stmts []stmt, m map[store.MembershipKey]*store.Seen) []stmt {
	if len(m) == 0 {
		return stmts
	}
	rows := make([]membershipRow, 0, len(m))
	for k, s := range m {
		rows = append(rows, membershipRow{text(k.UserID), text(k.GroupID), seenOf(s)})
	}
	rows = sortMerge(rows, func(a, b membershipRow) int {
		return cmp.Or(cmp.Compare(a.user, b.user), cmp.Compare(a.group, b.group))
	},
		func(into *membershipRow, r membershipRow) { into.merge(r.seen) })
	users := make([]string, len(rows))
	groups := make([]string, len(rows))
	counts := make([]int64, len(rows))
	firsts := make([]time.Time, len(rows))
	lasts := make([]time.Time, len(rows))
	for i, r := range rows {
		users[i], groups[i], counts[i], firsts[i], lasts[i] = r.user, r.group, r.count, r.first, r.last
	}
	return append(stmts, stmt{name: "upsert memberships", args: []any{users, groups, counts, firsts, lasts},
		sql: `INSERT INTO memberships AS t (user_id, group_id, count, first_seen, last_seen)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[])
		ON CONFLICT (user_id, group_id) DO UPDATE SET count = t.count + excluded.count,
		first_seen = least(t.first_seen, excluded.first_seen), last_seen = greatest(t.last_seen, excluded.last_seen)`})
}

// appendLinks upserts identity links keeping each link's earliest time.
func appendLinks(stmts []stmt, m map[store.LinkKey]time.Time) []stmt {
	if len(m) == 0 {
		return stmts
	}
	type row struct {
		id, user string
		at       time.Time
	}
	rows := make([]row, 0, len(m))
	for k, at := range m {
		rows = append(rows, row{text(k.ID), text(k.UserID), at})
	}
	// Two raw ids can clean to the same text: keep the earlier time.
	rows = sortMerge(rows, func(a, b row) int { return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.user, b.user)) },
		func(into *row, r row) {
			if r.at.Before(into.at) {
				into.at = r.at
			}
		})
	ids := make([]string, len(rows))
	users := make([]string, len(rows))
	ats := make([]time.Time, len(rows))
	for i, r := range rows {
		ids[i], users[i], ats[i] = r.id, r.user, r.at
	}
	return append(stmts, stmt{name: "upsert identity links", args: []any{ids, users, ats},
		sql: `INSERT INTO identity_links AS t (id, user_id, at) SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
		ON CONFLICT (id, user_id) DO UPDATE SET at = least(t.at, excluded.at)`})
}

func appendActivity(stmts []stmt, daily map[store.DailyKey]int64, total map[store.ActivityKey]*store.ActivityDelta) []stmt {
	if len(daily) > 0 {
		type row struct {
			day, user, event string
			count            int64
		}
		rows := make([]row, 0, len(daily))
		for k, n := range daily {
			rows = append(rows, row{k.Day, text(k.UserID), text(k.Event), n})
		}
		rows = sortMerge(rows, func(a, b row) int {
			return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.user, b.user), cmp.Compare(a.event, b.event))
		}, func(into *row, r row) { into.count += r.count })
		days := make([]string, len(rows))
		users := make([]string, len(rows))
		events := make([]string, len(rows))
		counts := make([]int64, len(rows))
		for i, r := range rows {
			days[i], users[i], events[i], counts[i] = r.day, r.user, r.event, r.count
		}
		stmts = append(stmts, stmt{name: "upsert activity_daily", args: []any{days, users, events, counts},
			sql: `INSERT INTO activity_daily AS t (day, user_id, event, count)
			SELECT d::date, u, e, n FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS x(d, u, e, n)
			ON CONFLICT (day, user_id, event) DO UPDATE SET count = t.count + excluded.count`})
	}
	if len(total) > 0 {
		type row struct {
			user, event string
			seen
		}
		rows := make([]row, 0, len(total))
		for k, s := range total {
			rows = append(rows, row{text(k.UserID), text(k.Event), seenOf(s)})
		}
		rows = sortMerge(rows, func(a, b row) int { return cmp.Or(cmp.Compare(a.user, b.user), cmp.Compare(a.event, b.event)) },
			func(into *row, r row) { into.merge(r.seen) })
		users := make([]string, len(rows))
		events := make([]string, len(rows))
		counts := make([]int64, len(rows))
		firsts := make([]time.Time, len(rows))
		lasts := make([]time.Time, len(rows))
		for i, r := range rows {
			users[i], events[i], counts[i], firsts[i], lasts[i] = r.user, r.event, r.count, r.first, r.last
		}
		stmts = append(stmts, stmt{name: "upsert activity_total", args: []any{users, events, counts, firsts, lasts},
			sql: `INSERT INTO activity_total AS t (user_id, event, count, first_seen, last_seen)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[])
			ON CONFLICT (user_id, event) DO UPDATE SET count = t.count + excluded.count,
			first_seen = least(t.first_seen, excluded.first_seen), last_seen = greatest(t.last_seen, excluded.last_seen)`})
	}
	return stmts
}

// eventKey is a store.EventKey as stored.
type eventKey struct{ source, typ, name string }

func storedEventKey(k store.EventKey) eventKey {
	return eventKey{text(k.Source), text(string(k.Type)), text(k.Name)}
}

func (a eventKey) compare(b eventKey) int {
	return cmp.Or(cmp.Compare(a.source, b.source), cmp.Compare(a.typ, b.typ), cmp.Compare(a.name, b.name))
}

// appendEvents upserts the batch's events, last of the first round trip
// because every batch touches the same few event rows, and records in ids
// each event's id and newest reservoir sequence number.
func appendEvents(stmts []stmt, m map[store.EventKey]*store.EventDelta, ids map[eventKey]storedEvent) []stmt {
	if len(m) == 0 {
		return stmts
	}
	rows := make([]eventRow, 0, len(m))
	for k, ev := range m {
		rows = append(rows, eventRow{storedEventKey(k), seenOf(&ev.Seen), int64(len(ev.Reservoir))})
	}
	rows = sortMerge(rows, func(a, b eventRow) int { return a.key.compare(b.key) },
		func(into *eventRow, r eventRow) {
			into.seen.merge(r.seen)
			into.reservoir += r.reservoir
		})
	sources := make([]string, len(rows))
	types := make([]string, len(rows))
	names := make([]string, len(rows))
	counts := make([]int64, len(rows))
	firsts := make([]time.Time, len(rows))
	lasts := make([]time.Time, len(rows))
	kept := make([]int64, len(rows))
	for i, r := range rows {
		sources[i], types[i], names[i] = r.key.source, r.key.typ, r.key.name
		counts[i], firsts[i], lasts[i], kept[i] = r.seen.count, r.seen.first, r.seen.last, r.reservoir
	}
	return append(stmts, stmt{name: "upsert events", args: []any{sources, types, names, counts, firsts, lasts, kept},
		sql: `INSERT INTO events AS t (source, type, name, count, first_seen, last_seen, reservoir_seq)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[], $6::timestamptz[], $7::bigint[])
		ON CONFLICT (source, type, name) DO UPDATE SET count = t.count + excluded.count,
		first_seen = least(t.first_seen, excluded.first_seen), last_seen = greatest(t.last_seen, excluded.last_seen),
		reservoir_seq = t.reservoir_seq + excluded.reservoir_seq
		RETURNING id, reservoir_seq, source, type, name`,
		rows: func(rows pgx.Rows) error {
			for rows.Next() {
				var (
					e storedEvent
					k eventKey
				)
				if err := rows.Scan(&e.id, &e.seq, &k.source, &k.typ, &k.name); err != nil {
					return err
				}
				ids[k] = e
			}
			return rows.Err()
		}})
}

type eventRow struct {
	key       eventKey
	seen      seen
	reservoir int64 // messages the batch adds to the reservoir
}

// storedEvent is what the events upsert returns: the event's id and the
// sequence number of its newest reservoir message, this batch's included.
type storedEvent struct{ id, seq int64 }

// appendEventChildren writes what belongs to an event: daily volume,
// properties and their types, and the reservoir, trimmed to its size. A
// batch's reservoir messages of an event take the sequence numbers the
// events upsert reserved for them, oldest first; rows size or more behind
// the newest are deleted, a range of the primary key.
//
// These rows are only ever written by a transaction that holds their
// event's row lock (taken by the events upsert), so concurrent transactions
// cannot deadlock on them; they are sorted anyway.
func (db *DB) appendEventChildren(stmts []stmt, events map[store.EventKey]*store.EventDelta, ids map[eventKey]storedEvent) []stmt {
	type dayRow struct {
		event int64
		day   string
		count int64
	}
	type propRow struct {
		event    int64
		path     string
		seen     seen
		examples []string
	}
	type typeRow struct {
		event     int64
		path, typ string
		count     int64
	}
	var (
		days  []dayRow
		props []propRow
		types []typeRow
		res   = map[storedEvent][][]byte{}
	)
	// Visit events in key order so that reservoir rows keep a deterministic
	// order when two events merge into one stored key.
	keys := make([]store.EventKey, 0, len(events))
	for k := range events {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b store.EventKey) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Name, b.Name))
	})
	for _, k := range keys {
		ev := events[k]
		stored, ok := ids[storedEventKey(k)]
		if !ok {
			continue // cannot happen: the upsert returns every row it wrote
		}
		id := stored.id
		for day, n := range ev.Daily {
			days = append(days, dayRow{id, day, n})
		}
		for path, p := range ev.Props {
			props = append(props, propRow{id, text(path), seenOf(&p.Seen), db.examples(p.Examples)})
			for typ, n := range p.Types {
				types = append(types, typeRow{id, text(path), typ, n})
			}
		}
		for _, raw := range ev.Reservoir {
			res[stored] = append(res[stored], raw)
		}
	}

	if len(days) > 0 {
		days = sortMerge(days, func(a, b dayRow) int { return cmp.Or(cmp.Compare(a.event, b.event), cmp.Compare(a.day, b.day)) },
			func(into *dayRow, r dayRow) { into.count += r.count })
		evs := make([]int64, len(days))
		dates := make([]string, len(days))
		counts := make([]int64, len(days))
		for i, r := range days {
			evs[i], dates[i], counts[i] = r.event, r.day, r.count
		}
		stmts = append(stmts, stmt{name: "upsert event_daily", args: []any{evs, dates, counts},
			sql: `INSERT INTO event_daily AS t (event_id, day, count)
			SELECT e, d::date, n FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS u(e, d, n)
			ON CONFLICT (event_id, day) DO UPDATE SET count = t.count + excluded.count`})
	}
	if len(props) > 0 {
		props = sortMerge(props, func(a, b propRow) int { return cmp.Or(cmp.Compare(a.event, b.event), cmp.Compare(a.path, b.path)) },
			func(into *propRow, r propRow) {
				into.seen.merge(r.seen)
				into.examples = store.MergeExamples(into.examples, r.examples, db.limits.ExamplesPerPath)
			})
		evs := make([]int64, len(props))
		paths := make([]string, len(props))
		present := make([]int64, len(props))
		firsts := make([]time.Time, len(props))
		lasts := make([]time.Time, len(props))
		examples := make([]string, len(props)) // JSON arrays: an array of arrays must be rectangular
		for i, p := range props {
			evs[i], paths[i], present[i], firsts[i], lasts[i] = p.event, p.path, p.seen.count, p.seen.first, p.seen.last
			examples[i] = "[]"
			if len(p.examples) > 0 {
				b, _ := json.Marshal(p.examples) // strings always encode
				examples[i] = string(b)
			}
		}
		stmts = append(stmts, stmt{name: "upsert properties",
			args: []any{evs, paths, present, firsts, lasts, examples, db.limits.ExamplesPerPath},
			sql: `INSERT INTO properties AS t (event_id, path, present, first_seen, last_seen, examples)
			SELECT e, p, n, f, l, ARRAY(SELECT json_array_elements_text(x::json))
			FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[], $6::text[]) AS u(e, p, n, f, l, x)
			ON CONFLICT (event_id, path) DO UPDATE SET present = t.present + excluded.present,
			first_seen = least(t.first_seen, excluded.first_seen), last_seen = greatest(t.last_seen, excluded.last_seen),
			examples = ARRAY(SELECT v FROM unnest(t.examples || excluded.examples) AS v
				GROUP BY v ORDER BY v COLLATE "C" LIMIT $7::integer)`})
	}
	if len(types) > 0 {
		types = sortMerge(types, func(a, b typeRow) int {
			return cmp.Or(cmp.Compare(a.event, b.event), cmp.Compare(a.path, b.path), cmp.Compare(a.typ, b.typ))
		}, func(into *typeRow, r typeRow) { into.count += r.count })
		evs := make([]int64, len(types))
		paths := make([]string, len(types))
		typs := make([]string, len(types))
		counts := make([]int64, len(types))
		for i, r := range types {
			evs[i], paths[i], typs[i], counts[i] = r.event, r.path, r.typ, r.count
		}
		stmts = append(stmts, stmt{name: "upsert property_types", args: []any{evs, paths, typs, counts},
			sql: `INSERT INTO property_types AS t (event_id, path, type, count)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[])
			ON CONFLICT (event_id, path, type) DO UPDATE SET count = t.count + excluded.count`})
	}
	if len(res) > 0 {
		owners := make([]storedEvent, 0, len(res))
		for e := range res {
			owners = append(owners, e)
		}
		slices.SortFunc(owners, func(a, b storedEvent) int { return cmp.Compare(a.id, b.id) })
		var (
			evs, seqs      []int64
			bodies         [][]byte
			trimmed, below []int64
		)
		for _, e := range owners {
			for i, body := range res[e] {
				evs = append(evs, e.id)
				seqs = append(seqs, e.seq-int64(len(res[e])-1-i))
				bodies = append(bodies, body)
			}
			if cut := e.seq - int64(db.limits.ReservoirSize); cut > 0 {
				trimmed, below = append(trimmed, e.id), append(below, cut)
			}
		}
		stmts = append(stmts, stmt{name: "fill reservoir", args: []any{evs, seqs, bodies},
			sql: `INSERT INTO reservoir (event_id, seq, body)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[])`})
		if len(trimmed) > 0 {
			stmts = append(stmts, stmt{name: "trim reservoir", args: []any{trimmed, below},
				sql: `DELETE FROM reservoir r USING unnest($1::bigint[], $2::bigint[]) AS c(e, cut)
				WHERE r.event_id = c.e AND r.seq <= c.cut`})
		}
	}
	return stmts
}

// examples makes a delta's examples storable as text, keeping them the n
// smallest distinct values when a replaced byte changed them.
func (db *DB) examples(xs []string) []string {
	clean := true
	for _, x := range xs {
		clean = clean && text(x) == x
	}
	if clean {
		return xs
	}
	return store.MergeExamples(nil, texts(xs), db.limits.ExamplesPerPath)
}

// appendVolumes adds hourly event volumes; eventID finds an observed
// event's row (volumes of events without one are left out). The rows belong
// to their events like the daily volumes: an apply writes them holding the
// events' row locks, a plan switch holding the cursor's.
func appendVolumes(stmts []stmt, m map[store.HourKey]*store.Seen, eventID func(eventKey) (int64, bool)) []stmt {
	type row struct {
		hour, event int64
		seen        seen
	}
	rows := make([]row, 0, len(m))
	for k, s := range m {
		if id, ok := eventID(storedEventKey(k.Event)); ok {
			rows = append(rows, row{k.Hour, id, seenOf(s)})
		}
	}
	if len(rows) == 0 {
		return stmts
	}
	rows = sortMerge(rows, func(a, b row) int { return cmp.Or(cmp.Compare(a.hour, b.hour), cmp.Compare(a.event, b.event)) },
		func(into *row, r row) { into.seen.merge(r.seen) })
	hours := make([]int64, len(rows))
	evs := make([]int64, len(rows))
	counts := make([]int64, len(rows))
	firsts := make([]time.Time, len(rows))
	lasts := make([]time.Time, len(rows))
	for i, r := range rows {
		hours[i], evs[i], counts[i], firsts[i], lasts[i] = r.hour, r.event, r.seen.count, r.seen.first, r.seen.last
	}
	return append(stmts, stmt{name: "upsert event_hourly", args: []any{hours, evs, counts, firsts, lasts},
		sql: `INSERT INTO event_hourly AS t (hour, event_id, count, first_seen, last_seen)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::timestamptz[])
		ON CONFLICT (hour, event_id) DO UPDATE SET count = t.count + excluded.count,
		first_seen = least(t.first_seen, excluded.first_seen), last_seen = greatest(t.last_seen, excluded.last_seen)`})
}

type violationRow struct {
	hour   int64
	key    [7]string // source, type, event, code, path, expected, observed
	seen   seen
	sample []byte
}

func (a violationRow) compare(b violationRow) int {
	return cmp.Or(cmp.Compare(a.hour, b.hour), slices.Compare(a.key[:], b.key[:]))
}

// appendViolations adds hourly verdicts. The sample is the message seen
// last, the one added later on a tie, as within a batch (store.Tally).
func appendViolations(stmts []stmt, m map[store.ViolationKey]*store.ViolationDelta) []stmt {
	if len(m) == 0 {
		return stmts
	}
	rows := make([]violationRow, 0, len(m))
	for k, v := range m {
		rows = append(rows, violationRow{hour: k.Hour,
			key: [7]string{text(k.Event.Source), text(string(k.Event.Type)), text(k.Event.Name), text(string(k.Code)),
				text(k.Path), text(k.Expected), text(k.Observed)},
			seen: seenOf(&v.Seen), sample: v.Sample})
	}
	rows = sortMerge(rows, violationRow.compare,
		func(into *violationRow, r violationRow) {
			if !r.seen.last.Before(into.seen.last) {
				into.sample = r.sample
			}
			into.seen.merge(r.seen)
		})
	cols := make([][]string, 7)
	for i := range cols {
		cols[i] = make([]string, len(rows))
	}
	hours := make([]int64, len(rows))
	counts := make([]int64, len(rows))
	firsts := make([]time.Time, len(rows))
	lasts := make([]time.Time, len(rows))
	samples := make([][]byte, len(rows))
	for i, r := range rows {
		for c := range cols {
			cols[c][i] = r.key[c]
		}
		hours[i], counts[i], firsts[i], lasts[i], samples[i] = r.hour, r.seen.count, r.seen.first, r.seen.last, r.sample
	}
	return append(stmts, stmt{name: "upsert violations",
		args: []any{hours, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], counts, firsts, lasts, samples},
		sql: `INSERT INTO violations AS t (hour, source, type, event, code, path, expected, observed, count, first_seen, last_seen, sample)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::bigint[], $10::timestamptz[], $11::timestamptz[], $12::bytea[])
		ON CONFLICT (hour, source, type, event, code, path, expected, observed) DO UPDATE SET count = t.count + excluded.count,
		first_seen = least(t.first_seen, excluded.first_seen), last_seen = greatest(t.last_seen, excluded.last_seen),
		sample = CASE WHEN excluded.last_seen >= t.last_seen THEN excluded.sample ELSE t.sample END`})
}

func appendRejections(stmts []stmt, m map[store.RejectionKey]*store.RejectionDelta) []stmt {
	if len(m) == 0 {
		return stmts
	}
	type row struct {
		source, reason string
		seen           seen
		sample         string
	}
	rows := make([]row, 0, len(m))
	for k, r := range m {
		rows = append(rows, row{text(k.Source), text(k.Reason), seenOf(&r.Seen), text(r.Sample)})
	}
	rows = sortMerge(rows, func(a, b row) int { return cmp.Or(cmp.Compare(a.source, b.source), cmp.Compare(a.reason, b.reason)) },
		func(into *row, r row) { into.seen.merge(r.seen) })
	sources := make([]string, len(rows))
	reasons := make([]string, len(rows))
	counts := make([]int64, len(rows))
	firsts := make([]time.Time, len(rows))
	lasts := make([]time.Time, len(rows))
	samples := make([]string, len(rows))
	for i, r := range rows {
		sources[i], reasons[i], counts[i], firsts[i], lasts[i], samples[i] = r.source, r.reason, r.seen.count, r.seen.first, r.seen.last, r.sample
	}
	return append(stmts, stmt{name: "upsert rejections", args: []any{sources, reasons, counts, firsts, lasts, samples},
		sql: `INSERT INTO rejections AS t (source, reason, count, first_seen, last_seen, sample)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[], $6::text[])
		ON CONFLICT (source, reason) DO UPDATE SET count = t.count + excluded.count,
		first_seen = least(t.first_seen, excluded.first_seen), last_seen = greatest(t.last_seen, excluded.last_seen)`})
}

// appendSources updates the per-source counters, the rows every run of a
// source touches: last, so their locks are held the shortest. Duplicates are
// counted by Append, not here.
func appendSources(stmts []stmt, m map[string]*store.SourceDelta) []stmt {
	if len(m) == 0 {
		return stmts
	}
	type row struct {
		source                      string
		messages, rejected, clamped int64
	}
	rows := make([]row, 0, len(m))
	for src, s := range m {
		rows = append(rows, row{text(src), s.Messages, s.Rejected, s.Clamped})
	}
	rows = sortMerge(rows, func(a, b row) int { return cmp.Compare(a.source, b.source) }, func(into *row, r row) {
		into.messages += r.messages
		into.rejected += r.rejected
		into.clamped += r.clamped
	})
	sources := make([]string, len(rows))
	messages := make([]int64, len(rows))
	rejected := make([]int64, len(rows))
	clamped := make([]int64, len(rows))
	for i, r := range rows {
		sources[i], messages[i], rejected[i], clamped[i] = r.source, r.messages, r.rejected, r.clamped
	}
	return append(stmts, stmt{name: "update source counts", args: []any{sources, messages, rejected, clamped},
		sql: `INSERT INTO source_counts AS t (source, messages, rejected, clamped)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])
		ON CONFLICT (source) DO UPDATE SET messages = t.messages + excluded.messages,
		rejected = t.rejected + excluded.rejected, clamped = t.clamped + excluded.clamped`})
}
