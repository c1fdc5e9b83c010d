package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
)

// personTraffic writes an NDJSON file where one person (userId jane-7781,
// first anonymous, with email and name traits) uses the product among
// others, and returns its path.
func personTraffic(t *testing.T, now time.Time) string {
	t.Helper()
	var lines []string
	add := func(m map[string]any) {
		m["timestamp"] = now.Add(-time.Duration(len(lines)) * time.Minute).Format(time.RFC3339)
		m["messageId"] = fmt.Sprintf("m-%04d", len(lines))
		b, _ := json.Marshal(m)
		lines = append(lines, string(b))
	}
	add(map[string]any{"type": "track", "anonymousId": "anon-jane-5512", "event": "Dashboard Viewed", "properties": map[string]any{"dashboard_id": "d1"}})
	add(map[string]any{"type": "identify", "userId": "jane-7781", "anonymousId": "anon-jane-5512",
		"traits": map[string]any{"email": "jane.doe@example.org", "name": "Jane Doelittle", "plan": "pro", "role": "admin"}})
	add(map[string]any{"type": "group", "userId": "jane-7781", "groupId": "acct-1", "traits": map[string]any{"name": "Acme"}})
	for i := range 20 {
		user := fmt.Sprintf("other-%d", i%4)
		if i%3 == 0 {
			user = "jane-7781"
		}
		add(map[string]any{"type": "track", "userId": user, "event": "Report Exported",
			"context": map[string]any{"groupId": "acct-1"}, "properties": map[string]any{"format": "csv", "by": user}})
	}
	for i := range 4 {
		add(map[string]any{"type": "identify", "userId": fmt.Sprintf("other-%d", i),
			"traits": map[string]any{"email": fmt.Sprintf("other%d@example.net", i), "name": fmt.Sprintf("Other Person %d", i),
				"role": "admin", "plan": "pro"}})
	}
	path := filepath.Join(t.TempDir(), "person.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestForgetErasesEverywhere: after `forget --user`, the person's id, email,
// name and anonymous id are nowhere: not in the decompressed log, not in any
// derived table, not in the score snapshots, and not in the bytes of the
// SQLite file or its WAL. Other people are still there.
func TestForgetErasesEverywhere(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Minute)
	db := filepath.Join(t.TempDir(), "forget.db")
	events := personTraffic(t, now)
	if code, out, errOut := trackplanRun(t, "--db", db, "import", "--no-progress", events); code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := trackplanRun(t, "--db", db, "score", "--save"); code != 0 {
		t.Fatalf("score: exit %d\n%s%s", code, out, errOut)
	}
	secrets := []string{"jane-7781", "jane.doe@example.org", "Jane Doelittle", "anon-jane-5512"}
	if found := findInStore(t, db, secrets); len(found) == 0 {
		t.Fatal("the person is not in the store before forget: the test would prove nothing")
	}

	code, out, errOut := trackplanRun(t, "--db", db, "forget", "--user", "jane-7781")
	if code != 0 {
		t.Fatalf("forget: exit %d\n%s%s", code, out, errOut)
	}
	if found := findInStore(t, db, secrets); len(found) > 0 {
		t.Errorf("after forget the person is still found:\n%s", strings.Join(found, "\n"))
	}
	if found := findInStore(t, db, []string{"other-1", "other1@example.net"}); len(found) == 0 {
		t.Error("forget erased other people too")
	}
	// Values the person shares with others ("admin", "pro") and ids that
	// merely contain theirs are not theirs to erase.
	if _, out, _ := trackplanRun(t, "--db", db, "events", "--limit", "0", "--format", "ndjson"); strings.Count(out, "\n") != 17 {
		t.Errorf("the log holds %d messages after forget; want the 17 of other people", strings.Count(out, "\n"))
	}
	_, out, _ = trackplanRun(t, "--db", db, "runs", "--format", "json")
	if !strings.Contains(out, `"forget"`) || strings.Contains(out, "jane") {
		t.Errorf("the run log should record the erasure without the id:\n%s", out)
	}
}

// findInStore lists where any of needles occurs: the decompressed log, the
// derived tables, the score snapshots, and the raw bytes of the database
// and WAL files.
func findInStore(t *testing.T, db string, needles []string) []string {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	look := func(where string, b []byte) {
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				found = append(found, fmt.Sprintf("%s: %q", where, n))
			}
		}
	}
	err = st.ReadLog(ctx, 0, 1<<62, func(b store.LogBlock) error {
		recs, err := store.DecodeBlock(b)
		for _, r := range recs {
			if r.Message != nil {
				line, _ := json.Marshal(r.Message)
				look(fmt.Sprintf("log record %d", r.Seq), line)
				look(fmt.Sprintf("log record %d raw", r.Seq), r.Message.Raw)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dump, err := st.DumpDerived(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for table, rows := range dump {
		for _, row := range rows {
			look("table "+table, []byte(row))
			if strings.HasPrefix(table, "reservoir") || table == "violations" { // samples are hex-encoded
				for _, f := range strings.Split(row, " | ") {
					if raw, err := hex.DecodeString(f); err == nil {
						look("table "+table+" (decoded)", raw)
					}
				}
			}
		}
	}
	run, err := st.LatestScores(ctx, "default", time.Now().Add(time.Hour))
	if err == nil {
		b, _ := json.Marshal(run)
		look("score snapshot", b)
	}
	st.Close()
	for _, f := range []string{db, db + "-wal", sqlite.LogPath(db), sqlite.LogPath(db) + "-wal"} {
		if b, err := os.ReadFile(f); err == nil {
			look("file "+filepath.Base(f), b)
		}
	}
	return found
}

// TestEventsAndRebuildCommands: `events` lists the log with filters and
// ndjson that `drift --events -` reads; `rebuild` recomputes derived state
// that equals what import derived.
func TestEventsAndRebuildCommands(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Minute)
	db := filepath.Join(t.TempDir(), "events.db")
	if code, out, errOut := trackplanRun(t, "--db", db, "import", "--no-progress", personTraffic(t, now)); code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := trackplanRun(t, "--db", db, "events", "--user", "other-1", "--event", "Report Exported", "--format", "ndjson", "--limit", "0")
	if code != 0 {
		t.Fatalf("events: exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("events --user other-1 --event 'Report Exported': %d lines; want 4\n%s", len(lines), out)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["userId"] != "other-1" || m["receivedAt"] == nil {
			t.Errorf("bad events line %s (%v)", l, err)
		}
	}
	if _, out, _ := trackplanRun(t, "--db", db, "events", "--limit", "2", "--format", "json"); strings.Count(out, `"messageId"`) != 2 {
		t.Errorf("events --limit 2 --format json:\n%s", out)
	}

	st, err := sqlite.Open(context.Background(), db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	before, err := st.DumpDerived(context.Background())
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := trackplanRun(t, "--db", db, "rebuild", "--no-progress"); code != 0 || !strings.Contains(out, "rebuilt from 27 log records") {
		t.Fatalf("rebuild: exit %d\n%s%s", code, out, errOut)
	}
	st, err = sqlite.Open(context.Background(), db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	after, err := st.DumpDerived(context.Background())
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for table := range before {
		if strings.Join(before[table], "\n") != strings.Join(after[table], "\n") {
			t.Errorf("table %s differs after rebuild:\nbefore %v\nafter  %v", table, before[table], after[table])
		}
	}
}

// TestRebuildCorruptBlock: a log block whose bytes were flipped stops
// `rebuild` with its sequence range named (exit 3); `--skip-corrupt` passes
// over it, says which records it skipped, and exits 1.
func TestRebuildCorruptBlock(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Minute)
	db := filepath.Join(t.TempDir(), "corrupt.db")
	events := personTraffic(t, now)
	if code, out, errOut := trackplanRun(t, "--db", db, "import", "--no-progress", events); code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := trackplanRun(t, "--db", db, "import", "--no-progress", "--source", "second", events); code != 0 {
		t.Fatalf("second import: exit %d\n%s%s", code, out, errOut)
	}
	st, err := sqlite.Open(context.Background(), db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	var first store.LogBlock
	st.ReadLog(context.Background(), 0, 1, func(b store.LogBlock) error { first = b; return nil })
	err = st.CorruptBlockForTest(context.Background(), first.First)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("log block %d-%d is corrupt", first.First, first.Last)
	code, out, errOut := trackplanRun(t, "--db", db, "rebuild", "--no-progress")
	if code != 3 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "--skip-corrupt") {
		t.Fatalf("rebuild over a corrupt block: exit %d, want 3 naming %q\n%s%s", code, want, out, errOut)
	}
	code, out, errOut = trackplanRun(t, "--db", db, "rebuild", "--no-progress", "--skip-corrupt")
	if code != 1 || !strings.Contains(out, fmt.Sprintf("skipped corrupt log block: records %d-%d", first.First, first.Last)) {
		t.Fatalf("rebuild --skip-corrupt: exit %d, want 1 and the skipped range\n%s%s", code, out, errOut)
	}
	_, out, _ = trackplanRun(t, "--db", db, "observed", "--format", "json")
	if !strings.Contains(out, `"source": "second"`) || strings.Contains(out, `"source": "import"`) {
		t.Errorf("after skipping the first import's block, observed should hold only the second:\n%s", out)
	}
}
