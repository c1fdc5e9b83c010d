package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// VerdictPlan returns the plan version the verdicts follow.
func (db *DB) VerdictPlan(ctx context.Context) (store.PlanVersion, error) {
	var id string
	if err := db.read.QueryRowContext(ctx, `SELECT plan FROM derive_state`).Scan(&id); err != nil {
		return store.PlanVersion{}, fmt.Errorf("read verdict plan: %w", err)
	}
	if id == "" {
		return store.PlanVersion{}, nil
	}
	vs, err := db.planVersions(ctx, `WHERE id = ?`, id)
	if err != nil {
		return store.PlanVersion{}, err
	}
	if len(vs) == 0 {
		return store.PlanVersion{}, fmt.Errorf("read verdict plan %s: %w", id, trackplan.ErrNotFound)
	}
	return vs[0], nil
}

// PlanVersions returns the plan versions followed, newest first.
func (db *DB) PlanVersions(ctx context.Context, limit int) ([]store.PlanVersion, error) {
	return db.planVersions(ctx, `ORDER BY first_seen DESC, id LIMIT ?`, limit)
}

func (db *DB) planVersions(ctx context.Context, tail string, args ...any) ([]store.PlanVersion, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, check_digest, first_seen, origin, edited_at, body FROM plan_versions `+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("read plan versions: %w", err)
	}
	defer rows.Close()
	var out []store.PlanVersion
	for rows.Next() {
		var (
			v             store.PlanVersion
			first, edited int64
			body          []byte
		)
		if err := rows.Scan(&v.ID, &v.CheckDigest, &first, &v.Origin, &edited, &body); err != nil {
			return nil, fmt.Errorf("read plan versions: %w", err)
		}
		v.FirstSeen = fromMicro(first)
		if edited != 0 {
			v.EditedAt = fromMicro(edited)
		}
		v.Plan = &trackplan.Plan{}
		if err := json.Unmarshal(body, v.Plan); err != nil {
			return nil, fmt.Errorf("decode plan version %s: %w", v.ID, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// SwitchPlan makes v the plan the verdicts follow, replacing them with t
// when t is not nil, in one transaction.
func (db *DB) SwitchPlan(ctx context.Context, v store.PlanVersion, cursor, epoch int64, t *store.Tally) error {
	body, err := json.Marshal(v.Plan)
	if err != nil {
		return fmt.Errorf("encode plan version %s: %w", v.ID, err)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin plan switch: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE derive_state SET plan = ? WHERE cursor = ? AND epoch = ?`, v.ID, cursor, epoch)
	if err != nil {
		return fmt.Errorf("switch plan: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("switch plan: %w", err)
	} else if n != 1 {
		return fmt.Errorf("switch plan at record %d: %w", cursor, store.ErrCursorMoved)
	}
	var edited int64
	if !v.EditedAt.IsZero() {
		edited = micro(v.EditedAt)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO plan_versions (id, check_digest, first_seen, origin, edited_at, body)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		v.ID, v.CheckDigest, micro(v.FirstSeen), v.Origin, edited, string(body)); err != nil {
		return fmt.Errorf("record plan version %s: %w", v.ID, err)
	}
	if t != nil {
		if err := replaceVerdicts(ctx, tx, t); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit plan switch: %w", err)
	}
	if t != nil {
		// The guard's enum values were learnt under the old plan: the
		// next Apply rebuilds it.
		db.applied = -1
	}
	return nil
}

// replaceVerdicts puts t in place of the plan-dependent verdicts and the
// hourly volumes. CARDINALITY_LIMIT verdicts come from the store's guard,
// not from the plan, and stay.
func replaceVerdicts(ctx context.Context, tx *sql.Tx, t *store.Tally) error {
	for _, q := range []string{`DELETE FROM violations WHERE code <> 'CARDINALITY_LIMIT'`, `DELETE FROM event_hourly`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("replace verdicts: %w", err)
		}
	}
	ids := map[store.EventKey]int64{}
	rows, err := tx.QueryContext(ctx, `SELECT id, source, type, name FROM events`)
	if err != nil {
		return fmt.Errorf("read observed events: %w", err)
	}
	for rows.Next() {
		var (
			id  int64
			k   store.EventKey
			typ string
		)
		if err := rows.Scan(&id, &k.Source, &typ, &k.Name); err != nil {
			rows.Close()
			return fmt.Errorf("read observed events: %w", err)
		}
		k.Type = callType(typ)
		ids[k] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read observed events: %w", err)
	}
	ex := execer{ctx: ctx, tx: tx, stmts: map[string]*sql.Stmt{}}
	defer ex.close()
	writeVolumes(&ex, t.Volumes, func(k store.EventKey) (int64, bool) {
		id, ok := ids[k]
		return id, ok
	})
	vs := make(map[store.ViolationKey]*store.ViolationDelta, len(t.Violations))
	for k, v := range t.Violations {
		if k.Code != trackplan.CardinalityLimit {
			vs[k] = v
		}
	}
	writeViolations(&ex, vs)
	return ex.err
}

// Verdicts returns the hourly verdicts and volumes of the hours holding
// from through to.
func (db *DB) Verdicts(ctx context.Context, from, to time.Time) (*store.Tally, error) {
	t := store.NewTally()
	lo, hi := store.Hour(from), store.Hour(to)
	err := db.each(ctx, `SELECT hour, source, type, event, code, path, expected, observed, count, first_seen, last_seen, sample
		FROM violations WHERE hour BETWEEN ? AND ?`, []any{lo, hi}, func(rows *sql.Rows) error {
		var (
			k           store.ViolationKey
			typ, code   string
			first, last int64
			v           store.ViolationDelta
			sample      []byte
		)
		if err := rows.Scan(&k.Hour, &k.Event.Source, &typ, &k.Event.Name, &code, &k.Path, &k.Expected, &k.Observed,
			&v.Count, &first, &last, &sample); err != nil {
			return err
		}
		k.Event.Type, k.Code = callType(typ), trackplan.Code(code)
		v.First, v.Last, v.Sample = fromMicro(first), fromMicro(last), sample
		t.Violations[k] = &v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read verdicts: %w", err)
	}
	err = db.each(ctx, `SELECT h.hour, e.source, e.type, e.name, h.count, h.first_seen, h.last_seen
		FROM event_hourly h JOIN events e ON e.id = h.event_id WHERE h.hour BETWEEN ? AND ?`, []any{lo, hi},
		func(rows *sql.Rows) error {
			var (
				k           store.HourKey
				typ         string
				first, last int64
				s           store.Seen
			)
			if err := rows.Scan(&k.Hour, &k.Event.Source, &typ, &k.Event.Name, &s.Count, &first, &last); err != nil {
				return err
			}
			k.Event.Type = callType(typ)
			s.First, s.Last = fromMicro(first), fromMicro(last)
			t.Volumes[k] = &s
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read hourly volumes: %w", err)
	}
	err = db.each(ctx, `SELECT source, type, event, code, path, min(first_seen) FROM violations GROUP BY 1, 2, 3, 4, 5`, nil,
		func(rows *sql.Rows) error {
			var (
				k         store.FindingKey
				typ, code string
				first     int64
			)
			if err := rows.Scan(&k.Event.Source, &typ, &k.Event.Name, &code, &k.Path, &first); err != nil {
				return err
			}
			k.Event.Type, k.Code = callType(typ), trackplan.Code(code)
			t.Earliest[k] = fromMicro(first)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read first verdicts: %w", err)
	}
	return t, nil
}
