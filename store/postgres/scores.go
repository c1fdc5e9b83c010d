package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// Users streams every user with the first and last time they were seen.
func (db *DB) Users(ctx context.Context, fn func(userID string, first, last time.Time) error) error {
	return db.each(ctx, "read users", `SELECT user_id, first_seen, last_seen FROM users
		UNION ALL SELECT anonymous_id, first_seen, last_seen FROM anonymous_ids a
		WHERE EXISTS (SELECT 1 FROM identity_links l WHERE l.id = a.anonymous_id)`, nil, func(rows pgx.Rows) error {
		var (
			id          string
			first, last time.Time
		)
		if err := rows.Scan(&id, &first, &last); err != nil {
			return err
		}
		return fn(id, first.UTC(), last.UTC())
	})
}

// Memberships streams every (user, account) pair.
func (db *DB) Memberships(ctx context.Context, fn func(userID, groupID string) error) error {
	return db.each(ctx, "read memberships", `SELECT user_id, group_id FROM memberships`, nil, func(rows pgx.Rows) error {
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
	return db.each(ctx, "read daily activity", `SELECT user_id, event, day, count FROM activity_daily
		WHERE day >= $1::text::date AND day <= $2::text::date AND event = ANY($3::text[])`,
		[]any{store.Day(from), store.Day(to.Add(-time.Nanosecond)), texts(events)}, func(rows pgx.Rows) error {
			var (
				u, e string
				day  time.Time
				n    int64
			)
			if err := rows.Scan(&u, &e, &day, &n); err != nil {
				return err
			}
			return fn(u, e, time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC), n)
		})
}

// EventTotals streams the all-time rollups of the named events.
func (db *DB) EventTotals(ctx context.Context, events []string, fn func(userID, event string, first, last time.Time) error) error {
	if len(events) == 0 {
		return nil
	}
	return db.each(ctx, "read activity totals", `SELECT user_id, event, first_seen, last_seen FROM activity_total
		WHERE event = ANY($1::text[])`, []any{texts(events)}, func(rows pgx.Rows) error {
		var (
			u, e        string
			first, last time.Time
		)
		if err := rows.Scan(&u, &e, &first, &last); err != nil {
			return err
		}
		return fn(u, e, first.UTC(), last.UTC())
	})
}

// UserTraits streams the current values of the named user traits with the
// event time that set them; cleared traits are streamed as null, so that an
// id's clearing can win over an older value of an id merged with it.
func (db *DB) UserTraits(ctx context.Context, names []string, fn func(userID, name string, value json.RawMessage, at time.Time) error) error {
	return db.traits(ctx, "user_traits", "user_id", names, true, fn)
}

// AccountTraits streams the current values of the named account traits;
// cleared (null) traits are left out.
func (db *DB) AccountTraits(ctx context.Context, names []string, fn func(groupID, name string, value json.RawMessage) error) error {
	return db.traits(ctx, "account_traits", "group_id", names, false, func(id, name string, value json.RawMessage, _ time.Time) error {
		return fn(id, name, value)
	})
}

func (db *DB) traits(ctx context.Context, table, idCol string, names []string, withNull bool, fn func(id, name string, value json.RawMessage, at time.Time) error) error {
	if len(names) == 0 {
		return nil
	}
	cond := ""
	if !withNull {
		cond = "value <> 'null'::jsonb AND "
	}
	q := fmt.Sprintf(`SELECT %s, name, value::text, at FROM %s WHERE %sname = ANY($1::text[])`, idCol, table, cond)
	return db.each(ctx, "read "+table, q, []any{texts(names)}, func(rows pgx.Rows) error {
		var (
			id, name, value string
			at              time.Time
		)
		if err := rows.Scan(&id, &name, &value, &at); err != nil {
			return err
		}
		return fn(id, name, json.RawMessage(value), at.UTC())
	})
}

// IdentityLinks streams every identity link with the event time of the
// first message that made it.
func (db *DB) IdentityLinks(ctx context.Context, fn func(id, userID string, at time.Time) error) error {
	return db.each(ctx, "read identity links", `SELECT id, user_id, at FROM identity_links`, nil, func(rows pgx.Rows) error {
		var (
			id, user string
			at       time.Time
		)
		if err := rows.Scan(&id, &user, &at); err != nil {
			return err
		}
		return fn(id, user, at.UTC())
	})
}

// SaveScores stores one profile's run (the whole run, gzipped) and its
// accounts' history rows in one transaction.
func (db *DB) SaveScores(ctx context.Context, run *trackplan.ScoreRun) error {
	body, err := store.EncodeRun(run)
	if err != nil {
		return err
	}
	groups := make([]string, len(run.Accounts))
	averages := make([]float64, len(run.Accounts))
	totals := make([]float64, len(run.Accounts))
	active := make([]int64, len(run.Accounts))
	for i, a := range run.Accounts {
		groups[i], averages[i], totals[i], active[i] = text(a.ID), a.AverageScore, float64(a.TotalScore), int64(a.ActiveUsers)
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO score_runs (profile, at, window_days, p90, active_users, users, accounts, body)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, text(run.Profile), run.At, run.WindowDays, run.P90,
			run.ActiveUsers, len(run.Users), len(run.Accounts), body).Scan(&id)
		if err != nil {
			return fmt.Errorf("save %s scores: %w", run.Profile, err)
		}
		if len(groups) == 0 {
			return nil
		}
		// Account ids are unique within a run (the run lists them sorted).
		_, err = tx.Exec(ctx, `INSERT INTO account_score_history (run_id, group_id, average_score, total_score, active_users)
			SELECT $1, g, a, t, n FROM unnest($2::text[], $3::float8[], $4::float8[], $5::bigint[]) AS u(g, a, t, n)
			ON CONFLICT DO NOTHING`, id, groups, averages, totals, active)
		if err != nil {
			return fmt.Errorf("save %s account history: %w", run.Profile, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save scores: %w", err)
	}
	return nil
}

// LatestScores returns the profile's most recent run before the given time,
// or an error wrapping trackplan.ErrNotFound.
func (db *DB) LatestScores(ctx context.Context, profile string, before time.Time) (*trackplan.ScoreRun, error) {
	var body []byte
	err := db.pool.QueryRow(ctx, `SELECT body FROM score_runs WHERE profile = $1 AND at < $2
		ORDER BY at DESC, id DESC LIMIT 1`, text(profile), before).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("scores of profile %q before %s: %w", profile, before.Format(time.RFC3339), trackplan.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read scores of profile %q: %w", profile, err)
	}
	return store.DecodeRun(body)
}

// AccountHistory returns an account's average score per run of a profile,
// oldest first, at most limit points.
func (db *DB) AccountHistory(ctx context.Context, profile, groupID string, limit int) ([]store.ScorePoint, error) {
	var out []store.ScorePoint
	err := db.each(ctx, "read account history", `SELECT at, average_score FROM (
		SELECT r.at, r.id, h.average_score FROM account_score_history h JOIN score_runs r ON r.id = h.run_id
		WHERE h.group_id = $1 AND r.profile = $2 ORDER BY r.at DESC, r.id DESC LIMIT $3) AS last
		ORDER BY at, id`, []any{text(groupID), text(profile), limit}, func(rows pgx.Rows) error {
		var p store.ScorePoint
		if err := rows.Scan(&p.At, &p.Score); err != nil {
			return err
		}
		p.At = p.At.UTC()
		out = append(out, p)
		return nil
	})
	return out, err
}

// PruneScores deletes runs taken before the given time, keeping each
// profile's latest; their account history goes with them.
func (db *DB) PruneScores(ctx context.Context, before time.Time) error {
	err := retry(ctx, func() error {
		_, err := db.pool.Exec(ctx, `DELETE FROM score_runs WHERE at < $1 AND id NOT IN (
			SELECT max(id) FROM score_runs GROUP BY profile)`, before)
		return err
	})
	if err != nil {
		return fmt.Errorf("prune score snapshots: %w", err)
	}
	return nil
}

// each runs a query and calls scan for every row, streaming: rows are not
// collected first, so a million users cost one row's memory at a time.
func (db *DB) each(ctx context.Context, what, q string, args []any, scan func(pgx.Rows) error) error {
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// texts makes every string of xs storable as text.
func texts(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = text(x)
	}
	return out
}
