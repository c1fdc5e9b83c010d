package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trackplan/trackplan/forward"
	"github.com/trackplan/trackplan/forward/forwardtest"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/templates"
)

// forwardConfig writes a config whose source web forwards to endpoint.
func forwardConfig(t *testing.T, dir, endpoint, extra string) string {
	t.Helper()
	path := filepath.Join(dir, "trackplan.yaml")
	cfg := fmt.Sprintf(`sources:
  - name: web
    write_key: %s
    forward:
      endpoint: %s
      write_key: seg-key
%s`, testKey, endpoint, extra)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestForwardTwoHops sends through trackplan to a Segment-compatible sink:
// while the sink is down, across two SIGKILLs of trackplan (one while the
// sink is down, one while batches are on their way to it), every
// acknowledged message arrives, each messageId once in the sink's store,
// in log order at first arrival, and nothing that was not sent; duplicates
// (a batch resent after a kill) carry the original messageId.
func TestForwardTwoHops(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	sink := forwardtest.NewSink("seg-key")
	defer sink.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "fw.db")
	cfg := forwardConfig(t, dir, sink.URL, "")
	serve := func() *process {
		return startServe(t, "--db", db, "--config", cfg, "serve", "--listen", "127.0.0.1:0")
	}
	var acked []string
	sent := map[string]bool{}
	load := func(p *process, prefix string, d time.Duration, kill bool) {
		stop := make(chan struct{})
		l := sendLoad(prefix, []string{"http://" + p.addr}, 2, stop)
		time.Sleep(d)
		if kill {
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			p.cmd.Wait()
		}
		close(stop)
		l.wait()
		acked = append(acked, l.acked...)
		for _, ids := range l.sent {
			for _, id := range ids {
				sent[id] = true
			}
		}
	}

	// First a real SDK: analytics-go through trackplan to the sink, each
	// message once, with the messageId the SDK gave it.
	p := serve()
	plan, err := templates.Plan(defaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	sdk, err := runSimulation(t.Context(), simulation{Plan: plan, Endpoint: "http://" + p.addr, WriteKey: testKey,
		Options: simulate.Options{Accounts: 3, UsersPerAccount: 2, Days: 2, Seed: 4, Now: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		Client:  clientLog{logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	if sdk.Stats.Failed != 0 || sdk.Summary.Messages == 0 {
		t.Fatalf("analytics-go: %+v", sdk.Stats)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(sink.Received()) < sdk.Summary.Messages {
		if time.Now().After(deadline) {
			t.Fatalf("the sink got %d of the SDK's %d messages", len(sink.Received()), sdk.Summary.Messages)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// analytics-go sets no context.ip nor userAgent: they come from its
	// request; its library is in its batches' context.
	for id, m := range sink.Received() {
		ctx, _ := m["context"].(map[string]any)
		lib, _ := ctx["library"].(map[string]any)
		if ua, _ := ctx["userAgent"].(string); !strings.HasPrefix(ua, "analytics-go") || ctx["ip"] != "127.0.0.1" ||
			lib["name"] != "analytics-go" || m["messageId"] != id {
			t.Fatalf("an SDK message arrived as %v", m)
		}
		sent[id] = true
	}

	// Up, then down across a kill: the log keeps what the sink missed.
	load(p, "up", 300*time.Millisecond, false)
	sink.SetDown(true)
	load(p, "down", 500*time.Millisecond, true)
	p = serve()
	load(p, "still-down", 300*time.Millisecond, false)
	// Back up, slowly: the next kill lands while batches are in flight.
	sink.OnBatch(func([]map[string]any) { time.Sleep(20 * time.Millisecond) })
	sink.SetDown(false)
	load(p, "flight", 400*time.Millisecond, true)
	sink.OnBatch(nil)
	p = serve()
	defer func() { p.cmd.Process.Signal(syscall.SIGTERM); p.cmd.Wait() }()
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	deadline = time.Now().Add(60 * time.Second)
	for {
		got := sink.Received()
		missing := 0
		for _, id := range acked {
			if got[id] == nil {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged messages never reached the sink", missing, len(acked))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Nothing but what was sent; first arrivals in log order.
	order := sink.Order()
	var first []string
	seen := map[string]bool{}
	for _, id := range order {
		if !sent[id] {
			t.Fatalf("the sink got %s, which no client sent", id)
		}
		if !seen[id] {
			seen[id] = true
			first = append(first, id)
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	st, err := sqlite.Open(context.Background(), db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	var logged []string
	err = st.ReadLog(context.Background(), 0, 1<<62, func(b store.LogBlock) error {
		recs, err := store.DecodeBlock(b)
		for _, r := range recs {
			if r.Message != nil {
				logged = append(logged, r.Message.MessageID)
			}
		}
		return err
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Messages logged before the first start were not forwarded (a new
	// source starts at the head): there are none here, so the first
	// arrivals are the log, in its order.
	if !slices.Equal(first, logged) {
		t.Errorf("first arrivals differ from the log's order: %d arrived, %d logged", len(first), len(logged))
	}
	t.Logf("%d acknowledged, %d logged, %d arrivals (%d duplicates after the kills, each with its original messageId)",
		len(acked), len(logged), len(order), sink.Duplicates())

	// forward status: caught up, everything counted.
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"trackplan", "--db", db, "--config", cfg, "forward", "status", "--format", "json"},
		nil, &stdout, &stderr); code != 0 {
		t.Fatalf("forward status: exit %d: %s", code, stderr.String())
	}
	var ss []forward.Status
	if err := json.Unmarshal(stdout.Bytes(), &ss); err != nil {
		t.Fatalf("forward status JSON: %v\n%s", err, stdout.String())
	}
	if len(ss) != 1 || ss[0].Source != "web" || ss[0].Behind != 0 || ss[0].Forwarded != int64(len(logged)) {
		t.Errorf("forward status = %+v; want web caught up with exactly %d forwarded", ss, len(logged))
	}
	if strings.Contains(stdout.String()+stderr.String(), "seg-key") {
		t.Error("forward status printed the forward write key")
	}
}

// TestForwardEnforcementAndReplay: a source that blocks unplanned events
// forwards the planned ones only; the blocked one is listed by forward
// status, and once the plan names it, forward --replay sends it.
func TestForwardEnforcementAndReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	sink := forwardtest.NewSink("seg-key")
	defer sink.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "enf.db")
	planPath := filepath.Join(dir, "plan.yaml")
	writePlan := func(events ...string) {
		var b strings.Builder
		b.WriteString("version: 1\nevents:\n")
		for _, e := range events {
			fmt.Fprintf(&b, "  - name: %s\n    status: live\n", e)
		}
		if err := os.WriteFile(planPath, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writePlan("Signed In")
	cfg := forwardConfig(t, dir, sink.URL, "      policy: [block_unplanned]\nplan: "+planPath+"\n")
	p := startServe(t, "--db", db, "--config", cfg, "serve", "--listen", "127.0.0.1:0")
	body := batch(msg("planned", ""), strings.Replace(msg("unplanned", ""), "Signed In", "Trial Started", 1))
	if err := postBatch(&http.Client{Timeout: 5 * time.Second}, "http://"+p.addr, body); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append([]string{"trackplan", "--db", db, "--config", cfg}, args...),
			nil, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		return stdout.String()
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(cli("forward", "status"), "blocked_unplanned=1") {
		if time.Now().After(deadline) {
			t.Fatalf("the unplanned event was not held:\n%s", cli("forward", "status"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	if got := sink.Order(); !slices.Equal(got, []string{"planned"}) {
		t.Fatalf("forwarded %v; want only the planned event", got)
	}
	var rep struct {
		Findings []struct {
			Code, Source, Path string
			Count              int64
		}
	}
	// drift exits 1 with error findings; its JSON is what counts here.
	var stdout, stderr bytes.Buffer
	run(context.Background(), []string{"trackplan", "--db", db, "--config", cfg, "drift", "--format", "json"}, nil, &stdout, &stderr)
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("drift JSON: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	found := false
	for _, f := range rep.Findings {
		if f.Code == "FORWARD_HELD" {
			found = f.Source == "web" && f.Path == "blocked_unplanned" && f.Count == 1
		}
	}
	if !found {
		t.Errorf("drift does not report the held message: %+v", rep.Findings)
	}
	if out := cli("forward", "--replay", "--since", "1h"); !strings.Contains(out, "web: 0 sent, 1 still held") {
		t.Errorf("replay before the plan edit: %q", out)
	}
	writePlan("Signed In", "Trial Started")
	if out := cli("forward", "--replay", "--since", "1h"); !strings.Contains(out, "web: 1 sent, 0 still held") {
		t.Errorf("replay after the plan edit: %q", out)
	}
	if got := sink.Order(); !slices.Equal(got, []string{"planned", "unplanned"}) {
		t.Errorf("forwarded %v after the replay", got)
	}
	if out := cli("forward", "status"); strings.Contains(out, "blocked_unplanned") {
		t.Errorf("forward status still holds a message after the replay:\n%s", out)
	}
}

// TestForgetDropsUnforwarded: forget erases a person's messages that are
// still waiting to be forwarded, so they never reach the destination.
func TestForgetDropsUnforwarded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	sink := forwardtest.NewSink("seg-key")
	defer sink.Close()
	sink.SetDown(true)
	dir := t.TempDir()
	db := filepath.Join(dir, "forget.db")
	cfg := forwardConfig(t, dir, sink.URL, "")
	serve := func() *process {
		return startServe(t, "--db", db, "--config", cfg, "serve", "--listen", "127.0.0.1:0")
	}
	p := serve()
	if err := postBatch(&http.Client{Timeout: 5 * time.Second}, "http://"+p.addr,
		batch(msg("keep1", ""), msg("gone1", ""), msg("keep2", ""))); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"trackplan", "--db", db, "--config", cfg, "forget", "--user", "u-gone1"},
		nil, &stdout, &stderr); code != 0 {
		t.Fatalf("forget: exit %d: %s", code, stderr.String())
	}
	sink.SetDown(false)
	p = serve()
	defer func() { p.cmd.Process.Signal(syscall.SIGTERM); p.cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for len(sink.Received()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the sink got %v; want keep1 and keep2", sink.Order())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if got := sink.Order(); !slices.Equal(got, []string{"keep1", "keep2"}) {
		t.Errorf("forwarded %v after forget; want keep1 and keep2 only", got)
	}
}

// TestForwardRetire: only an operator drops the cursor of a source that no
// longer forwards, and never that of a source that does.
func TestForwardRetire(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "retire.db")
	cfg := forwardConfig(t, dir, "https://api.segment.io", "")
	st, err := sqlite.Open(context.Background(), db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"web", "old"} {
		if _, err := st.ForwardStart(context.Background(), s, 0); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	cli := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"trackplan", "--db", db, "--config", cfg}, args...), nil, &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	for _, bad := range [][]string{{"forward", "retire"}, {"forward", "retire", "web"}, {"forward", "retire", "nope"}} {
		if code, out := cli(bad...); code != 2 {
			t.Errorf("%v: exit %d (%s); want 2", bad, code, out)
		}
	}
	if code, out := cli("forward", "retire", "old"); code != 0 || !strings.Contains(out, "dropped the forwarding state of old") {
		t.Fatalf("forward retire old: exit %d: %s", code, out)
	}
	_, out := cli("forward", "status", "--format", "json")
	var ss []forward.Status
	if err := json.Unmarshal([]byte(out), &ss); err != nil || len(ss) != 1 || ss[0].Source != "web" {
		t.Errorf("after retiring old: %s", out)
	}
}
