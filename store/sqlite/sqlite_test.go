package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, l store.Limits) store.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), l)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// TestMigrateStoreWithoutLog opens a store written before the event log
// existed (its derived tables filled, no log tables): it migrates, keeps
// its derived state, starts with an empty log, and says the derived state
// holds more than the log.
func TestMigrateStoreWithoutLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sqlite.Open(ctx, path, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	m := &trackplan.Message{Source: "web", Type: trackplan.Track, MessageID: "m1", UserID: "u1", Event: "Signed In",
		Timestamp: now, ReceivedAt: now, Raw: []byte(`{}`)}
	if _, err := storetest.Ingest(ctx, db, now, []store.Checked{{Message: m}}, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Make it the previous version's store: no log file, migration 6 not
	// recorded, dedupe keys and duplicate counts in the main file.
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TABLE derive_state`, `DELETE FROM schema_migrations WHERE version = 6`,
		fmt.Sprintf(`INSERT INTO dedupe (source, message_id, received_at) VALUES ('web', 'm1', %d)`, time.Now().UnixMicro()),
		`UPDATE source_counts SET duplicates = 4`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	for _, f := range []string{"", "-wal", "-shm"} {
		os.Remove(sqlite.LogPath(path) + f)
	}

	db, err = sqlite.Open(ctx, path, store.DefaultLimits())
	if err != nil {
		t.Fatalf("open the previous version's store: %v", err)
	}
	defer db.Close()
	o, err := db.Observed(ctx)
	if err != nil || o.Totals.Messages != 1 {
		t.Fatalf("derived state after migrating: %+v, %v; want the message kept", o, err)
	}
	st, err := db.LogStats(ctx)
	if err != nil || st.Records != 0 || !st.Pruned {
		t.Errorf("log after migrating: %+v, %v; want empty and marked as not holding everything", st, err)
	}
	if head, _ := db.LogHead(ctx); head != 0 {
		t.Errorf("log head %d; want 0", head)
	}
	if n, err := db.Stored(ctx, "web", []string{"m1"}); err != nil || n != 1 {
		t.Errorf("the dedupe key of the previous version: %d, %v; want kept", n, err)
	}
	if o.Totals.Duplicates != 4 {
		t.Errorf("duplicates after migrating = %d; want the 4 counted before", o.Totals.Duplicates)
	}
}
