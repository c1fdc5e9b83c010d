// Package forwardtest is a Segment-compatible destination for the
// forwarding tests: an HTTP server that takes POST /v1/batch as Segment's
// tracking API does (basic auth with the write key as user, a JSON body
// {"batch": [...], "sentAt": ...}), keeps what arrived by messageId, and can
// be made to fail.
package forwardtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
)

// Sink is a fake Segment tracking API.
type Sink struct {
	*httptest.Server
	// WriteKey is the key batches must carry.
	WriteKey string

	down     atomic.Bool
	noParse  atomic.Bool
	requests atomic.Int64

	mu       sync.Mutex
	refuse   func(msg map[string]any) bool
	order    []string                  // messageIds in arrival order, duplicates included
	messages map[string]map[string]any // the first copy of each messageId
	count    map[string]int            // arrivals per messageId
	onBatch  func(msgs []map[string]any)
}

// NewSink starts a sink that takes batches sent with writeKey.
func NewSink(writeKey string) *Sink {
	s := &Sink{WriteKey: writeKey, messages: map[string]map[string]any{}, count: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// SetDown makes the sink answer 503 to everything (an outage) or not.
func (s *Sink) SetDown(down bool) { s.down.Store(down) }

// SetNoParse makes the sink answer 200 without reading the body's JSON:
// the cheapest destination, for benchmarks.
func (s *Sink) SetNoParse(on bool) { s.noParse.Store(on) }

// Refuse makes the sink answer 400 to every batch that holds a message
// refuse selects, and take nothing of it, as Segment does with an invalid
// batch.
func (s *Sink) Refuse(refuse func(msg map[string]any) bool) {
	s.mu.Lock()
	s.refuse = refuse
	s.mu.Unlock()
}

// OnBatch calls fn with every batch the sink takes.
func (s *Sink) OnBatch(fn func(msgs []map[string]any)) {
	s.mu.Lock()
	s.onBatch = fn
	s.mu.Unlock()
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/v1/batch" {
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
		return
	}
	if key, _, ok := r.BasicAuth(); !ok || key != s.WriteKey {
		http.Error(w, `{"error":"bad write key"}`, http.StatusUnauthorized)
		return
	}
	if s.down.Load() {
		http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
		return
	}
	if s.noParse.Load() {
		w.Write([]byte(`{"success":true}`))
		return
	}
	var body struct {
		Batch  []map[string]any `json:"batch"`
		SentAt string           `json:"sentAt"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 500<<10)).Decode(&body); err != nil {
		http.Error(w, `{"error":"bad json"}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range body.Batch {
		if s.refuse != nil && s.refuse(m) {
			http.Error(w, `{"error":"invalid message in batch"}`, http.StatusBadRequest)
			return
		}
		if id, _ := m["messageId"].(string); id == "" {
			http.Error(w, `{"error":"messageId missing"}`, http.StatusBadRequest)
			return
		}
	}
	for _, m := range body.Batch {
		id := m["messageId"].(string)
		s.order = append(s.order, id)
		if s.count[id] == 0 {
			s.messages[id] = m
		}
		s.count[id]++
	}
	if s.onBatch != nil {
		s.onBatch(body.Batch)
	}
	w.Write([]byte(`{"success":true}`))
}

// Requests counts the requests the sink answered.
func (s *Sink) Requests() int64 { return s.requests.Load() }

// Received returns the first copy of each message taken, by messageId.
func (s *Sink) Received() map[string]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[string]any, len(s.messages))
	for k, v := range s.messages {
		out[k] = v
	}
	return out
}

// Order returns the messageIds in the order they arrived, duplicates
// included.
func (s *Sink) Order() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order...)
}

// Duplicates counts arrivals of a messageId after its first.
func (s *Sink) Duplicates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.count {
		n += c - 1
	}
	return n
}
