package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan/store/postgres"
)

// TestReadOnlyStore: reading commands work on a SQLite store they may not
// write (files and directory without write permission), leave it
// untouched, and say the derived state is shown as last derived.
func TestReadOnlyStore(t *testing.T) {
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	db, config, files := writeIdentitySetup(t, day)
	for _, f := range files {
		if code, _, stderr := trackplanRun(t, "--db", db, "--config", config, "import", "--source", "web", f); code != 0 {
			t.Fatalf("import: %d %s", code, stderr)
		}
	}
	dir := filepath.Dir(db)
	// Root writes whatever the permissions say: as root, the commands run
	// as nobody, from a copy of the binary nobody may execute.
	var runAs func(args ...string) (int, string, string)
	if os.Geteuid() == 0 {
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			t.Skip("running as root without runuser: cannot drop the permission to write")
		}
		bin, err := buildBinary()
		if err != nil {
			t.Fatal(err)
		}
		copyTo := filepath.Join(dir, "trackplan")
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copyTo, b, 0o755); err != nil {
			t.Fatal(err)
		}
		for p := dir; p != filepath.Dir(p) && strings.HasPrefix(p, os.TempDir()); p = filepath.Dir(p) {
			os.Chmod(p, 0o755) // let nobody reach the store
		}
		runAs = func(args ...string) (int, string, string) {
			cmd := exec.Command(runuser, append([]string{"-u", "nobody", "--", copyTo}, args...)...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode(), stdout.String(), stderr.String()
			}
			if err != nil {
				t.Fatalf("run as nobody: %v", err)
			}
			return 0, stdout.String(), stderr.String()
		}
	} else {
		runAs = func(args ...string) (int, string, string) { return trackplanRun(t, args...) }
	}
	entries, _ := os.ReadDir(dir)
	before := map[string]string{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "t.db") {
			p := filepath.Join(dir, e.Name())
			os.Chmod(p, 0o444)
			b, _ := os.ReadFile(p)
			before[e.Name()] = string(b)
		}
	}
	os.Chmod(config, 0o444)
	os.Chmod(dir, 0o555)
	defer os.Chmod(dir, 0o755)

	code, out, stderr := runAs("--db", db, "--config", config, "observed", "--format", "json")
	var o struct {
		Totals struct{ Messages int64 }
	}
	if code != 0 || json.Unmarshal([]byte(out), &o) != nil || o.Totals.Messages != int64(len(identityEvents(day))) {
		t.Fatalf("observed on a read-only store: exit %d, %s\n%s", code, out, stderr)
	}
	if !strings.Contains(stderr, "read-only store") {
		t.Errorf("observed does not say the store is read-only:\n%s", stderr)
	}
	if code, out, stderr := runAs("--db", db, "--config", config, "score", "--users", "--at", day.AddDate(0, 0, 2).Format(time.RFC3339), "--format", "json"); code != 0 || !strings.Contains(out, `"u2"`) {
		t.Errorf("score on a read-only store: exit %d, %s\n%s", code, out, stderr)
	}
	if code, _, stderr := runAs("--db", db, "--config", config, "drift", "--format", "json"); code != 0 && code != exitFindings {
		t.Errorf("drift on a read-only store: exit %d\n%s", code, stderr)
	}
	for name, b := range before {
		now, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(now) != b {
			t.Errorf("%s changed on a read-only store (%v)", name, err)
		}
	}
}

// TestReadOnlyPostgres: reading commands work through a PostgreSQL role
// that may only read the store (as on a hot standby), without migrating
// or deriving.
func TestReadOnlyPostgres(t *testing.T) {
	base := os.Getenv("TRACKPLAN_TEST_POSTGRES")
	if base == "" {
		t.Skip("set TRACKPLAN_TEST_POSTGRES to run the PostgreSQL tests")
	}
	ctx := t.Context()
	schema := fmt.Sprintf("tp_ro_%d", time.Now().UnixNano())
	dsn, err := postgres.CreateSchema(ctx, base, schema)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	_, config, files := writeIdentitySetup(t, day)
	for _, f := range files {
		if code, _, stderr := trackplanRun(t, "--db", dsn, "--config", config, "import", "--source", "web", f); code != 0 {
			t.Fatalf("import: %d %s", code, stderr)
		}
	}
	role := schema + "_reader"
	if err := postgres.GrantReader(ctx, base, schema, role); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		postgres.DropSchema(context.Background(), base, schema)
		postgres.DropRole(context.Background(), base, role)
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	reader := u.String()

	code, out, stderr := trackplanRun(t, "--db", reader, "--config", config, "observed", "--format", "json")
	var o struct {
		Totals struct{ Messages int64 }
	}
	if code != 0 || json.Unmarshal([]byte(out), &o) != nil || o.Totals.Messages != int64(len(identityEvents(day))) {
		t.Fatalf("observed through a read-only role: exit %d, %s\n%s", code, out, stderr)
	}
	if !strings.Contains(stderr, "read-only store") {
		t.Errorf("observed does not say the store is read-only:\n%s", stderr)
	}
	if code, out, stderr := trackplanRun(t, "--db", reader, "--config", config, "score", "--users", "--at", day.AddDate(0, 0, 2).Format(time.RFC3339), "--format", "json"); code != 0 || !strings.Contains(out, `"u2"`) {
		t.Errorf("score through a read-only role: exit %d, %s\n%s", code, out, stderr)
	}
	if code, _, stderr := trackplanRun(t, "--db", reader, "--config", config, "drift", "--format", "json"); code != 0 && code != exitFindings {
		t.Errorf("drift through a read-only role: exit %d\n%s", code, stderr)
	}
}

// TestImportPoisonPostgres: an archive whose lines PostgreSQL could not
// index or date (a 3,000-byte id, a year-0 timestamp) imports on
// PostgreSQL as on SQLite: the rest stored, the long id rejected with its
// reason, the year-0 time clamped.
func TestImportPoisonPostgres(t *testing.T) {
	base := os.Getenv("TRACKPLAN_TEST_POSTGRES")
	if base == "" {
		t.Skip("set TRACKPLAN_TEST_POSTGRES to run the PostgreSQL tests")
	}
	schema := fmt.Sprintf("tp_poison_%d", time.Now().UnixNano())
	dsn, err := postgres.CreateSchema(t.Context(), base, schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { postgres.DropSchema(context.Background(), base, schema) })
	var lines []string
	for i := range 99 {
		lines = append(lines, fmt.Sprintf(`{"type":"track","messageId":"ok-%d","userId":"u","event":"Signed In","timestamp":"2026-11-01T10:00:00Z"}`, i))
	}
	lines = append(lines,
		`{"type":"track","messageId":"long","userId":"`+strings.Repeat("x", 3000)+`","event":"Signed In"}`,
		`{"type":"track","messageId":"year0","userId":"u","event":"Signed In","timestamp":"0000-01-01T00:00:00Z"}`)
	path := filepath.Join(t.TempDir(), "archive.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := trackplanRun(t, "--db", dsn, "import", "--source", "web", path); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	code, out, stderr := trackplanRun(t, "--db", dsn, "observed", "--format", "json")
	var o struct {
		Totals struct {
			Messages, Rejected int64
			Clamped            int64 `json:"clamped_timestamps"`
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &o) != nil || o.Totals.Messages != 100 || o.Totals.Rejected != 1 || o.Totals.Clamped != 1 {
		t.Errorf("after importing 101 lines on PostgreSQL: exit %d, totals %+v; want 100 stored, 1 rejected, 1 clamped\n%s", code, o.Totals, stderr)
	}
}
