package sqlite

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
	err = db.write.QueryRowContext(ctx, `INSERT INTO job_runs (job, started, finished, outcome, counts, error, instance)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, r.Job, micro(r.Started), micro(r.Finished), r.Outcome, string(counts), r.Error, r.Instance).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("record %s run: %w", r.Job, err)
	}
	return nil
}

// Runs returns the latest runs, newest first, of one job or of all.
func (db *DB) Runs(ctx context.Context, job string, limit int) ([]trackplan.JobRun, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, job, started, finished, outcome, counts, error, instance FROM job_runs
		WHERE ? = '' OR job = ? ORDER BY id DESC LIMIT ?`, job, job, limit)
	if err != nil {
		return nil, fmt.Errorf("read run log: %w", err)
	}
	defer rows.Close()
	var out []trackplan.JobRun
	for rows.Next() {
		var (
			r                 trackplan.JobRun
			started, finished int64
			counts            string
		)
		if err := rows.Scan(&r.ID, &r.Job, &started, &finished, &r.Outcome, &counts, &r.Error, &r.Instance); err != nil {
			return nil, fmt.Errorf("read run log: %w", err)
		}
		r.Started, r.Finished = fromMicro(started), fromMicro(finished)
		if err := json.Unmarshal([]byte(counts), &r.Counts); err != nil {
			return nil, fmt.Errorf("decode counts of run %d: %w", r.ID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
