package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	tpmetrics "github.com/trackplan/trackplan/metrics"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/postgres"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/templates"
)

// The hostile-input corpus: testdata/hostile holds one request per file with
// the answer it must get. The format (see testdata/hostile/README.md):
//
//	# what the case is and why the answer is right
//	POST /v1/batch
//	Content-Encoding: gzip
//	> status 200
//	> stored 1
//	> rejected invalid_utf8=1
//	(blank line)
//	body…
const corpusDir = "testdata/hostile"

const (
	corpusKey    = "corpus-write-key-7Qx"
	corpusSecret = "corpus-hook-secret"
)

// corpusCase is one parsed case file.
type corpusCase struct {
	name    string
	method  string
	path    string
	headers [][2]string
	body    []byte

	status     int
	stored     int64
	duplicates int64
	clamped    int64
	rejected   map[string]int64
	events     []string         // event names that must be observed
	present    []corpusPresence // property paths and how often they are present
	item       string           // template for {{items N}}
	gzip       bool             // compress the body before sending
	bomb       int              // a gzip bomb inflating past this many bytes
	send       string           // "", "partial" or "slow"
	known      string           // a known failure: the case is skipped with this
}

type corpusPresence struct {
	event, path string
	n           int64
}

// TestHostileCorpus runs every case of testdata/hostile against a running
// collector, on SQLite and on PostgreSQL when TRACKPLAN_TEST_POSTGRES is set:
// each is answered as its file documents (status, and what was stored and
// rejected with which reason), no write key is kept anywhere, and afterwards
// the server still stores a normal batch, /readyz answers 200 and the heap
// stayed bounded.
func TestHostileCorpus(t *testing.T) {
	cases := loadCorpus(t)
	if len(cases) < 80 {
		t.Fatalf("the corpus has %d cases; it must keep at least 80", len(cases))
	}
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "corpus.db"), store.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		runCorpus(t, st, cases)
	})
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("TRACKPLAN_TEST_POSTGRES")
		if base == "" {
			t.Skip("TRACKPLAN_TEST_POSTGRES is not set")
		}
		ctx := context.Background()
		schema := fmt.Sprintf("tp_corpus_%d", time.Now().UnixNano())
		dsn, err := postgres.CreateSchema(ctx, base, schema)
		if err != nil {
			t.Fatal(err)
		}
		defer postgres.DropSchema(ctx, base, schema)
		st, err := postgres.Open(ctx, dsn, store.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		runCorpus(t, st, cases)
	})
}

// corpusHeapBound is how far the heap's objects (live and not yet swept)
// may grow over their level before the corpus while the cases run (gzip
// bombs of 50 MB and 1 GB, 600 KB bodies, 2,500 messages in one batch …):
// the collector holds one inflated request (at most 500 KB) and its decoded
// messages at a time. The corpus measures 15–35 MB; garbage not yet
// collected counts, hence the margin.
const corpusHeapBound = 96 << 20

// corpusHeapLeft is how much more live heap than before the corpus may
// remain after it, once collected.
const corpusHeapLeft = 16 << 20

func runCorpus(t *testing.T, st store.Store, cases []*corpusCase) {
	plan, err := templates.Plan("b2b-saas")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := startServer(serverConfig{
		Listen:        "127.0.0.1:0",
		Sources:       []segment.Source{{Name: "web", WriteKey: corpusKey}},
		WebhookSecret: corpusSecret,
		WebhookSource: "webhook",
		Store:         st,
		Plan:          plan,
		Metrics:       tpmetrics.New(nil),
		Ready: func(ctx context.Context) error {
			_, err := st.LogHead(ctx)
			return err
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Shutdown(5 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	base := "http://" + srv.Addr
	client := &http.Client{Timeout: 15 * time.Second}
	ctx := context.Background()

	runtime.GC()
	heapBefore := liveHeap()
	peak := watchHeap()
	start := time.Now()

	before := corpusState(t, srv, st)
	failed := 0
	for _, c := range cases {
		ok := t.Run(c.name, func(t *testing.T) {
			if c.known != "" {
				t.Skip("known failure: " + c.known)
			}
			status, answer := sendCase(t, base, client, c)
			if status != c.status {
				t.Fatalf("%s %s answered %d %q; the case documents %d", c.method, c.path, status, answer, c.status)
			}
			if (status == 400 || status == 401) && !strings.Contains(answer, `"error"`) {
				t.Errorf("error answer without a JSON error: %q", answer)
			}
			after := corpusState(t, srv, st)
			got := corpusDelta(before, after)
			before = after
			want := corpusDeltaOf(c)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stored and rejected (-documented +got):\n%s", diff)
			}
			for _, name := range c.events {
				if !slices.ContainsFunc(after.obs.Events, func(e store.ObservedEvent) bool { return e.Name == name }) {
					t.Errorf("no event named %q was observed", name)
				}
			}
			for _, p := range c.present {
				if n := presence(after.obs, p.event, p.path); n != p.n {
					t.Errorf("%s: %s is present in %d messages; want %d", p.event, p.path, n, p.n)
				}
			}
		})
		if !ok {
			failed++
			// Re-read the state: a failed case may have stopped halfway.
			before = corpusState(t, srv, st)
		}
	}
	took := time.Since(start)
	grew := peak() - heapBefore

	// Healthy afterwards: a normal batch is stored, /readyz answers 200.
	normal := batch(msg("corpus-after-1", ""), msg("corpus-after-2", ""))
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/batch", bytes.NewReader(normal))
	req.SetBasicAuth(corpusKey, "")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("normal batch after the corpus: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("normal batch after the corpus: %d", resp.StatusCode)
	}
	if n, err := st.Stored(ctx, "web", []string{"corpus-after-1", "corpus-after-2"}); err != nil || n != 2 {
		t.Errorf("normal batch after the corpus: %d of 2 stored (%v)", n, err)
	}
	resp, err = client.Get(base + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz after the corpus: %v %v", resp, err)
	}
	resp.Body.Close()

	// No write key anywhere: rejection samples, examples, reservoirs.
	o := corpusState(t, srv, st).obs
	for _, r := range o.Rejections {
		if strings.Contains(r.Sample, corpusKey) {
			t.Errorf("a %s sample keeps the write key: %s", r.Reason, r.Sample)
		}
	}
	for _, e := range o.Events {
		for _, p := range e.Properties {
			for _, x := range p.Examples {
				if strings.Contains(x, corpusKey) {
					t.Errorf("an example of %s %s keeps the write key", e.Name, p.Path)
				}
			}
		}
		raws, err := st.Reservoir(ctx, store.EventKey{Source: e.Source, Type: e.Type, Name: e.Name}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range raws {
			if bytes.Contains(raw, []byte(corpusKey)) {
				t.Errorf("the reservoir of %q keeps the write key: %.200s", e.Name, raw)
			}
		}
	}

	runtime.GC()
	left := liveHeap() - heapBefore
	t.Logf("%d cases (%d failed) in %s; the heap grew at most %d MB during the corpus (bound %d MB), %d MB left after (bound %d MB)",
		len(cases), failed, took.Round(time.Millisecond), grew>>20, corpusHeapBound>>20, left>>20, corpusHeapLeft>>20)
	if grew > corpusHeapBound {
		t.Errorf("the heap grew by %d MB during the corpus; the bound is %d MB", grew>>20, corpusHeapBound>>20)
	}
	if left > corpusHeapLeft {
		t.Errorf("%d MB more live heap after the corpus than before; the bound is %d MB", left>>20, corpusHeapLeft>>20)
	}
}

// liveHeap is the bytes of live and not yet swept heap objects.
func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// watchHeap samples the heap every few milliseconds until the returned
// function is called; it returns the highest sample.
func watchHeap() func() int64 {
	var top atomic.Int64
	top.Store(liveHeap())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if h := liveHeap(); h > top.Load() {
					top.Store(h)
				}
			}
		}
	})
	return func() int64 {
		close(stop)
		wg.Wait()
		return top.Load()
	}
}

// corpusSnapshot is what the store has observed at one point.
type corpusSnapshot struct {
	obs *store.Observed
}

func corpusState(t *testing.T, srv *server, st store.Store) corpusSnapshot {
	t.Helper()
	ctx := context.Background()
	if err := srv.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	o, err := st.Observed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return corpusSnapshot{obs: o}
}

// corpusCounts is what one case changed.
type corpusCounts struct {
	Stored, Duplicates, Clamped int64
	Rejected                    map[string]int64
}

func corpusDelta(a, b corpusSnapshot) corpusCounts {
	d := corpusCounts{
		Stored:     b.obs.Totals.Messages - a.obs.Totals.Messages,
		Duplicates: b.obs.Totals.Duplicates - a.obs.Totals.Duplicates,
		Clamped:    b.obs.Totals.ClampedTimestamps - a.obs.Totals.ClampedTimestamps,
		Rejected:   map[string]int64{},
	}
	ra, rb := rejectionsByReason(a.obs), rejectionsByReason(b.obs)
	for reason, n := range rb {
		if n != ra[reason] {
			d.Rejected[reason] = n - ra[reason]
		}
	}
	return d
}

func corpusDeltaOf(c *corpusCase) corpusCounts {
	d := corpusCounts{Stored: c.stored, Duplicates: c.duplicates, Clamped: c.clamped, Rejected: map[string]int64{}}
	for reason, n := range c.rejected {
		d.Rejected[reason] = n
	}
	return d
}

func presence(o *store.Observed, event, path string) int64 {
	for _, e := range o.Events {
		if e.Name != event {
			continue
		}
		for _, p := range e.Properties {
			if p.Path == path {
				return p.Present
			}
		}
	}
	return 0
}

// sendCase sends a case's request and returns the status (0 when the
// request was cut off on purpose) and the answer's body.
func sendCase(t *testing.T, base string, client *http.Client, c *corpusCase) (int, string) {
	t.Helper()
	body := c.body
	switch {
	case c.bomb > 0:
		body = gzipBomb(c.bomb)
	case c.gzip:
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(body)
		zw.Close()
		body = b.Bytes()
	}
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(corpusKey+":")))
	for _, h := range c.headers {
		sig := hookSignature(body)
		v := strings.ReplaceAll(h[1], "{{sig}}", sig)
		v = strings.ReplaceAll(v, "{{SIG}}", strings.ToUpper(sig))
		v = expandHeader(v)
		if v == "none" {
			header.Del(h[0])
			continue
		}
		header.Set(h[0], v)
	}
	if c.send != "" {
		return sendRaw(t, base, c, header, body)
	}
	req, err := http.NewRequest(c.method, base+c.path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(answer)
}

// sendRaw writes the request on a bare connection: "partial" sends half the
// body it announces and hangs up (nothing may be stored); "slow" sends the
// body in ten pieces over about 200 ms (it must be answered as usual).
func sendRaw(t *testing.T, base string, c *corpusCase, header http.Header, body []byte) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n", c.method, c.path, conn.RemoteAddr(), len(body))
	header.Write(conn)
	io.WriteString(conn, "\r\n")
	switch c.send {
	case "partial":
		conn.Write(body[:len(body)/2])
		time.Sleep(20 * time.Millisecond)
		conn.Close()
		// Give the server the time to see the hang-up before the store is
		// read.
		time.Sleep(100 * time.Millisecond)
		return 0, ""
	case "slow":
		step := (len(body) + 9) / 10
		for i := 0; i < len(body); i += step {
			conn.Write(body[i:min(i+step, len(body))])
			time.Sleep(20 * time.Millisecond)
		}
	default:
		t.Fatalf("unknown send mode %q", c.send)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}

// gzipBomb is a valid batch whose one property value is n zeros (rounded
// up to a MB), gzipped: about a thousandth of n on the wire. It is built of
// gzip members (a reader takes their concatenation as one stream), so a
// large bomb costs one compressed megabyte of zeros.
func gzipBomb(n int) []byte {
	member := func(p []byte) []byte {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(p)
		zw.Close()
		return b.Bytes()
	}
	zeros := member(bytes.Repeat([]byte("0"), 1<<20))
	out := member([]byte(`{"batch":[{"type":"track","userId":"bomb","event":"Bomb","properties":{"x":"`))
	for left := n; left > 0; left -= 1 << 20 {
		out = append(out, zeros...)
	}
	return append(out, member([]byte(`"}}]}`))...)
}

func hookSignature(body []byte) string {
	mac := hmac.New(sha1.New, []byte(corpusSecret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// expandHeader replaces {{key}} and {{basic USER}} in a header value.
func expandHeader(v string) string {
	v = strings.ReplaceAll(v, "{{key}}", corpusKey)
	for {
		i := strings.Index(v, "{{basic ")
		if i < 0 {
			return v
		}
		j := strings.Index(v[i:], "}}")
		if j < 0 {
			return v
		}
		user := v[i+len("{{basic ") : i+j]
		v = v[:i] + "Basic " + base64.StdEncoding.EncodeToString([]byte(user)) + v[i+j+2:]
	}
}

// loadCorpus reads and parses every case file.
func loadCorpus(t *testing.T) []*corpusCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.case"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	var cases []*corpusCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseCase(strings.TrimSuffix(filepath.Base(f), ".case"), b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cases = append(cases, c)
	}
	return cases
}

func parseCase(name string, b []byte) (*corpusCase, error) {
	c := &corpusCase{name: name, status: -1, rejected: map[string]int64{}}
	head, body, _ := bytes.Cut(b, []byte("\n\n"))
	for line := range strings.SplitSeq(string(head), "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, ">"):
			if err := c.directive(strings.TrimSpace(line[1:])); err != nil {
				return nil, fmt.Errorf("%q: %w", line, err)
			}
		case c.method == "":
			method, path, ok := strings.Cut(line, " ")
			if !ok {
				return nil, fmt.Errorf("request line %q: want METHOD PATH", line)
			}
			c.method, c.path = method, path
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("header line %q: want Name: value", line)
			}
			c.headers = append(c.headers, [2]string{k, strings.TrimSpace(v)})
		}
	}
	if c.method == "" || c.status < 0 {
		return nil, fmt.Errorf("a case needs a request line and a > status")
	}
	var err error
	c.body, err = c.expand(bytes.TrimSuffix(body, []byte("\n")))
	return c, err
}

func (c *corpusCase) directive(d string) error {
	word, rest, _ := strings.Cut(d, " ")
	num := func() (int64, error) { return strconv.ParseInt(strings.TrimSpace(rest), 10, 64) }
	var err error
	switch word {
	case "status":
		var n int64
		n, err = num()
		c.status = int(n)
	case "stored":
		c.stored, err = num()
	case "duplicates":
		c.duplicates, err = num()
	case "clamped":
		c.clamped, err = num()
	case "rejected":
		for f := range strings.FieldsSeq(rest) {
			reason, n, ok := strings.Cut(f, "=")
			if !ok {
				return fmt.Errorf("want reason=count")
			}
			c.rejected[reason], err = strconv.ParseInt(n, 10, 64)
			if err != nil {
				return err
			}
		}
	case "event":
		// The name as a JSON string, so control characters can be written.
		var name string
		err = json.Unmarshal([]byte(rest), &name)
		c.events = append(c.events, name)
	case "present":
		// "event" "path" N
		var p corpusPresence
		dec := json.NewDecoder(strings.NewReader(rest))
		if err = dec.Decode(&p.event); err == nil {
			if err = dec.Decode(&p.path); err == nil {
				err = dec.Decode(&p.n)
			}
		}
		c.present = append(c.present, p)
	case "item":
		c.item = rest
	case "gzip":
		c.gzip = true
	case "bomb":
		var n int64
		n, err = num()
		c.bomb = int(n)
	case "send":
		c.send = rest
	case "known-failure":
		c.known = rest
	default:
		return fmt.Errorf("unknown directive %q", word)
	}
	return err
}

// expand replaces the body's macros: {{key}}, {{repeat N TEXT}},
// {{hex HEX}}, {{items N}} (the > item template N times, # replaced by the
// index, comma-separated) and {{date ±DURATION}} (now moved, RFC 3339).
func (c *corpusCase) expand(b []byte) ([]byte, error) {
	var out bytes.Buffer
	for {
		i := bytes.Index(b, []byte("{{"))
		if i < 0 {
			out.Write(b)
			return out.Bytes(), nil
		}
		out.Write(b[:i])
		b = b[i+2:]
		j := bytes.Index(b, []byte("}}"))
		if j < 0 {
			return nil, fmt.Errorf("unclosed {{")
		}
		for j+2 < len(b) && b[j+2] == '}' { // {{repeat 3 }}}: the text is "}"
			j++
		}
		word, arg, _ := strings.Cut(string(b[:j]), " ")
		b = b[j+2:]
		switch word {
		case "key":
			out.WriteString(corpusKey)
		case "repeat":
			n, text, _ := strings.Cut(arg, " ")
			k, err := strconv.Atoi(n)
			if err != nil {
				return nil, fmt.Errorf("repeat: %w", err)
			}
			out.WriteString(strings.Repeat(text, k))
		case "hex":
			h, err := hex.DecodeString(arg)
			if err != nil {
				return nil, fmt.Errorf("hex: %w", err)
			}
			out.Write(h)
		case "items":
			k, err := strconv.Atoi(arg)
			if err != nil || c.item == "" {
				return nil, fmt.Errorf("items needs a count and a > item template")
			}
			for i := range k {
				if i > 0 {
					out.WriteByte(',')
				}
				out.WriteString(strings.ReplaceAll(c.item, "#", strconv.Itoa(i)))
			}
		case "date":
			d, err := time.ParseDuration(arg)
			if err != nil {
				return nil, fmt.Errorf("date: %w", err)
			}
			out.WriteString(time.Now().UTC().Add(d).Format(time.RFC3339))
		default:
			return nil, fmt.Errorf("unknown macro {{%s}}", word)
		}
	}
}
