package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/forward/forwardtest"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/postgres"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/templates"
)

// BenchmarkIngestEndToEnd measures the collector as deployed against a null
// collector, side by side in one run and driven by the same load generator
// (`trackplan simulate`: analytics-go, batches of 250, in its own process):
//
//   - null: the same HTTP handlers and decoding, answering 200 without
//     storing (in the benchmark's process);
//   - serve on SQLite (and PostgreSQL when TRACKPLAN_TEST_POSTGRES is set):
//     acknowledgement after the log append, the aggregator deriving behind.
//
// It reports acknowledged events/s and its ratio to the null collector,
// sustained events/s (until the aggregator has caught up) and its ratio,
// the largest derive lag seen, request latency p50/p99, the server's peak
// RSS and the log's bytes per event. A second run per store sends at a fixed
// 0.35 × the null collector's rate for 60 s and reports the largest derive
// lag seen: the aggregator keeps up when it stays under a few seconds.
func BenchmarkIngestEndToEnd(b *testing.B) {
	bin, err := buildBinary()
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		null := benchNullCollector(b, bin)
		b.ReportMetric(null, "null-events/s")
		for _, kind := range []string{"sqlite", "postgres"} {
			db := filepath.Join(b.TempDir(), "bench.db")
			if kind == "postgres" {
				base := os.Getenv("TRACKPLAN_TEST_POSTGRES")
				if base == "" {
					continue
				}
				schema := fmt.Sprintf("tp_bench_%d", time.Now().UnixNano())
				dsn, err := postgres.CreateSchema(context.Background(), base, schema)
				if err != nil {
					b.Fatal(err)
				}
				defer postgres.DropSchema(context.Background(), base, schema)
				db = dsn
			}
			r := benchServeOnce(b, bin, db, simulateArgs)
			b.ReportMetric(r.acked, kind+"-acked-events/s")
			b.ReportMetric(r.acked/null, kind+"-acked-ratio")
			b.ReportMetric(r.sustained, kind+"-sustained-events/s")
			b.ReportMetric(r.sustained/null, kind+"-sustained-ratio")
			b.ReportMetric(r.maxLag.Seconds(), kind+"-max-lag-s")
			b.ReportMetric(float64(r.p50.Microseconds())/1000, kind+"-p50-ms")
			b.ReportMetric(float64(r.p99.Microseconds())/1000, kind+"-p99-ms")
			b.ReportMetric(float64(r.rss)/(1<<20), kind+"-peak-RSS-MB")
			if r.bytesPerEvent > 0 {
				b.ReportMetric(r.bytesPerEvent, kind+"-log-bytes/event")
			}
			rate := 0.35 * null
			db += "-rate"
			if kind == "postgres" {
				base := os.Getenv("TRACKPLAN_TEST_POSTGRES")
				schema := fmt.Sprintf("tp_bench_rate_%d", time.Now().UnixNano())
				dsn, err := postgres.CreateSchema(context.Background(), base, schema)
				if err != nil {
					b.Fatal(err)
				}
				defer postgres.DropSchema(context.Background(), base, schema)
				db = dsn
			}
			fixed := benchServeOnce(b, bin, db, func(endpoint string) []string {
				return []string{"simulate", "--endpoint", endpoint, "--write-key", testKey, "--rate", fmt.Sprint(int(rate)),
					"--accounts", fmt.Sprint(int(rate * 60 / 68)), "--users-per-account", "10", "--days", "30", "--seed", "6", "--batch-size", "250"}
			})
			b.ReportMetric(fixed.acked, kind+"-at-0.35x-events/s")
			b.ReportMetric(fixed.maxLag.Seconds(), kind+"-at-0.35x-max-lag-s")
		}
	}
}

// simulateArgs is the load of the end-to-end benchmark: about 1.1M
// messages over 30 simulated days.
func simulateArgs(endpoint string) []string {
	return []string{"simulate", "--endpoint", endpoint, "--write-key", testKey,
		"--accounts", "3000", "--users-per-account", "10", "--days", "30", "--seed", "5", "--batch-size", "250"}
}

// discard is an Ingester that acknowledges without storing.
type discard struct{ n atomic.Int64 }

func (d *discard) Submit(_ context.Context, msgs []*trackplan.Message, _ []trackplan.Rejection) error {
	d.n.Add(int64(len(msgs)))
	return nil
}

func benchNullCollector(b *testing.B, bin string) float64 {
	sink := &discard{}
	col := &segment.Collector{Sources: []segment.Source{{Name: "bench", WriteKey: testKey}}, Ingester: sink,
		Logger: slog.New(slog.DiscardHandler)}
	mux := http.NewServeMux()
	col.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	start := time.Now()
	if out, err := exec.Command(bin, simulateArgs(srv.URL)...).CombinedOutput(); err != nil {
		b.Fatalf("simulate: %v\n%s", err, out)
	}
	return float64(sink.n.Load()) / time.Since(start).Seconds()
}

type serveResult struct {
	acked, sustained float64
	maxLag           time.Duration
	p50, p99         time.Duration
	rss              int64
	bytesPerEvent    float64
	// forwardLags are the forwarding lags sampled every 100 ms while
	// the load ran, when a source forwards.
	forwardLags []time.Duration
}

var (
	stoppedRE = regexp.MustCompile(`msg="collector stopped" requests=(\d+) stored=(\d+).* latency_p50=(\S+) latency_p99=(\S+)`)
	// lagRE reads the derive lag and each source's forwarding lag.
	lagRE = regexp.MustCompile(`(?m)^trackplan_(derive|forward)_lag_(records|seconds)(?:\{[^}]*\})? (\S+)$`)
)

func benchServeOnce(b *testing.B, bin, db string, load func(endpoint string) []string) serveResult {
	return benchServe(b, bin, db, []string{"--db", db, "serve", "--listen", "127.0.0.1:0", "--write-key", "bench=" + testKey}, load)
}

// benchServe runs serve with args under the load until everything sent
// is derived (and forwarded, when a source forwards), and measures it.
func benchServe(b *testing.B, bin, db string, args []string, load func(endpoint string) []string) serveResult {
	serve := exec.Command(bin, args...)
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

	// Sample the lags every 100 ms while the load runs: records behind
	// (derived and forwarded), the derive lag's age, the forwarding lag's.
	var maxLag time.Duration
	var forwardLags []time.Duration
	lag := func() (recs int64, age, fwd time.Duration) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return -1, 0, 0
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		recs = -1
		for _, m := range lagRE.FindAllStringSubmatch(string(body), -1) {
			v, _ := strconv.ParseFloat(m[3], 64)
			switch {
			case m[2] == "records":
				recs = max(recs, 0) + int64(v)
			case m[1] == "derive":
				age = time.Duration(v * float64(time.Second))
			default:
				fwd = max(fwd, time.Duration(v*float64(time.Second)))
			}
		}
		return recs, age, fwd
	}
	forwards := slices.Contains(args, "--config")
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(100 * time.Millisecond):
				_, age, fwd := lag()
				maxLag = max(maxLag, age)
				if forwards {
					forwardLags = append(forwardLags, fwd)
				}
			}
		}
	}()

	start := time.Now()
	out, err := exec.Command(bin, load("http://"+addr)...).CombinedOutput()
	acked := time.Since(start)
	if err != nil {
		serve.Process.Kill()
		b.Fatalf("simulate: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if recs, _, _ := lag(); recs == 0 {
			break
		}
	}
	sustained := time.Since(start)
	close(stopSampling)
	<-sampled
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
	r := serveResult{acked: float64(stored) / acked.Seconds(), sustained: float64(stored) / sustained.Seconds(),
		maxLag: maxLag, rss: rss, forwardLags: forwardLags}
	r.p50, _ = time.ParseDuration(stats[3])
	r.p99, _ = time.ParseDuration(stats[4])
	if !strings.HasPrefix(db, "postgres") {
		st, err := sqlite.Open(context.Background(), db, store.DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		ls, err := st.LogStats(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		r.bytesPerEvent = float64(ls.Bytes) / float64(max(ls.Records, 1))
	}
	return r
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

		// The bound: parsing the file alone, on every core, as drift does.
		start = time.Now()
		fh, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		reader := &segment.NDJSON{Source: "events", Workers: runtime.GOMAXPROCS(0)}
		if _, err := reader.Read(fh, func([]*trackplan.Message, []trackplan.Rejection) error { return nil }); err != nil {
			b.Fatal(err)
		}
		fh.Close()
		decode := time.Since(start).Seconds()
		b.ReportMetric(float64(fi.Size())/(1<<20)/decode, "decode-MB/s")
		b.ReportMetric(decode/took, "decode/drift")
	}
}

// BenchmarkIngestForwarding measures ingest with a source forwarding to a
// local Segment-compatible sink that answers without parsing, against
// ingest alone in the same run: the rate at which everything sent is
// stored, derived and (with forwarding) forwarded, and their ratio. Then,
// at half the forwarding rate, the forwarding lag's p99 (sampled every 100
// ms from /metrics: the age of the oldest record not yet forwarded).
func BenchmarkIngestForwarding(b *testing.B) {
	bin, err := buildBinary()
	if err != nil {
		b.Fatal(err)
	}
	load := func(rate float64) func(string) []string {
		return func(endpoint string) []string {
			return []string{"simulate", "--endpoint", endpoint, "--write-key", testKey, "--rate", fmt.Sprint(int(rate)),
				"--accounts", "600", "--users-per-account", "10", "--days", "30", "--seed", "7", "--batch-size", "250"}
		}
	}
	for range b.N {
		sink := forwardtest.NewSink("seg-key")
		sink.SetNoParse(true)
		dir := b.TempDir()
		cfg := filepath.Join(dir, "trackplan.yaml")
		if err := os.WriteFile(cfg, fmt.Appendf(nil, "sources:\n  - name: bench\n    write_key: %s\n    forward:\n      endpoint: %s\n      write_key: seg-key\n",
			testKey, sink.URL), 0o600); err != nil {
			b.Fatal(err)
		}
		forwarding := func(name string, rate float64) serveResult {
			db := filepath.Join(dir, name)
			return benchServe(b, bin, db, []string{"--db", db, "--config", cfg, "serve", "--listen", "127.0.0.1:0"}, load(rate))
		}
		// Alternated, best of three each: a busy machine slows a run, it
		// never speeds one up.
		var alone, with float64
		for round := range 3 {
			alone = max(alone, benchServeOnce(b, bin, filepath.Join(dir, fmt.Sprintf("alone%d.db", round)), load(0)).sustained)
			with = max(with, forwarding(fmt.Sprintf("with%d.db", round), 0).sustained)
		}
		b.ReportMetric(alone, "ingest-events/s")
		b.ReportMetric(with, "ingest+forward-events/s")
		b.ReportMetric(with/alone, "forward-ratio")
		half := forwarding("half.db", with/2)
		lags := half.forwardLags
		slices.Sort(lags)
		if len(lags) > 0 {
			b.ReportMetric(lags[len(lags)*99/100].Seconds()*1000, "half-rate-forward-lag-p99-ms")
			b.ReportMetric(lags[len(lags)/2].Seconds()*1000, "half-rate-forward-lag-p50-ms")
		}
		b.ReportMetric(float64(sink.Requests()), "sink-requests")
		sink.Close()
	}
}
