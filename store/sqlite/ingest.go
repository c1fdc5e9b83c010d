package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trackplan/trackplan/store"
)

// Append claims the batch's dedupe keys and appends the fresh messages and
// the rejections as one block, in one transaction of the log file. The
// log's single write connection serialises appends, so sequence numbers
// follow commit order.
func (db *DB) Append(ctx context.Context, b *store.LogBatch) (store.IngestResult, error) {
	lines, err := b.EncodeLines()
	if err != nil {
		return store.IngestResult{}, err
	}
	at := b.At
	if at.IsZero() {
		at = time.Now().UTC()
	}
	rejLines := make([][]byte, len(b.Rejections))
	for i := range b.Rejections {
		if rejLines[i], err = store.EncodeRejection(&b.Rejections[i]); err != nil {
			return store.IngestResult{}, err
		}
	}

	tx, err := db.logw.BeginTx(ctx, nil)
	if err != nil {
		return store.IngestResult{}, fmt.Errorf("begin append: %w", err)
	}
	defer tx.Rollback()
	var head int64
	if err := tx.QueryRowContext(ctx, `SELECT head FROM log_head`).Scan(&head); err != nil {
		return store.IngestResult{}, fmt.Errorf("read log head: %w", err)
	}
	d := db.dedupe
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.catchUp(ctx, tx, head); err != nil {
		return store.IngestResult{}, err
	}
	fresh, keys, dups := d.claim(b.Messages)

	block := make([][]byte, 0, len(fresh)+len(rejLines))
	for _, i := range fresh {
		block = append(block, lines[i])
	}
	block = append(block, rejLines...)
	last := head
	if len(block) > 0 {
		data := store.CompressBlock(block)
		last = head + int64(len(block))
		if _, err := tx.ExecContext(ctx, `INSERT INTO log_blocks (first_seq, last_seq, day, at, count, data, keys) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			head+1, last, store.Day(at), micro(at), len(block), data, keys); err != nil {
			return store.IngestResult{}, fmt.Errorf("append log block: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE log_head SET head = ?`, last); err != nil {
			return store.IngestResult{}, fmt.Errorf("advance log head: %w", err)
		}
	}
	var ndup int
	for src, n := range dups {
		ndup += int(n)
		if _, err := tx.ExecContext(ctx, `INSERT INTO duplicates (source, count) VALUES (?, ?)
			ON CONFLICT (source) DO UPDATE SET count = count + excluded.count`, src, n); err != nil {
			return store.IngestResult{}, fmt.Errorf("count duplicates: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return store.IngestResult{}, fmt.Errorf("commit append: %w", err)
	}
	d.commit(keys, at, last)
	return store.IngestResult{Stored: len(fresh), Duplicates: ndup, Rejected: len(b.Rejections)}, nil
}

// Apply adds a run of logged records to the derived state and moves the
// cursor, in one transaction.
func (db *DB) Apply(ctx context.Context, from, to int64, b *store.Batch) error {
	db.mu.Lock()
	defer db.mu.Unlock()

	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin apply: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE derive_state SET cursor = ? WHERE cursor = ? AND epoch = ?`, to, from, b.Epoch)
	if err != nil {
		return fmt.Errorf("move derive cursor: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("move derive cursor: %w", err)
	} else if n != 1 {
		return fmt.Errorf("apply records %d-%d: %w", from+1, to, store.ErrCursorMoved)
	}
	var plan string
	if err := tx.QueryRowContext(ctx, `SELECT plan FROM derive_state`).Scan(&plan); err != nil {
		return fmt.Errorf("read verdict plan: %w", err)
	}
	if plan != b.Plan {
		return fmt.Errorf("apply records %d-%d checked against plan %q: %w", from+1, to, b.Plan, store.ErrPlanMoved)
	}
	if db.applied != from || db.guardEpoch != b.Epoch {
		// Another process applied since this guard was built, or a prune
		// dropped events; this transaction holds the write lock, so what
		// the guard reads now is the state it applies to.
		if err := db.loadGuard(ctx); err != nil {
			return err
		}
	}
	d := store.Aggregate(b, db.guard, db.limits)
	newIDs := map[store.EventKey]int64{}
	if err := db.writeDelta(ctx, tx, d, newIDs); err != nil {
		db.guard.Forget(d.GuardAdds)
		return err
	}
	if err := tx.Commit(); err != nil {
		db.guard.Forget(d.GuardAdds)
		return fmt.Errorf("commit apply: %w", err)
	}
	for k, id := range newIDs {
		db.eventIDs[k] = id
	}
	db.applied = to
	return nil
}

func (db *DB) writeDelta(ctx context.Context, tx *sql.Tx, d *store.Delta, newIDs map[store.EventKey]int64) error {
	ex := execer{ctx: ctx, tx: tx, stmts: map[string]*sql.Stmt{}}
	defer ex.close()

	for src, s := range d.Sources {
		ex.exec(`INSERT INTO source_counts (source, messages, rejected, clamped) VALUES (?, ?, ?, ?)
			ON CONFLICT (source) DO UPDATE SET messages = messages + excluded.messages,
			rejected = rejected + excluded.rejected, clamped = clamped + excluded.clamped`,
			src, s.Messages, s.Rejected, s.Clamped)
	}
	for k, r := range d.Rejections {
		ex.exec(`INSERT INTO rejections (source, reason, count, first_seen, last_seen, sample) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (source, reason) DO UPDATE SET count = count + excluded.count,
			first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`,
			k.Source, k.Reason, r.Count, micro(r.First), micro(r.Last), r.Sample)
	}
	for k, ev := range d.Events {
		id, err := db.eventID(&ex, k, &ev.Seen, newIDs)
		if err != nil {
			return err
		}
		for day, n := range ev.Daily {
			ex.exec(`INSERT INTO event_daily (event_id, day, count) VALUES (?, ?, ?)
				ON CONFLICT (event_id, day) DO UPDATE SET count = count + excluded.count`, id, day, n)
		}
		for path, p := range ev.Props {
			examples := []byte("[]")
			if len(p.Examples) > 0 {
				examples, _ = json.Marshal(p.Examples)
			}
			ex.exec(`INSERT INTO properties (event_id, path, present, first_seen, last_seen, examples) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (event_id, path) DO UPDATE SET present = present + excluded.present,
				first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen),
				examples = (SELECT json_group_array(value) FROM (
					SELECT value FROM json_each(properties.examples) UNION SELECT value FROM json_each(excluded.examples)
					ORDER BY value LIMIT ?))`,
				id, path, p.Count, micro(p.First), micro(p.Last), string(examples), db.limits.ExamplesPerPath)
			for typ, n := range p.Types {
				ex.exec(`INSERT INTO property_types (event_id, path, type, count) VALUES (?, ?, ?, ?)
					ON CONFLICT (event_id, path, type) DO UPDATE SET count = count + excluded.count`, id, path, typ, n)
			}
		}
		if len(ev.Reservoir) > 0 {
			for _, raw := range ev.Reservoir {
				ex.exec(`INSERT INTO reservoir (event_id, body) VALUES (?, ?)`, id, []byte(raw))
			}
			ex.exec(`DELETE FROM reservoir WHERE event_id = ? AND id <= (
				SELECT id FROM reservoir WHERE event_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`, id, id, db.limits.ReservoirSize)
		}
	}
	writeVolumes(&ex, d.Volumes, func(k store.EventKey) (int64, bool) {
		if id, ok := newIDs[k]; ok {
			return id, true
		}
		id, ok := db.eventIDs[k]
		return id, ok
	})
	writeViolations(&ex, d.Violations)
	upsertSeen(&ex, "users", "user_id", d.Users)
	upsertSeen(&ex, "anonymous_ids", "anonymous_id", d.Anonymous)
	upsertSeen(&ex, "accounts", "group_id", d.Accounts)
	upsertTraits(&ex, "user_traits", "user_id", d.UserTraits)
	upsertTraits(&ex, "account_traits", "group_id", d.AcctTraits)

	// Rows go in key order: each upsert then lands next to the previous
	// one in the B-tree instead of on a random page.
	args := make([]any, 0, 5*len(d.Memberships))
	for _, k := range sortedKeys(d.Memberships, func(a, b store.MembershipKey) int {
		return cmp.Or(strings.Compare(a.UserID, b.UserID), strings.Compare(a.GroupID, b.GroupID))
	}) {
		s := d.Memberships[k]
		args = append(args, k.UserID, k.GroupID, s.Count, micro(s.First), micro(s.Last))
	}
	ex.bulk(`INSERT INTO memberships (user_id, group_id, count, first_seen, last_seen) VALUES`, 5,
		`ON CONFLICT (user_id, group_id) DO UPDATE SET count = count + excluded.count,
		first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`, args)

	args = args[:0]
	for _, k := range sortedKeys(d.Links, func(a, b store.LinkKey) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.UserID, b.UserID))
	}) {
		args = append(args, k.ID, k.UserID, micro(d.Links[k]))
	}
	ex.bulk(`INSERT INTO identity_links (id, user_id, at) VALUES`, 3,
		`ON CONFLICT (id, user_id) DO UPDATE SET at = min(at, excluded.at)`, args)

	args = args[:0]
	for _, k := range sortedKeys(d.DailyActs, func(a, b store.DailyKey) int {
		return cmp.Or(strings.Compare(a.Day, b.Day), strings.Compare(a.UserID, b.UserID), strings.Compare(a.Event, b.Event))
	}) {
		args = append(args, k.Day, k.UserID, k.Event, d.DailyActs[k])
	}
	ex.bulk(`INSERT INTO activity_daily (day, user_id, event, count) VALUES`, 4,
		`ON CONFLICT (day, user_id, event) DO UPDATE SET count = count + excluded.count`, args)

	args = args[:0]
	for _, k := range sortedKeys(d.TotalActs, func(a, b store.ActivityKey) int {
		return cmp.Or(strings.Compare(a.UserID, b.UserID), strings.Compare(a.Event, b.Event))
	}) {
		s := d.TotalActs[k]
		args = append(args, k.UserID, k.Event, s.Count, micro(s.First), micro(s.Last))
	}
	ex.bulk(`INSERT INTO activity_total (user_id, event, count, first_seen, last_seen) VALUES`, 5,
		`ON CONFLICT (user_id, event) DO UPDATE SET count = count + excluded.count,
		first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`, args)
	return ex.err
}

// writeVolumes adds hourly event volumes, in key order; eventID finds an
// observed event's row (volumes of events not observed are left out).
func writeVolumes(ex *execer, vols map[store.HourKey]*store.Seen, eventID func(store.EventKey) (int64, bool)) {
	for _, k := range sortedKeys(vols, compareHourKeys) {
		id, ok := eventID(k.Event)
		if !ok {
			continue
		}
		v := vols[k]
		ex.exec(`INSERT INTO event_hourly (hour, event_id, count, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (hour, event_id) DO UPDATE SET count = count + excluded.count,
			first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`,
			k.Hour, id, v.Count, micro(v.First), micro(v.Last))
	}
}

func compareHourKeys(a, b store.HourKey) int {
	return cmp.Or(cmp.Compare(a.Hour, b.Hour), strings.Compare(a.Event.Source, b.Event.Source),
		strings.Compare(string(a.Event.Type), string(b.Event.Type)), strings.Compare(a.Event.Name, b.Event.Name))
}

// writeViolations adds hourly verdicts, in key order.
func writeViolations(ex *execer, vs map[store.ViolationKey]*store.ViolationDelta) {
	for _, k := range sortedKeys(vs, compareViolationKeys) {
		v := vs[k]
		ex.exec(`INSERT INTO violations (hour, source, type, event, code, path, expected, observed, count, first_seen, last_seen, sample)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (hour, source, type, event, code, path, expected, observed) DO UPDATE SET count = count + excluded.count,
			first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen),
			sample = CASE WHEN excluded.last_seen >= violations.last_seen THEN excluded.sample ELSE violations.sample END`,
			k.Hour, k.Event.Source, string(k.Event.Type), k.Event.Name, string(k.Code), k.Path, k.Expected, k.Observed,
			v.Count, micro(v.First), micro(v.Last), []byte(v.Sample))
	}
}

func compareViolationKeys(a, b store.ViolationKey) int {
	return cmp.Or(cmp.Compare(a.Hour, b.Hour), strings.Compare(a.Event.Source, b.Event.Source),
		strings.Compare(string(a.Event.Type), string(b.Event.Type)), strings.Compare(a.Event.Name, b.Event.Name),
		strings.Compare(string(a.Code), string(b.Code)), strings.Compare(a.Path, b.Path),
		strings.Compare(a.Expected, b.Expected), strings.Compare(a.Observed, b.Observed))
}

func upsertSeen(ex *execer, table, idCol string, m map[string]*store.Seen) {
	args := make([]any, 0, 4*len(m))
	for _, id := range sortedKeys(m, strings.Compare) {
		s := m[id]
		args = append(args, id, s.Count, micro(s.First), micro(s.Last))
	}
	ex.bulk(fmt.Sprintf(`INSERT INTO %s (%s, count, first_seen, last_seen) VALUES`, table, idCol), 4,
		fmt.Sprintf(`ON CONFLICT (%s) DO UPDATE SET count = count + excluded.count,
		first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`, idCol), args)
}

func upsertTraits(ex *execer, table, idCol string, m map[store.TraitKey]store.TraitValue) {
	args := make([]any, 0, 4*len(m))
	for _, k := range sortedKeys(m, func(a, b store.TraitKey) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Name, b.Name))
	}) {
		v := m[k]
		args = append(args, k.ID, k.Name, string(v.Value), micro(v.At))
	}
	ex.bulk(fmt.Sprintf(`INSERT INTO %s (%s, name, value, at) VALUES`, table, idCol), 4,
		fmt.Sprintf(`ON CONFLICT (%[2]s, name) DO UPDATE SET value = excluded.value, at = excluded.at
		WHERE excluded.at >= %[1]s.at`, table, idCol), args)
}

func (db *DB) eventID(ex *execer, k store.EventKey, s *store.Seen, newIDs map[store.EventKey]int64) (int64, error) {
	st := ex.prepared(`INSERT INTO events (source, type, name, count, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (source, type, name) DO UPDATE SET count = count + excluded.count,
		first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)
		RETURNING id`)
	if st == nil {
		return 0, ex.err
	}
	var id int64
	err := st.QueryRowContext(ex.ctx, k.Source, string(k.Type), k.Name, s.Count, micro(s.First), micro(s.Last)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("upsert event %q: %w", k.Name, err)
	}
	if old, ok := db.eventIDs[k]; !ok || old != id {
		newIDs[k] = id // new, or dropped by a prune elsewhere and added again
	}
	return id, nil
}

// execer runs statements inside one transaction, preparing each query text
// once, and keeps the first error so the caller checks once at the end.
type execer struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
	err   error
}

func (e *execer) exec(query string, args ...any) {
	st := e.prepared(query)
	if st == nil {
		return
	}
	if _, err := st.ExecContext(e.ctx, args...); err != nil {
		e.err = fmt.Errorf("%s: %w", firstWords(query), err)
	}
}

// prepared returns the statement of query, prepared once per transaction;
// nil once an error was kept.
func (e *execer) prepared(query string) *sql.Stmt {
	if e.err != nil {
		return nil
	}
	st, ok := e.stmts[query]
	if !ok {
		st, e.err = e.tx.PrepareContext(e.ctx, query)
		if e.err != nil {
			e.err = fmt.Errorf("prepare %s: %w", firstWords(query), e.err)
			return nil
		}
		e.stmts[query] = st
	}
	return st
}

// bulkRows is how many rows one multi-row statement carries: few enough to
// stay far below SQLite's variable limit, many enough that per-statement
// overhead stops mattering.
const bulkRows = 200

// bulk runs `head (?,…),(?,…) tail` over args, ncols values a row, in
// chunks of bulkRows rows.
func (e *execer) bulk(head string, ncols int, tail string, args []any) {
	rows := len(args) / ncols
	for start := 0; start < rows && e.err == nil; start += bulkRows {
		n := min(bulkRows, rows-start)
		var sb strings.Builder
		sb.Grow(len(head) + len(tail) + n*(2*ncols+2))
		sb.WriteString(head)
		tuple := "(" + strings.Repeat("?,", ncols-1) + "?)"
		for i := range n {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(tuple)
		}
		sb.WriteByte(' ')
		sb.WriteString(tail)
		e.exec(sb.String(), args[start*ncols:(start+n)*ncols]...)
	}
}

func (e *execer) close() {
	for _, st := range e.stmts {
		st.Close()
	}
}

func firstWords(q string) string {
	f := strings.Fields(q)
	return strings.ToLower(strings.Join(f[:min(3, len(f))], " "))
}

// sortedKeys returns m's keys in the order compare gives.
func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compare)
	return keys
}
