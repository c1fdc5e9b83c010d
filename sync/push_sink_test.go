package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
)

const sinkWriteKey = "wk_push_test"

// sinkItem is one message of a /v1/batch body as Segment reads it.
type sinkItem struct {
	Type        string         `json:"type"`
	MessageID   string         `json:"messageId"`
	UserID      string         `json:"userId"`
	AnonymousID string         `json:"anonymousId"`
	GroupID     string         `json:"groupId"`
	Timestamp   string         `json:"timestamp"`
	Traits      map[string]any `json:"traits"`
}

// entity is the ledger key of a pushed message.
func (it sinkItem) entity() store.LedgerKey {
	if it.Type == "group" {
		return store.LedgerKey{Kind: store.EntityAccount, ID: it.GroupID}
	}
	return store.LedgerKey{Kind: store.EntityUser, ID: it.UserID}
}

// sinkAnswer is how the sink answers one request.
type sinkAnswer struct {
	status     int    // 0 means 200
	retryAfter string // Retry-After header, if any
	hang       bool   // never answer: the client times out
}

// sink is an httptest stand-in for Segment's /v1/batch endpoint. It
// answers as Segment does (200 {"success":true}, 400 for bad JSON, 401
// for a wrong write key, or what answer says) and records what it got.
type sink struct {
	t   *testing.T
	srv *httptest.Server

	mu        gosync.Mutex
	answer    func(n int, items []sinkItem) sinkAnswer // n counts requests from 1
	requests  int
	times     []time.Time
	attempted []sinkItem // every item of every request
	accepted  []sinkItem // items of the requests answered 200
	refused   []sinkItem // items of the requests answered 4xx
	messages  atomic.Int64
}

func newSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{t: t}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) setAnswer(f func(n int, items []sinkItem) sinkAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = f
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/batch" {
		http.Error(w, `{"success":false,"error":"not found"}`, http.StatusNotFound)
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != sinkWriteKey || pass != "" {
		http.Error(w, `{"success":false,"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 500<<10))
	if err != nil {
		http.Error(w, `{"success":false,"error":"request too large"}`, http.StatusBadRequest)
		return
	}
	var b struct {
		MessageID string     `json:"messageId"`
		SentAt    string     `json:"sentAt"`
		Batch     []sinkItem `json:"batch"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.SentAt == "" {
		s.t.Errorf("sink: bad batch body: %v", err)
		http.Error(w, `{"success":false,"error":"invalid json"}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests++
	n := s.requests
	s.times = append(s.times, time.Now())
	s.attempted = append(s.attempted, b.Batch...)
	var a sinkAnswer
	if s.answer != nil {
		a = s.answer(n, b.Batch)
	}
	switch {
	case a.hang:
	case a.status == 0 || a.status == http.StatusOK:
		s.accepted = append(s.accepted, b.Batch...)
	case a.status < 500 && a.status != http.StatusTooManyRequests:
		s.refused = append(s.refused, b.Batch...)
	}
	s.mu.Unlock()
	s.messages.Add(int64(len(b.Batch)))

	w.Header().Set("Content-Type", "application/json")
	switch {
	case a.hang:
		<-r.Context().Done()
	case a.status == 0 || a.status == http.StatusOK:
		io.WriteString(w, `{"success":true}`)
	default:
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.status)
		fmt.Fprintf(w, `{"success":false,"error":%q}`, http.StatusText(a.status))
	}
}

// snapshot returns copies of what the sink recorded.
func (s *sink) snapshot() (requests int, attempted, accepted, refused []sinkItem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, slices.Clone(s.attempted), slices.Clone(s.accepted), slices.Clone(s.refused)
}

// reset forgets what was recorded.
func (s *sink) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.times, s.attempted, s.accepted, s.refused = 0, nil, nil, nil, nil
}

// clientConfig points a push at the sink, with fast retries.
func (s *sink) clientConfig() segment.ClientConfig {
	return segment.ClientConfig{
		Endpoint:   s.srv.URL,
		WriteKey:   sinkWriteKey,
		BatchSize:  10,
		Interval:   5 * time.Millisecond,
		RetryAfter: func(int) time.Duration { return time.Millisecond },
		Timeout:    500 * time.Millisecond,
	}
}

// clock is a settable clock, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}

func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

func openStore(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "trackplan.db"), store.DefaultLimits())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func saveRun(tb testing.TB, db *sqlite.DB, run *trackplan.ScoreRun) {
	tb.Helper()
	if err := db.SaveScores(context.Background(), run); err != nil {
		tb.Fatal(err)
	}
}

func ledgerOf(t *testing.T, db *sqlite.DB, profile string) map[store.LedgerKey]store.LedgerEntry {
	t.Helper()
	out := map[store.LedgerKey]store.LedgerEntry{}
	if err := db.LedgerLoad(context.Background(), profile, func(e store.LedgerEntry) error {
		out[e.LedgerKey] = e
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func failuresOf(t *testing.T, db *sqlite.DB, profile string) map[store.LedgerKey]store.LedgerFailure {
	t.Helper()
	out := map[store.LedgerKey]store.LedgerFailure{}
	if err := db.LedgerFailures(context.Background(), profile, func(f store.LedgerFailure) error {
		out[f.LedgerKey] = f
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// fixtureLastActive is the last-active time in every fixture.
var fixtureLastActive = time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)

// fixture is a snapshot of n accounts with two users each (and one user
// in two accounts), values varying with the index.
func fixture(profile string, at time.Time, n int) *trackplan.ScoreRun {
	run := &trackplan.ScoreRun{Profile: profile, At: at, WindowDays: 7, P90: 40}
	last := fixtureLastActive
	for i := range n {
		id := fmt.Sprintf("acct-%03d", i)
		a := trackplan.AccountScore{ID: id, Name: "Account " + strconv.Itoa(i), AverageScore: float64(10+i*7%90) + 0.5,
			TotalScore: int64(20 + i), ActiveUsers: 1, TotalUsers: 2, ActivePct: 50, Frequency: 1 + i%7,
			Adoption: trackplan.Adoption{Window: 33.3, AllTime: 50}, Trend: trackplan.TrendOf(float64(i%5) - 2)}
		a.Band = trackplan.BandOf(a.AverageScore, true)
		if i%4 == 3 {
			a.AverageScore, a.ActiveUsers, a.ActivePct, a.Band = 0, 0, 0, trackplan.BandInactive
		} else {
			a.LastActive, a.LastActiveUser = &last, fmt.Sprintf("user-%03d-b", i)
		}
		if i%2 == 0 {
			act := 66.7
			a.Activation = &act
		}
		run.Accounts = append(run.Accounts, a)
		for _, suffix := range []string{"a", "b"} {
			u := trackplan.UserScore{ID: fmt.Sprintf("user-%03d-%s", i, suffix), Accounts: []string{id}}
			if suffix == "b" && i%4 != 3 {
				u.Raw, u.Score, u.Active, u.Frequency, u.LastActive = int64(5+i), 20+i%80, true, 1+i%7, &last
				u.Adoption = trackplan.Adoption{Window: 20, AllTime: 40}
			}
			u.Band = trackplan.BandOf(float64(u.Score), u.Active)
			run.Users = append(run.Users, u)
		}
	}
	return run
}

// keysOf returns the entity keys of items.
func keysOf(items []sinkItem) map[store.LedgerKey]int {
	out := map[store.LedgerKey]int{}
	for _, it := range items {
		out[it.entity()]++
	}
	return out
}

// idsOf counts items by messageId.
func idsOf(items []sinkItem) map[string]int {
	out := map[string]int{}
	for _, it := range items {
		out[it.MessageID]++
	}
	return out
}

// allKeys returns the ledger keys of a snapshot.
func allKeys(run *trackplan.ScoreRun) map[store.LedgerKey]int {
	out := map[store.LedgerKey]int{}
	for _, a := range run.Accounts {
		out[store.LedgerKey{Kind: store.EntityAccount, ID: a.ID}] = 1
	}
	for _, u := range run.Users {
		out[store.LedgerKey{Kind: store.EntityUser, ID: u.ID}] = 1
	}
	return out
}
