// Package notiontest is an in-process fake of the Notion API for tests. It
// speaks the two versions trackplan does, chosen per request by the
// Notion-Version header:
//
//   - 2022-06-28: databases create, retrieve, update and query, with one
//     schema per database;
//   - 2025-09-03: databases as containers of data sources (create with
//     initial_data_source, retrieve with data_sources), data sources
//     retrieve, update and query, pages with a data_source_id parent,
//     relations naming a data_source_id.
//
// A database may hold several data sources (AddDataSource, standing in for
// a person adding one in Notion); a 2022-06-28 request that reads, queries
// or writes such a database, creates a page under it or writes a relation
// to it fails the way Notion documents (400 validation_error, "Databases
// with multiple data sources are not supported in this API version."), and
// a data source endpoint called with 2022-06-28 is an invalid_request_url.
//
// Both versions also serve pages create, retrieve and update, page
// property items, and users. Answers have Notion's JSON shapes: the
// 2022-06-28 ones are checked against notionapi's own fixtures and
// decoders, the 2025-09-03 ones against the examples and types of Notion's
// API reference and official SDK (see versions_test.go and
// testdata/notion-2025-09-03). It paginates at most 100 results per page,
// truncates relation values in page objects at 25 with has_more, validates
// writes the way Notion does (unknown columns, empty or comma-containing
// option names, text over 2,000 characters, more than 100 related pages,
// unknown users), and can inject faults: 429 with Retry-After, 5xx,
// latency, hang-ups, per request number. It counts requests by method and
// route. It sends integration webhooks (Subscribe, see webhook.go) for the
// pages it creates, edits and trashes, and can lose some (DropWebhooks).
package notiontest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultToken is the token the server accepts unless Options.Token says
// otherwise.
const DefaultToken = "secret_notiontest_token"

// RootPage is the id of the page databases can be created under.
const RootPage = "00000000-0000-4000-8000-0000000000aa"

// User is a workspace member.
type User struct {
	ID    string
	Name  string
	Email string
}

// Options configures a Server.
type Options struct {
	// Token is the only bearer token accepted (default DefaultToken).
	Token string
	// Users are the workspace's members, for people columns.
	Users []User
	// RelationLimit is how many related pages a page object shows before
	// has_more (default 25, Notion's).
	RelationLimit int
	// Now is the clock for created and edited times (default time.Now).
	Now func() time.Time
	// Latency delays every answer.
	Latency time.Duration
	// Fault, if set, decides a fault for each request.
	Fault FaultFunc
}

// Fault is what the server does to one request instead of, or around,
// answering it.
type Fault struct {
	// Status, when set, answers with that status and a Notion error body
	// without handling the request.
	Status int
	// RetryAfter is sent as the Retry-After header with Status.
	RetryAfter string
	// Delay waits before handling the request.
	Delay time.Duration
	// DelayAfter handles the request, then waits before answering: a write
	// lands even if the client gave up waiting.
	DelayAfter time.Duration
	// Hangup closes the connection without answering, before handling.
	Hangup bool
}

func (f Fault) zero() bool { return f == Fault{} }

// FaultFunc decides the fault for the n-th request received (from 1).
type FaultFunc func(n int, r *http.Request) Fault

// EveryNth applies f to every n-th request.
func EveryNth(n int, f Fault) FaultFunc {
	return func(i int, _ *http.Request) Fault {
		if n > 0 && i%n == 0 {
			return f
		}
		return Fault{}
	}
}

// Chain returns the first non-zero fault of fs.
func Chain(fs ...FaultFunc) FaultFunc {
	return func(i int, r *http.Request) Fault {
		for _, f := range fs {
			if f == nil {
				continue
			}
			if x := f(i, r); !x.zero() {
				return x
			}
		}
		return Fault{}
	}
}

// The versions the server speaks.
const (
	Version20220628 = "2022-06-28"
	Version20250903 = "2025-09-03"
)

// Server is a fake Notion API on an httptest.Server.
type Server struct {
	// URL is the base URL to give the client (no /v1).
	URL string

	srv   *httptest.Server
	mux   *http.ServeMux
	token string
	limit int
	now   func() time.Time
	lat   time.Duration

	mu       sync.Mutex
	seq      int
	nextID   int
	fault    FaultFunc
	dbs      map[string]*database  // data sources by id
	ctrs     map[string]*container // databases by id
	ver      string                // Notion-Version of the request being handled
	hook     *webhook
	person   bool // a helper is running: edits are a person's
	pages    map[string]*page
	order    []*page
	users    []User
	counts   map[string]int
	unshared map[string]bool
}

// New starts a Server and stops it when the test ends.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := NewServer(opts)
	tb.Cleanup(s.Close)
	return s
}

// NewServer starts a Server; Close stops it.
func NewServer(opts Options) *Server {
	s := &Server{
		token:    opts.Token,
		limit:    opts.RelationLimit,
		now:      opts.Now,
		lat:      opts.Latency,
		fault:    opts.Fault,
		users:    slices.Clone(opts.Users),
		dbs:      map[string]*database{},
		ctrs:     map[string]*container{},
		ver:      Version20250903,
		pages:    map[string]*page{},
		counts:   map[string]int{},
		unshared: map[string]bool{},
	}
	if s.token == "" {
		s.token = DefaultToken
	}
	if s.limit <= 0 {
		s.limit = 25
	}
	if s.now == nil {
		s.now = time.Now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/databases", s.wrap(s.createDatabase))
	mux.HandleFunc("GET /v1/databases/{id}", s.wrap(s.getDatabase))
	mux.HandleFunc("PATCH /v1/databases/{id}", s.wrap(s.updateDatabase))
	mux.HandleFunc("POST /v1/databases/{id}/query", s.wrap(s.queryDatabase))
	mux.HandleFunc("GET /v1/data_sources/{id}", s.wrap(s.getDataSource))
	mux.HandleFunc("PATCH /v1/data_sources/{id}", s.wrap(s.updateDataSource))
	mux.HandleFunc("POST /v1/data_sources/{id}/query", s.wrap(s.queryDataSource))
	mux.HandleFunc("POST /v1/pages", s.wrap(s.createPage))
	mux.HandleFunc("GET /v1/pages/{id}", s.wrap(s.getPage))
	mux.HandleFunc("PATCH /v1/pages/{id}", s.wrap(s.updatePage))
	mux.HandleFunc("GET /v1/pages/{id}/properties/{prop}", s.wrap(s.getPropertyItem))
	mux.HandleFunc("GET /v1/users", s.wrap(s.listUsers))
	s.mux = mux
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() {
	s.srv.Close()
	s.mu.Lock()
	h := s.hook
	s.hook = nil
	s.mu.Unlock()
	if h != nil {
		h.stop()
	}
}

// sourcesAPI reports whether the request being handled speaks data
// sources (2025-09-03 or later).
func (s *Server) sourcesAPI() bool { return s.ver >= Version20250903 }

// SetFault replaces the fault function (nil for none).
func (s *Server) SetFault(f FaultFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// Counts returns the requests received so far by "METHOD route", e.g.
// "POST /v1/databases/{id}/query"; faulted requests included.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Total returns the number of requests received.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

// Writes returns the number of requests received that write: page,
// database and data source creates and updates.
func (s *Server) Writes() int {
	c := s.Counts()
	return c["POST /v1/pages"] + c["PATCH /v1/pages/{id}"] + c["POST /v1/databases"] + c["PATCH /v1/databases/{id}"] +
		c["PATCH /v1/data_sources/{id}"]
}

// ResetCounts forgets the counts (not the request numbers faults see).
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
}

// Unshare makes a database (given by its id or one of its data sources')
// answer 404, as when it is not shared with the integration.
func (s *Server) Unshare(dbID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unshared[s.containerID(dbID)] = true
}

// Reshare undoes Unshare.
func (s *Server) Reshare(dbID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.unshared, s.containerID(dbID))
}

// containerID returns the normalised id of the database id names (itself,
// or the database of the data source id).
func (s *Server) containerID(id string) string {
	if db := s.dbs[norm(id)]; db != nil {
		return norm(db.ctr.id)
	}
	return norm(id)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	if pattern == "" {
		pattern = r.Method + " " + r.URL.Path
	}
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.counts[pattern]++
	fault := s.fault
	s.mu.Unlock()

	var f Fault
	if fault != nil {
		f = fault(n, r)
	}
	if d := s.lat + f.Delay; d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if f.Hangup {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
	}
	if f.Status != 0 {
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		code := map[int]string{429: "rate_limited", 500: "internal_server_error", 502: "bad_gateway",
			503: "service_unavailable", 504: "gateway_timeout", 529: "service_overload", 409: "conflict_error"}[f.Status]
		if code == "" {
			code = "internal_server_error"
		}
		writeError(w, f.Status, code, "Injected fault.")
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+s.token {
		writeError(w, http.StatusUnauthorized, "unauthorized", "API token is invalid.")
		return
	}
	if r.Header.Get("Notion-Version") == "" {
		writeError(w, http.StatusBadRequest, "missing_version", "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.")
		return
	}
	if f.DelayAfter > 0 {
		rec := httptest.NewRecorder()
		s.mux.ServeHTTP(rec, r)
		time.Sleep(f.DelayAfter)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	s.mux.ServeHTTP(w, r)
}

// apiError is an error answer.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "validation_error", format, args...)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"object": "error", "status": status, "code": code, "message": msg,
		"request_id": "00000000-0000-4000-8000-000000000000",
	})
}

// wrap turns a handler returning a value or an *apiError into an
// http.HandlerFunc, holding the lock while it runs.
func (s *Server) wrap(h func(r *http.Request, body map[string]any) (any, *apiError)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if r.Method == http.MethodPost || r.Method == http.MethodPatch {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				writeError(w, http.StatusBadRequest, "invalid_json", "Error reading body.")
				return
			}
			if len(b) == 0 {
				body = map[string]any{}
			} else if err := json.Unmarshal(b, &body); err != nil {
				writeError(w, http.StatusBadRequest, "invalid_json", "Error parsing JSON body.")
				return
			}
		}
		s.mu.Lock()
		s.ver = r.Header.Get("Notion-Version")
		out, aerr := h(r, body)
		s.mu.Unlock()
		if aerr != nil {
			writeError(w, aerr.status, aerr.code, aerr.message)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	}
}

func (s *Server) newID(kind int) string {
	s.nextID++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", kind, s.nextID)
}

// norm makes an id comparable: lowercase, no dashes.
func norm(id string) string { return strings.ToLower(strings.ReplaceAll(id, "-", "")) }

// dashed formats a 32-digit id with dashes.
func dashed(id string) string {
	n := norm(id)
	if len(n) != 32 {
		return id
	}
	return n[:8] + "-" + n[8:12] + "-" + n[12:16] + "-" + n[16:20] + "-" + n[20:]
}

func (s *Server) listUsers(r *http.Request, _ map[string]any) (any, *apiError) {
	start, size, aerr := pagination(r, len(s.users))
	if aerr != nil {
		return nil, aerr
	}
	end := min(start+size, len(s.users))
	results := []any{}
	for _, u := range s.users[start:end] {
		results = append(results, renderUser(u))
	}
	return list(results, end, len(s.users)), nil
}

func renderUser(u User) map[string]any {
	return map[string]any{
		"object": "user", "id": u.ID, "name": u.Name, "avatar_url": nil,
		"type": "person", "person": map[string]any{"email": u.Email},
	}
}

// pagination reads start_cursor (an index, as rendered by list) and
// page_size from the query string.
func pagination(r *http.Request, n int) (start, size int, aerr *apiError) {
	size = 100
	if v := r.URL.Query().Get("page_size"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 100 {
			return 0, 0, invalid("body failed validation: body.page_size should be a number between 1 and 100, instead was `%s`.", v)
		}
		size = p
	}
	if v := r.URL.Query().Get("start_cursor"); v != "" {
		i, err := strconv.Atoi(strings.TrimPrefix(v, "cursor-"))
		if err != nil || i < 0 || i > n || !strings.HasPrefix(v, "cursor-") {
			return 0, 0, invalid("start_cursor provided is invalid: %s", v)
		}
		start = i
	}
	return start, size, nil
}

// list renders a list answer of results ending at index end of n.
func list(results []any, end, n int) map[string]any {
	out := map[string]any{"object": "list", "results": results, "next_cursor": nil, "has_more": false,
		"type": "user", "user": map[string]any{}, "request_id": "00000000-0000-4000-8000-000000000000"}
	if end < n {
		out["next_cursor"] = "cursor-" + strconv.Itoa(end)
		out["has_more"] = true
	}
	return out
}
