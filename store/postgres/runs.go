package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/trackplan/trackplan"
)

// RecordRun appends r to the run log and sets r.ID.
func (db *DB) RecordRun(ctx context.Context, r *trackplan.JobRun) error {
	counts, err := json.Marshal(r.Counts)
	if err != nil {
		return fmt.Errorf("encode run counts: %w", err)
	}
	err = db.pool.QueryRow(ctx, `INSERT INTO job_runs (job, started, finished, outcome, counts, error, instance)
		VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7) RETURNING id`,
		text(r.Job), r.Started, r.Finished, text(r.Outcome), string(counts), text(r.Error), text(r.Instance)).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("record %s run: %w", r.Job, err)
	}
	return nil
}

// Runs returns the latest runs, newest first, of one job or of all.
func (db *DB) Runs(ctx context.Context, job string, limit int) ([]trackplan.JobRun, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, job, started, finished, outcome, counts::text, error, instance FROM job_runs
		WHERE $1 = '' OR job = $1 ORDER BY id DESC LIMIT $2`, text(job), limit)
	if err != nil {
		return nil, fmt.Errorf("read run log: %w", err)
	}
	defer rows.Close()
	var out []trackplan.JobRun
	for rows.Next() {
		var (
			r      trackplan.JobRun
			counts string
		)
		if err := rows.Scan(&r.ID, &r.Job, &r.Started, &r.Finished, &r.Outcome, &counts, &r.Error, &r.Instance); err != nil {
			return nil, fmt.Errorf("read run log: %w", err)
		}
		r.Started, r.Finished = r.Started.UTC(), r.Finished.UTC()
		if err := json.Unmarshal([]byte(counts), &r.Counts); err != nil {
			return nil, fmt.Errorf("decode counts of run %d: %w", r.ID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read run log: %w", err)
	}
	return out, nil
}
