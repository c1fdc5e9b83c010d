package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/store/postgres"
	"github.com/trackplan/trackplan/templates"
)

// BenchmarkIngestEndToEnd measures the collector as deployed: `trackplan
// serve` in one process, `trackplan simulate` (analytics-go, batches of 250)
// in another, acknowledgement after commit, with and without the plan check.
// It reports sustained events/s, request latency p50/p99 and the server's
// peak RSS.
func BenchmarkIngestEndToEnd(b *testing.B) {
	for _, store := range []string{"sqlite", "postgres"} {
		for _, check := range []bool{true, false} {
			if store == "postgres" && !check {
				continue
			}
			b.Run(fmt.Sprintf("store=%s/check=%v", store, check), func(b *testing.B) {
				db := filepath.Join(b.TempDir(), "bench.db")
				if store == "postgres" {
					base := os.Getenv("TRACKPLAN_TEST_POSTGRES")
					if base == "" {
						b.Skip("TRACKPLAN_TEST_POSTGRES is not set")
					}
					schema := fmt.Sprintf("tp_bench_%d", time.Now().UnixNano())
					dsn, err := postgres.CreateSchema(context.Background(), base, schema)
					if err != nil {
						b.Fatal(err)
					}
					defer postgres.DropSchema(context.Background(), base, schema)
					db = dsn
				}
				for range b.N {
					benchIngestOnce(b, db, check)
				}
			})
		}
	}
}

var stoppedRE = regexp.MustCompile(`msg="collector stopped" requests=(\d+) stored=(\d+).* latency_p50=(\S+) latency_p99=(\S+)`)

func benchIngestOnce(b *testing.B, db string, check bool) {
	bin, err := buildBinary()
	if err != nil {
		b.Fatal(err)
	}
	serve := exec.Command(bin, "--db", db, "serve", "--listen", "127.0.0.1:0",
		"--write-key", "bench="+testKey, fmt.Sprintf("--check=%v", check))
	stderr, _ := serve.StderrPipe()
	if err := serve.Start(); err != nil {
		b.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var addr string
	for addr == "" {
		l, ok := <-lines
		if !ok {
			b.Fatal("serve exited")
		}
		if m := listenRE.FindStringSubmatch(l); m != nil {
			addr = m[1]
		}
	}

	sim := exec.Command(bin, "simulate", "--endpoint", "http://"+addr, "--write-key", testKey,
		"--accounts", "3000", "--users-per-account", "10", "--days", "30", "--seed", "5", "--batch-size", "250")
	start := time.Now()
	out, err := sim.CombinedOutput()
	took := time.Since(start)
	if err != nil {
		serve.Process.Kill()
		b.Fatalf("simulate: %v\n%s", err, out)
	}
	rss := peakRSS(serve.Process.Pid)
	serve.Process.Signal(syscall.SIGTERM)
	var stats []string
	for l := range lines {
		if m := stoppedRE.FindStringSubmatch(l); m != nil {
			stats = m
		}
	}
	serve.Wait()
	if stats == nil {
		b.Fatal("serve did not report its stats")
	}
	stored, _ := strconv.Atoi(stats[2])
	p50, _ := time.ParseDuration(stats[3])
	p99, _ := time.ParseDuration(stats[4])
	b.ReportMetric(float64(stored)/took.Seconds(), "events/s")
	b.ReportMetric(float64(stored), "events")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MB")
}

// peakRSS reads a process's peak resident set size (VmHWM) in bytes.
func peakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkDriftEvents1M measures `trackplan drift --events FILE` on a file
// of about 1,000,000 simulated messages (with drift): MB/s and events/s.
func BenchmarkDriftEvents1M(b *testing.B) {
	plan, err := templates.Plan(defaultTemplate)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	g, err := simulate.New(plan, simulate.Options{Accounts: 15_000, UsersPerAccount: 10, Days: 30, Seed: 8, Drift: true, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "events.ndjson")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	n := 0
	err = g.Generate(func(m *trackplan.Message) error {
		n++
		w.Write(segmentJSON(b, m))
		return w.WriteByte('\n')
	})
	w.Flush()
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(path)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"trackplan", "drift", "--events", path, "--at", now.Format(time.RFC3339),
			"--format", "json", "--fail-on", "never"}, nil, &out, &errOut)
		if code != 0 {
			b.Fatalf("drift: exit %d: %s", code, errOut.String())
		}
		took := time.Since(start).Seconds()
		b.ReportMetric(float64(n)/took, "events/s")
		b.ReportMetric(float64(fi.Size())/(1<<20)/took, "MB/s")
		b.ReportMetric(float64(n), "events")
	}
}
