package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackplan/trackplan/store/postgres"
)

// TestServeWaitsForDatabase: serve started while its PostgreSQL database
// cannot be reached stays up, alive but not ready (503 to /readyz and to
// the collector), and starts for real once the database answers.
func TestServeWaitsForDatabase(t *testing.T) {
	base := os.Getenv("TRACKPLAN_TEST_POSTGRES")
	if base == "" {
		t.Skip("set TRACKPLAN_TEST_POSTGRES to run the PostgreSQL tests")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("tp_wait_%d", time.Now().UnixNano())
	dsn, err := postgres.CreateSchema(ctx, base, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer postgres.DropSchema(ctx, base, schema)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	// A port where the database will appear: nothing listens there yet.
	hold, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxyAddr := hold.Addr().String()
	hold.Close()
	u.Host = proxyAddr
	listen := freeAddr(t)

	sctx, stop := context.WithCancel(ctx)
	var out bytes.Buffer
	var wg sync.WaitGroup
	code := -1
	wg.Add(1)
	go func() {
		defer wg.Done()
		code = run(sctx, []string{"trackplan", "--db", u.String(), "serve", "--listen", listen, "--write-key", "web=k-wait",
			"--check=false"}, nil, io.Discard, &out)
	}()
	get := func(path string) int {
		resp, err := http.Get("http://" + listen + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	post := func() int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+listen+"/v1/batch",
			strings.NewReader(`{"batch":[{"type":"track","userId":"u","event":"E","messageId":"w1"}]}`))
		req.SetBasicAuth("k-wait", "")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				stop()
				wg.Wait()
				t.Fatalf("%s: timed out; serve said:\n%s", what, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("serve up while the database is away", func() bool { return get("/healthz") == 200 })
	if got := get("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz while the database is away: %d", got)
	}
	if got := post(); got != http.StatusServiceUnavailable {
		t.Errorf("a batch while the database is away: %d", got)
	}

	// The database appears behind the address.
	proxy, err := net.Listen("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	go func() {
		for {
			c, err := proxy.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				d, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer d.Close()
				go io.Copy(d, c)
				io.Copy(c, d)
			}()
		}
	}()
	waitFor("ready once the database answers", func() bool { return get("/readyz") == 200 })
	if got := post(); got != 200 {
		t.Errorf("a batch once ready: %d", got)
	}
	stop()
	wg.Wait()
	if code != 0 {
		t.Errorf("serve exited %d:\n%s", code, out.String())
	}
}

// freeAddr returns a loopback address with a free port.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestFrozenPostgresFailsPromptly: a database that accepts connections and
// never answers (frozen) fails a command within the default connect
// timeout instead of hanging it.
func TestFrozenPostgresFailsPromptly(t *testing.T) {
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never answered
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	start := time.Now()
	code, _, stderr := trackplanRun(t, "--db", "postgres://u@"+hole.Addr().String()+"/db?sslmode=disable", "observed")
	took := time.Since(start)
	if code != exitUpstream || took > postgres.DefaultConnectTimeout+5*time.Second {
		t.Errorf("observed against a frozen database: exit %d after %s; want exit %d within %s\n%s",
			code, took, exitUpstream, postgres.DefaultConnectTimeout, stderr)
	}
}
