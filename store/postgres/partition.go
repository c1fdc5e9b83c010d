package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// partitionPrefix starts the name of every day partition of log_blocks; the
// rest of the name is the day as YYYYMMDD.
const partitionPrefix = "log_blocks_"

// partitionName is the quoted name of the log_blocks partition of an arrival
// day, built from the date alone.
func partitionName(day time.Time) string {
	return pgx.Identifier{partitionPrefix + day.Format("20060102")}.Sanitize()
}

// ensurePartition creates the log_blocks partition of an arrival day
// (YYYY-MM-DD) unless this DB already knows it exists. It runs outside any
// transaction: creating a partition locks the whole table for a moment. A
// replica that loses the race to create it takes the winner's.
func (db *DB) ensurePartition(ctx context.Context, day string) error {
	db.partMu.Lock()
	known := db.parts[day]
	db.partMu.Unlock()
	if known {
		return nil
	}
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return fmt.Errorf("log partition of %q: %w", day, err)
	}
	// Creating a partition takes an exclusive lock on log_blocks: bounded,
	// so it never queues every append behind a long reader; a timeout
	// fails this append (the client retries) and the next one tries again.
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '2s'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF log_blocks
			FOR VALUES FROM ('%s') TO ('%s')`,
			partitionName(d), d.Format(time.DateOnly), d.AddDate(0, 0, 1).Format(time.DateOnly)))
		return err
	})
	if err != nil && !alreadyExists(err) {
		return fmt.Errorf("create log partition of %s: %w", day, err)
	}
	db.partMu.Lock()
	if db.parts == nil {
		db.parts = map[string]bool{}
	}
	db.parts[day] = true
	db.partMu.Unlock()
	return nil
}

// forgetPartition makes the next append of a day check its partition again.
func (db *DB) forgetPartition(day string) {
	db.partMu.Lock()
	delete(db.parts, day)
	db.partMu.Unlock()
}

// alreadyExists reports a CREATE TABLE that lost a race: the table exists
// (42P07), or its row type was created by the concurrent transaction (23505
// on pg_type).
func alreadyExists(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P07" || pgErr.Code == "23505")
}

// noPartition reports an insert into log_blocks whose arrival day has no
// partition (dropped by another replica since this one made it).
func noPartition(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23514" && pgErr.TableName == "log_blocks"
}

// partitionDays lists the arrival days of log_blocks' partitions, oldest
// first. Partitions not named by ensurePartition are left out.
func (db *DB) partitionDays(ctx context.Context) ([]time.Time, error) {
	rows, err := db.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'log_blocks'::regclass`)
	if err != nil {
		return nil, fmt.Errorf("list log partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list log partitions: %w", err)
	}
	var days []time.Time
	for _, name := range names {
		ymd, ok := strings.CutPrefix(name, partitionPrefix)
		if !ok {
			continue
		}
		if d, err := time.Parse("20060102", ymd); err == nil {
			days = append(days, d)
		}
	}
	slices.SortFunc(days, time.Time.Compare)
	return days, nil
}
