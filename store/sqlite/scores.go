package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// Users streams every user with the first and last time they were seen.
func (db *DB) Users(ctx context.Context, fn func(userID string, first, last time.Time) error) error {
	return db.each(ctx, `SELECT user_id, first_seen, last_seen FROM users
		UNION ALL SELECT anonymous_id, first_seen, last_seen FROM anonymous_ids a
		WHERE EXISTS (SELECT 1 FROM identity_links l WHERE l.id = a.anonymous_id)`, nil, func(rows *sql.Rows) error {
		var (
			id          string
			first, last int64
		)
		if err := rows.Scan(&id, &first, &last); err != nil {
			return err
		}
		return fn(id, fromMicro(first), fromMicro(last))
	})
}

// Memberships streams every (user, account) pair.
func (db *DB) Memberships(ctx context.Context, fn func(userID, groupID string) error) error {
	return db.each(ctx, `SELECT user_id, group_id FROM memberships`, nil, func(rows *sql.Rows) error {
		var u, g string
		if err := rows.Scan(&u, &g); err != nil {
			return err
		}
		return fn(u, g)
	})
}

// DailyActivity streams the daily rollups of the named events on UTC days
// in [from, to).
func (db *DB) DailyActivity(ctx context.Context, events []string, from, to time.Time,
	fn func(userID, event string, day time.Time, count int64) error) error {
	if len(events) == 0 {
		return nil
	}
	args := []any{store.Day(from), store.Day(to.Add(-time.Nanosecond))}
	q := `SELECT user_id, event, day, count FROM activity_daily WHERE day >= ? AND day <= ? AND event IN (` + placeholders(len(events)) + `)`
	return db.each(ctx, q, append(args, anys(events)...), func(rows *sql.Rows) error {
		var (
			u, e, day string
			n         int64
		)
		if err := rows.Scan(&u, &e, &day, &n); err != nil {
			return err
		}
		t, err := time.Parse(time.DateOnly, day)
		if err != nil {
			return fmt.Errorf("bad day %q: %w", day, err)
		}
		return fn(u, e, t, n)
	})
}

// EventTotals streams the all-time rollups of the named events.
func (db *DB) EventTotals(ctx context.Context, events []string, fn func(userID, event string, first, last time.Time) error) error {
	if len(events) == 0 {
		return nil
	}
	q := `SELECT user_id, event, first_seen, last_seen FROM activity_total WHERE event IN (` + placeholders(len(events)) + `)`
	return db.each(ctx, q, anys(events), func(rows *sql.Rows) error {
		var (
			u, e        string
			first, last int64
		)
		if err := rows.Scan(&u, &e, &first, &last); err != nil {
			return err
		}
		return fn(u, e, fromMicro(first), fromMicro(last))
	})
}

// UserTraits streams the current values of the named user traits.
func (db *DB) UserTraits(ctx context.Context, names []string, fn func(userID, name string, value json.RawMessage, at time.Time) error) error {
	return db.traits(ctx, "user_traits", "user_id", names, true, fn)
}

// AccountTraits streams the current values of the named account traits.
func (db *DB) AccountTraits(ctx context.Context, names []string, fn func(groupID, name string, value json.RawMessage) error) error {
	return db.traits(ctx, "account_traits", "group_id", names, false, func(id, name string, value json.RawMessage, _ time.Time) error {
		return fn(id, name, value)
	})
}

// traits streams trait values with the event time that set them; cleared
// traits (null) only when withNull is set, so that an id's clearing can win
// over an older value of an id merged with it.
func (db *DB) traits(ctx context.Context, table, idCol string, names []string, withNull bool, fn func(id, name string, value json.RawMessage, at time.Time) error) error {
	if len(names) == 0 {
		return nil
	}
	cond := ""
	if !withNull {
		cond = "value <> 'null' AND "
	}
	q := fmt.Sprintf(`SELECT %s, name, value, at FROM %s WHERE %sname IN (%s)`, idCol, table, cond, placeholders(len(names)))
	return db.each(ctx, q, anys(names), func(rows *sql.Rows) error {
		var (
			id, name, value string
			at              int64
		)
		if err := rows.Scan(&id, &name, &value, &at); err != nil {
			return err
		}
		return fn(id, name, json.RawMessage(value), fromMicro(at))
	})
}

// IdentityLinks streams every identity link with the event time of the
// first message that made it.
func (db *DB) IdentityLinks(ctx context.Context, fn func(id, userID string, at time.Time) error) error {
	return db.each(ctx, `SELECT id, user_id, at FROM identity_links`, nil, func(rows *sql.Rows) error {
		var (
			id, user string
			at       int64
		)
		if err := rows.Scan(&id, &user, &at); err != nil {
			return err
		}
		return fn(id, user, fromMicro(at))
	})
}

// SaveScores stores one profile's run and its accounts' history rows.
func (db *DB) SaveScores(ctx context.Context, run *trackplan.ScoreRun) error {
	body, err := store.EncodeRun(run)
	if err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save scores: %w", err)
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO score_runs (profile, at, window_days, p90, active_users, users, accounts, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, run.Profile, micro(run.At), run.WindowDays, run.P90,
		run.ActiveUsers, len(run.Users), len(run.Accounts), body).Scan(&id)
	if err != nil {
		return fmt.Errorf("save %s scores: %w", run.Profile, err)
	}
	ex := execer{ctx: ctx, tx: tx, stmts: map[string]*sql.Stmt{}}
	defer ex.close()
	args := make([]any, 0, 5*len(run.Accounts))
	for _, a := range run.Accounts {
		args = append(args, id, a.ID, a.AverageScore, a.TotalScore, a.ActiveUsers)
	}
	ex.bulk(`INSERT INTO account_score_history (run_id, group_id, average_score, total_score, active_users) VALUES`, 5, ``, args)
	if ex.err != nil {
		return fmt.Errorf("save %s account history: %w", run.Profile, ex.err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit %s scores: %w", run.Profile, err)
	}
	return nil
}

// LatestScores returns the profile's most recent run before the given time.
func (db *DB) LatestScores(ctx context.Context, profile string, before time.Time) (*trackplan.ScoreRun, error) {
	var body []byte
	err := db.read.QueryRowContext(ctx, `SELECT body FROM score_runs WHERE profile = ? AND at < ?
		ORDER BY at DESC, id DESC LIMIT 1`, profile, micro(before)).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("scores of profile %q before %s: %w", profile, before.Format(time.RFC3339), trackplan.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read scores of profile %q: %w", profile, err)
	}
	return store.DecodeRun(body)
}

// AccountHistory returns an account's scores per run of a profile, oldest
// first, at most limit points.
func (db *DB) AccountHistory(ctx context.Context, profile, groupID string, limit int) ([]store.ScorePoint, error) {
	var out []store.ScorePoint
	err := db.each(ctx, `SELECT at, average_score FROM (SELECT r.at, h.average_score FROM account_score_history h
		JOIN score_runs r ON r.id = h.run_id WHERE h.group_id = ? AND r.profile = ? ORDER BY r.at DESC LIMIT ?) ORDER BY at`,
		[]any{groupID, profile, limit}, func(rows *sql.Rows) error {
			var (
				at int64
				p  store.ScorePoint
			)
			if err := rows.Scan(&at, &p.Score); err != nil {
				return err
			}
			p.At = fromMicro(at)
			out = append(out, p)
			return nil
		})
	return out, err
}

// PruneScores deletes runs older than before, keeping each profile's latest.
func (db *DB) PruneScores(ctx context.Context, before time.Time) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("prune score snapshots: %w", err)
	}
	defer tx.Rollback()
	// Foreign keys are off (they would cost every ingest), so the history
	// rows go explicitly, with their runs.
	const old = `SELECT id FROM score_runs WHERE at < ? AND id NOT IN (SELECT max(id) FROM score_runs GROUP BY profile)`
	if _, err := tx.ExecContext(ctx, `DELETE FROM account_score_history WHERE run_id IN (`+old+`)`, micro(before)); err != nil {
		return fmt.Errorf("prune score history: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM score_runs WHERE id IN (`+old+`)`, micro(before)); err != nil {
		return fmt.Errorf("prune score snapshots: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("prune score snapshots: %w", err)
	}
	return nil
}

// each runs a query and calls scan for every row.
func (db *DB) each(ctx context.Context, q string, args []any, scan func(*sql.Rows) error) error {
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("query %s: %w", firstWords(q), err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anys(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
