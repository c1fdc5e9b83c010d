package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/templates"
)

// binDir holds the binary buildBinary compiles; TestMain removes it.
var binDir = sync.OnceValues(func() (string, error) { return os.MkdirTemp("", "trackplan-bin-") })

func TestMain(m *testing.M) {
	code := m.Run()
	if dir, err := binDir(); err == nil {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// buildBinary compiles trackplan once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := binDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "trackplan")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// process is a trackplan serve child process.
type process struct {
	cmd  *exec.Cmd
	addr string
}

var listenRE = regexp.MustCompile(`msg="collector listening" addr=(\S+)`)

func startProcess(t *testing.T, db string, extra ...string) *process {
	t.Helper()
	args := append([]string{"--db", db}, extra...)
	return startServe(t, append(args, "serve", "--listen", "127.0.0.1:0", "--write-key", "web="+testKey)...)
}

// startServe starts the binary with args (a serve command) and waits until
// it listens.
func startServe(t *testing.T, args ...string) *process {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return &process{cmd: cmd, addr: a}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("serve did not start listening")
	}
	return nil
}

// crashKills is how many SIGKILLs the crash test deals: a few in `make
// test`, more in `make test-long` (TRACKPLAN_CRASH_KILLS).
func crashKills(t *testing.T) int {
	if v := os.Getenv("TRACKPLAN_CRASH_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("TRACKPLAN_CRASH_KILLS=%q: want a positive number", v)
		}
		return n
	}
	return 3
}

// TestCrashLosesNothingAcknowledged kills the collector with SIGKILL at
// random points under steady load, several times (each kill lands while
// requests are being appended and while the aggregator is deriving behind
// them), then checks that every acknowledged message is in the log exactly
// once, that the derived state, once caught up, equals a rebuild from the
// log, and that resending everything counts each message exactly once.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "crash.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var acked []string
	var sent [][]string
	for kill := range crashKills(t) {
		p := startProcess(t, db)
		stop := make(chan struct{})
		load := sendLoad(fmt.Sprintf("crash%d", kill), []string{"http://" + p.addr}, 4, stop)
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p.cmd.Wait()
		close(stop)
		load.wait()
		acked = append(acked, load.acked...)
		sent = append(sent, load.sent...)
	}
	if len(acked) == 0 {
		t.Fatal("no batch was acknowledged before the kills")
	}

	st, err := sqlite.Open(ctx, db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	logged := map[string]int{}
	err = st.ReadLog(ctx, 0, 1<<62, func(b store.LogBlock) error {
		recs, err := store.DecodeBlock(b)
		for _, r := range recs {
			if r.Message != nil {
				logged[r.Message.MessageID]++
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range acked {
		if logged[id] != 1 {
			t.Fatalf("acknowledged message %s is in the log %d times; want once", id, logged[id])
		}
	}
	for id, n := range logged {
		if n != 1 {
			t.Fatalf("message %s is in the log %d times", id, n)
		}
	}
	plan, err := templates.Plan(defaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	d := derive.New(st, st, derive.Options{})
	d.SetChecker(trackplan.NewChecker(plan))
	if _, err := d.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	live, err := st.DumpDerived(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ResetDerived(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := st.DumpDerived(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if diff := cmp.Diff(live, rebuilt); diff != "" {
		t.Fatalf("after %d kills the derived state differs from a rebuild (-live +rebuild):\n%s", crashKills(t), diff)
	}
	t.Logf("%d kills: %d messages acknowledged, each in the log once; derived state equals a rebuild", crashKills(t), len(acked))

	// Restart and resend everything: each message must count once.
	p := startProcess(t, db)
	client := &http.Client{Timeout: 5 * time.Second}
	for _, ids := range sent {
		items := make([]string, len(ids))
		for j, id := range ids {
			items[j] = msg(id, "")
		}
		if err := postBatch(client, "http://"+p.addr, batch(items...)); err != nil {
			t.Fatalf("resend: %v", err)
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	st, err = sqlite.Open(ctx, db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o, err := st.Observed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(50 * len(sent)); o.Totals.Messages != want {
		t.Errorf("stored %d messages after resending; want exactly %d", o.Totals.Messages, want)
	}
}

func postBatch(client *http.Client, url string, body []byte) error {
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/batch", bytes.NewReader(body))
	req.SetBasicAuth(testKey, "")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"success":true`) {
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return nil
}
