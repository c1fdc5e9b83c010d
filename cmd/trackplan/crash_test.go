package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
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
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--db", db}, extra...)
	args = append(args, "serve", "--listen", "127.0.0.1:0", "--write-key", "web="+testKey)
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

// TestCrashLosesNothingAcknowledged kills the collector with SIGKILL under
// steady load, then checks that every acknowledged message survived and
// that resending everything counts each message exactly once.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	db := filepath.Join(t.TempDir(), "crash.db")
	p := startProcess(t, db)

	stop := make(chan struct{})
	load := sendLoad("crash", []string{"http://" + p.addr}, 4, stop)
	time.Sleep(1500 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	close(stop)
	load.wait()
	acked, sent := load.acked, load.sent
	if len(acked) == 0 {
		t.Fatal("no batch was acknowledged before the kill")
	}

	st, err := sqlite.Open(context.Background(), db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.Stored(context.Background(), "web", acked)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if n != len(acked) {
		t.Fatalf("after SIGKILL %d of %d acknowledged messages are stored", n, len(acked))
	}
	t.Logf("%d messages acknowledged before the kill, all present; %d batches sent", len(acked), len(sent))

	// Restart and resend everything: each message must count once.
	p = startProcess(t, db)
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
	st, err = sqlite.Open(context.Background(), db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	o, err := st.Observed(context.Background())
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
