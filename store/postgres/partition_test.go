package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/postgres"
	"github.com/trackplan/trackplan/store/storetest"
)

// logPartitions lists the partitions of log_blocks in the schema of dsn.
func logPartitions(t *testing.T, dsn string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'log_blocks'::regclass ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var tables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_class
		WHERE relname LIKE 'log_blocks_2%' AND relkind = 'r' AND relnamespace = current_schema()::regnamespace`).
		Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != len(names) {
		t.Errorf("the schema holds %d log partition tables; %d are partitions of log_blocks", tables, len(names))
	}
	return names
}

// TestPrunePartitions appends blocks on three days and prunes: whole day
// partitions are dropped, a day holding a block not yet applied is kept
// until a later prune, and a pruned day can be appended to again, by the
// replica that dropped it and by one that had made it.
func TestPrunePartitions(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	db, other := open(t, dsn, store.DefaultLimits()), open(t, dsn, store.DefaultLimits())
	d0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	n := 0
	appendAt := func(db *postgres.DB, day int) {
		t.Helper()
		n++
		at := d0.AddDate(0, 0, day)
		m := &trackplan.Message{Source: "web", Type: trackplan.Track, MessageID: fmt.Sprint("p", n), UserID: "u1",
			Event: "Signed In", Timestamp: at, ReceivedAt: at, Raw: []byte(`{"type":"track"}`)}
		if _, err := db.Append(ctx, &store.LogBatch{Messages: []*trackplan.Message{m}, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	derive := func() {
		t.Helper()
		if err := storetest.Derive(ctx, db, nil); err != nil {
			t.Fatal(err)
		}
	}
	prune := func(want store.LogPruned, wantParts ...string) {
		t.Helper()
		p, err := db.PruneLog(ctx, d0.AddDate(0, 0, 2).Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if p != want {
			t.Errorf("PruneLog = %+v; want %+v", p, want)
		}
		if diff := cmp.Diff(wantParts, logPartitions(t, dsn)); diff != "" {
			t.Errorf("partitions after prune (-want +got):\n%s", diff)
		}
	}

	for day := range 3 {
		appendAt(db, day) // records 1, 2, 3
	}
	derive()
	appendAt(db, 1) // record 4, not applied
	if diff := cmp.Diff([]string{"log_blocks_20260301", "log_blocks_20260302", "log_blocks_20260303", "log_blocks_20260304"}, logPartitions(t, dsn)); diff != "" {
		t.Fatalf("partitions after appending (-want +got):\n%s", diff)
	}

	// Day 1 holds record 4: only day 0 goes.
	prune(store.LogPruned{Blocks: 1, Records: 1, Through: 1}, "log_blocks_20260302", "log_blocks_20260303", "log_blocks_20260304")
	derive()
	prune(store.LogPruned{Blocks: 2, Records: 2, Through: 4}, "log_blocks_20260303", "log_blocks_20260304")
	prune(store.LogPruned{}, "log_blocks_20260303", "log_blocks_20260304")
	st, err := db.LogStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.First != 3 || st.Last != 3 || st.Blocks != 1 || !st.Pruned {
		t.Errorf("LogStats after pruning = %+v; want block 3 left, pruned", st)
	}

	// other made day 0's partition before db dropped it; db forgot it.
	appendAt(other, 0) // record 5
	derive()
	prune(store.LogPruned{Blocks: 1, Records: 1, Through: 5}, "log_blocks_20260303", "log_blocks_20260304")
	appendAt(other, 0) // record 6
	appendAt(db, 0)    // record 7
	if diff := cmp.Diff([]string{"log_blocks_20260301", "log_blocks_20260302", "log_blocks_20260303", "log_blocks_20260304"}, logPartitions(t, dsn)); diff != "" {
		t.Errorf("partitions after appending to a pruned day (-want +got):\n%s", diff)
	}
	var seqs []int64
	err = db.ReadLog(ctx, 0, 100, func(b store.LogBlock) error {
		seqs = append(seqs, b.First)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{3, 6, 7}, seqs); diff != "" {
		t.Errorf("blocks left (-want +got):\n%s", diff)
	}
}

// TestPartitionRace has replicas append to a new day at once: each makes
// the day's partition, and those that lose the race use the winner's.
func TestPartitionRace(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	replicas := make([]*postgres.DB, 8)
	for i := range replicas {
		replicas[i] = open(t, dsn, store.DefaultLimits())
	}
	at := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i, db := range replicas {
		wg.Go(func() {
			m := &trackplan.Message{Source: "web", Type: trackplan.Track, MessageID: fmt.Sprint("r", i), UserID: "u1",
				Event: "Signed In", Timestamp: at, ReceivedAt: at, Raw: []byte(`{"type":"track"}`)}
			if _, err := db.Append(ctx, &store.LogBatch{Messages: []*trackplan.Message{m}, At: at}); err != nil {
				t.Errorf("replica %d: Append: %v", i, err)
			}
		})
	}
	wg.Wait()
	if diff := cmp.Diff([]string{"log_blocks_20260401", "log_blocks_20260402"}, logPartitions(t, dsn)); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}
	if st, err := replicas[0].LogStats(ctx); err != nil || st.Blocks != int64(len(replicas)) {
		t.Errorf("LogStats = %+v, %v; want %d blocks", st, err, len(replicas))
	}
}
