package main

import (
	"bufio"
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
)

// BenchmarkIngestEndToEnd measures the collector as deployed: `trackplan
// serve` in one process, `trackplan simulate` (analytics-go, batches of 250)
// in another, acknowledgement after commit, with and without the plan check.
// It reports sustained events/s, request latency p50/p99 and the server's
// peak RSS.
func BenchmarkIngestEndToEnd(b *testing.B) {
	for _, check := range []bool{true, false} {
		b.Run(fmt.Sprintf("check=%v", check), func(b *testing.B) {
			for range b.N {
				benchIngestOnce(b, check)
			}
		})
	}
}

var stoppedRE = regexp.MustCompile(`msg="collector stopped" requests=(\d+) stored=(\d+).* latency_p50=(\S+) latency_p99=(\S+)`)

func benchIngestOnce(b *testing.B, check bool) {
	bin, err := buildBinary()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	serve := exec.Command(bin, "--db", filepath.Join(dir, "bench.db"), "serve", "--listen", "127.0.0.1:0",
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
