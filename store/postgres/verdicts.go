package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// VerdictPlan returns the plan version the verdicts follow.
func (db *DB) VerdictPlan(ctx context.Context) (store.PlanVersion, error) {
	var id string
	if err := db.pool.QueryRow(ctx, `SELECT plan FROM derive_state`).Scan(&id); err != nil {
		return store.PlanVersion{}, fmt.Errorf("read verdict plan: %w", err)
	}
	if id == "" {
		return store.PlanVersion{}, nil
	}
	vs, err := db.planVersions(ctx, `WHERE id = $1`, id)
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
	var n any = limit
	if limit < 0 {
		n = nil // no limit, as SQLite reads a negative one
	}
	return db.planVersions(ctx, `ORDER BY first_seen DESC, id LIMIT $1`, n)
}

func (db *DB) planVersions(ctx context.Context, tail string, args ...any) ([]store.PlanVersion, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, check_digest, first_seen, origin, edited_at, body FROM plan_versions `+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("read plan versions: %w", err)
	}
	defer rows.Close()
	var out []store.PlanVersion
	for rows.Next() {
		var (
			v      store.PlanVersion
			edited *time.Time
			body   string
		)
		if err := rows.Scan(&v.ID, &v.CheckDigest, &v.FirstSeen, &v.Origin, &edited, &body); err != nil {
			return nil, fmt.Errorf("read plan versions: %w", err)
		}
		v.FirstSeen = v.FirstSeen.UTC()
		if edited != nil {
			v.EditedAt = edited.UTC()
		}
		v.Plan = &trackplan.Plan{}
		if err := json.Unmarshal([]byte(body), v.Plan); err != nil {
			return nil, fmt.Errorf("decode plan version %s: %w", v.ID, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read plan versions: %w", err)
	}
	return out, nil
}

// SwitchPlan makes v the plan the verdicts follow, replacing them with t
// when t is not nil, in one transaction. Its first statement moves the plan
// only if the cursor and epoch are still cursor and epoch, and takes the
// derive_state row lock, so no apply runs until it commits. A transaction
// that deadlocks (with a prune) is run again.
func (db *DB) SwitchPlan(ctx context.Context, v store.PlanVersion, cursor, epoch int64, t *store.Tally) error {
	body, err := json.Marshal(v.Plan) // valid UTF-8, NUL escaped: storable as text
	if err != nil {
		return fmt.Errorf("encode plan version %s: %w", v.ID, err)
	}
	var edited *time.Time
	if !v.EditedAt.IsZero() {
		edited = &v.EditedAt
	}
	record := stmt{name: "record plan version " + v.ID, args: []any{text(v.ID), text(v.CheckDigest), v.FirstSeen,
		text(v.Origin), edited, string(body)},
		sql: `INSERT INTO plan_versions (id, check_digest, first_seen, origin, edited_at, body)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`}
	return retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `UPDATE derive_state SET plan = $1 WHERE cursor = $2 AND epoch = $3`, text(v.ID), cursor, epoch)
			if err != nil {
				return fmt.Errorf("switch plan: %w", err)
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("switch plan at record %d: %w", cursor, store.ErrCursorMoved)
			}
			if t == nil {
				return runBatch(ctx, tx, []stmt{record})
			}
			return db.replaceVerdicts(ctx, tx, record, t)
		})
	})
}

// replaceVerdicts records the plan version and puts t in place of the
// plan-dependent verdicts and the hourly volumes. CARDINALITY_LIMIT
// verdicts come from the store's guard, not from the plan, and stay.
// Volumes are kept for the events the store holds only, as Apply keeps
// them.
func (db *DB) replaceVerdicts(ctx context.Context, tx pgx.Tx, record stmt, t *store.Tally) error {
	// The guard bounds the enum values the verdicts hold: the next apply
	// reloads it. This transaction holds the cursor's lock, so that apply
	// starts after it ends.
	db.guardMu.Lock()
	db.guardStale = true
	db.guardMu.Unlock()

	ids := map[eventKey]int64{}
	err := runBatch(ctx, tx, []stmt{
		record,
		{name: "delete verdicts", sql: `DELETE FROM violations WHERE code <> 'CARDINALITY_LIMIT'`},
		{name: "delete hourly volumes", sql: `DELETE FROM event_hourly`},
		{name: "read observed events", sql: `SELECT id, source, type, name FROM events`,
			rows: func(rows pgx.Rows) error {
				for rows.Next() {
					var (
						id int64
						k  eventKey
					)
					if err := rows.Scan(&id, &k.source, &k.typ, &k.name); err != nil {
						return err
					}
					ids[k] = id
				}
				return rows.Err()
			}},
	})
	if err != nil {
		return fmt.Errorf("replace verdicts: %w", err)
	}
	vs := make(map[store.ViolationKey]*store.ViolationDelta, len(t.Violations))
	for k, v := range t.Violations {
		if k.Code != trackplan.CardinalityLimit {
			vs[k] = v
		}
	}
	var puts []stmt
	puts = appendVolumes(puts, t.Volumes, func(k eventKey) (int64, bool) {
		id, ok := ids[k]
		return id, ok
	})
	puts = appendViolations(puts, vs)
	if err := runBatch(ctx, tx, puts); err != nil {
		return fmt.Errorf("replace verdicts: %w", err)
	}
	return nil
}

// Verdicts returns the hourly verdicts and volumes of the hours holding
// from through to, and when each finding was first seen in any hour held,
// read from one snapshot.
func (db *DB) Verdicts(ctx context.Context, from, to time.Time) (*store.Tally, error) {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("read verdicts: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	t := store.NewTally()
	lo, hi := store.Hour(from), store.Hour(to)
	err = runBatch(ctx, tx, []stmt{
		{name: "read verdicts", args: []any{lo, hi},
			sql: `SELECT hour, source, type, event, code, path, expected, observed, count, first_seen, last_seen, sample
			FROM violations WHERE hour BETWEEN $1 AND $2`,
			rows: func(rows pgx.Rows) error {
				for rows.Next() {
					var (
						k         store.ViolationKey
						typ, code string
						v         store.ViolationDelta
						sample    []byte
					)
					if err := rows.Scan(&k.Hour, &k.Event.Source, &typ, &k.Event.Name, &code, &k.Path, &k.Expected,
						&k.Observed, &v.Count, &v.First, &v.Last, &sample); err != nil {
						return err
					}
					k.Event.Type, k.Code = trackplan.CallType(typ), trackplan.Code(code)
					v.First, v.Last, v.Sample = v.First.UTC(), v.Last.UTC(), sample
					t.Violations[k] = &v
				}
				return rows.Err()
			}},
		{name: "read hourly volumes", args: []any{lo, hi},
			sql: `SELECT h.hour, e.source, e.type, e.name, h.count, h.first_seen, h.last_seen
			FROM event_hourly h JOIN events e ON e.id = h.event_id WHERE h.hour BETWEEN $1 AND $2`,
			rows: func(rows pgx.Rows) error {
				for rows.Next() {
					var (
						k   store.HourKey
						typ string
						s   store.Seen
					)
					if err := rows.Scan(&k.Hour, &k.Event.Source, &typ, &k.Event.Name, &s.Count, &s.First, &s.Last); err != nil {
						return err
					}
					k.Event.Type = trackplan.CallType(typ)
					s.First, s.Last = s.First.UTC(), s.Last.UTC()
					t.Volumes[k] = &s
				}
				return rows.Err()
			}},
		{name: "read first verdicts",
			sql: `SELECT source, type, event, code, path, min(first_seen) FROM violations GROUP BY 1, 2, 3, 4, 5`,
			rows: func(rows pgx.Rows) error {
				for rows.Next() {
					var (
						k         store.FindingKey
						typ, code string
						first     time.Time
					)
					if err := rows.Scan(&k.Event.Source, &typ, &k.Event.Name, &code, &k.Path, &first); err != nil {
						return err
					}
					k.Event.Type, k.Code = trackplan.CallType(typ), trackplan.Code(code)
					t.Earliest[k] = first.UTC()
				}
				return rows.Err()
			}},
	})
	if err != nil {
		return nil, fmt.Errorf("read verdicts: %w", err)
	}
	return t, nil
}
