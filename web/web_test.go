package web

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// get serves one request and returns the response and its body.
func get(t testing.TB, h http.Handler, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func TestPagesGolden(t *testing.T) {
	h := newTestHandler(t, fixture())
	tests := []struct {
		name   string
		target string
		status int
	}{
		{"overview", "/", http.StatusOK},
		{"overview-trial", "/?profile=trial", http.StatusOK},
		{"accounts", "/accounts", http.StatusOK},
		{"accounts-engaged", "/accounts?band=engaged", http.StatusOK},
		{"accounts-by-name", "/accounts?sort=name&dir=asc", http.StatusOK},
		{"accounts-trial", "/accounts?profile=trial", http.StatusOK},
		{"account", "/accounts/acme", http.StatusOK},
		{"account-slash-id", "/accounts/a%2Fb", http.StatusOK},
		{"account-trial", "/accounts/acme?profile=trial", http.StatusOK},
		{"user", "/users/u-alice", http.StatusOK},
		{"user-trial", "/users/u-carol?profile=trial", http.StatusOK},
		{"events", "/events", http.StatusOK},
		{"events-unplanned", "/events?status=unplanned", http.StatusOK},
		{"not-found", "/accounts/nope", http.StatusNotFound},
		{"bad-request", "/accounts?band=nope", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := get(t, h, tt.target)
			if res.StatusCode != tt.status {
				t.Errorf("GET %s: status %d, want %d", tt.target, res.StatusCode, tt.status)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			// html/template writes ZgotmplZ where it refused a value.
			if strings.Contains(body, "ZgotmplZ") {
				t.Error("a value was refused by html/template (ZgotmplZ)")
			}
			for _, p := range checkInert(body) {
				t.Error(p)
			}
			golden(t, filepath.Join("testdata", tt.name+".html"), body)
		})
	}
}

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, diff)
	}
}

func TestStatusCodes(t *testing.T) {
	h := newTestHandler(t, fixture())
	tests := []struct {
		target string
		want   int
	}{
		{"/", 200},
		{"/accounts?page=1", 200},
		{"/accounts?page=2", 404},
		{"/accounts?page=0", 400},
		{"/accounts?page=x", 400},
		{"/accounts?sort=bogus", 400},
		{"/accounts?dir=up", 400},
		{"/accounts?sort=last_active&dir=desc", 200},
		{"/accounts/unknown", 404},
		{"/accounts/acme?profile=nope", 404},
		{"/users/u-alice", 200},
		{"/users/anon-1", 302},
		{"/users/nobody", 404},
		{"/users/", 404},
		{"/events?status=nope", 400},
		{"/events?status=violations", 200},
		{"/nowhere", 404},
		{"/static/app.css", 200},
		{"/static/app.js", 200},
		{"/static/favicon.svg", 200},
		{"/static/missing.css", 404},
	}
	for _, tt := range tests {
		res, _ := get(t, h, tt.target)
		if res.StatusCode != tt.want {
			t.Errorf("GET %s: status %d, want %d", tt.target, res.StatusCode, tt.want)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tt.target, csp)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/accounts", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /accounts: status %d, want 405", rec.Code)
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{fmt.Errorf("account x: %w", trackplan.ErrNotFound), 404},
		{badRequestf("bad"), 400},
		{fmt.Errorf("wrapped: %w", badRequestf("bad")), 400},
		{trackplan.ErrOverloaded, 503},
		{fmt.Errorf("query: %w", errors.New("disk on fire")), 500},
	}
	for _, tt := range tests {
		if got := statusOf(tt.err); got != tt.want {
			t.Errorf("statusOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestInternalErrorHidesDetail(t *testing.T) {
	f := fixture()
	f.err = errors.New("secret database detail")
	var logs strings.Builder
	h, err := New(Options{Data: f, Logger: newTestLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	res, body := get(t, h, "/")
	if res.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", res.StatusCode)
	}
	if strings.Contains(body, "secret database detail") {
		t.Error("the error page shows the internal error")
	}
	if !strings.Contains(logs.String(), "secret database detail") {
		t.Errorf("the internal error was not logged: %q", logs.String())
	}
}

func TestPagination(t *testing.T) {
	h := newTestHandler(t, bigFixture(120))
	tests := []struct {
		target string
		rows   int
		first  string
	}{
		{"/accounts", 50, `<td class="num muted">1</td>`},
		{"/accounts?page=2", 50, `<td class="num muted">51</td>`},
		{"/accounts?page=3", 20, `<td class="num muted">101</td>`},
	}
	for _, tt := range tests {
		res, body := get(t, h, tt.target)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", tt.target, res.StatusCode)
		}
		if got := strings.Count(body, `<td class="num muted">`); got != tt.rows {
			t.Errorf("GET %s: %d rows, want %d", tt.target, got, tt.rows)
		}
		if !strings.Contains(body, tt.first) {
			t.Errorf("GET %s: no %s", tt.target, tt.first)
		}
	}
	if res, _ := get(t, h, "/accounts?page=4"); res.StatusCode != http.StatusNotFound {
		t.Errorf("page past the end: status %d, want 404", res.StatusCode)
	}
}

func TestAccountsSortedByScore(t *testing.T) {
	h := newTestHandler(t, fixture())
	_, body := get(t, h, "/accounts")
	last := -1
	for _, name := range []string{"Acme Corp", "Stark &amp; Sons", "Globex", "Soylent", "Initech", "wayne", "Umbrella", "Hooli"} {
		i := strings.Index(body, ">"+name+"</a>")
		if i < last {
			t.Fatalf("%s is not ranked after the account before it", name)
		}
		last = i
	}
}

func TestClassify(t *testing.T) {
	f := fixture()
	hl := classify(f.plan, f.observed, f.findings, fixedNow, fixedNow.AddDate(0, 0, -7), false)
	got := map[string]string{}
	for _, r := range hl.rows {
		got[r.Type+" "+r.Name] = r.Status.Label()
	}
	want := map[string]string{
		"identify identify":           "Violations", // UNPLANNED_PROPERTY warning
		"group group":                 "Live",       // TYPE_INCONSISTENT is info only
		"track Signed Up":             "Violations",
		"track Report Exported":       "Live",
		"track Dashboard Viewed":      "Live",
		"track Feature Used":          "Violations",
		"track Invite Sent":           "Not seen",
		"track Integration Connected": "Not seen", // last seen 12 days ago
		"track Trial Started":         "Not seen",
		"track Legacy Export":         "Deprecated but seen",
		"page Page Viewed":            "Live",
		"track Button Clicked":        "Unplanned",
		"track Checkout Started":      "Unplanned",
		"track report_exported":       "Unplanned",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	var counts []int
	for _, n := range hl.byStatus {
		counts = append(counts, n)
	}
	if diff := cmp.Diff([]int{4, 3, 1, 3, 3}, counts); diff != "" {
		t.Errorf("counts by status (-want +got):\n%s", diff)
	}
}

func TestScoreCache(t *testing.T) {
	f := fixture()
	now := fixedNow
	h, err := New(Options{Data: f, Now: func() time.Time { return now }, ScoreCacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	get(t, h, "/accounts")
	get(t, h, "/")
	if n := f.latestCalls.Load(); n != 1 {
		t.Errorf("%d LatestScores calls within the TTL, want 1", n)
	}
	now = now.Add(2 * time.Minute)
	get(t, h, "/accounts")
	if n := f.latestCalls.Load(); n != 2 {
		t.Errorf("%d LatestScores calls after the TTL, want 2", n)
	}
}

func TestConcurrentRequests(t *testing.T) {
	f := fixture()
	h := newTestHandler(t, f)
	targets := []string{"/", "/?profile=trial", "/accounts", "/accounts?profile=trial", "/accounts/acme", "/events", "/users/u-alice"}
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			target := targets[i%len(targets)]
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
			if rec.Code != http.StatusOK {
				t.Errorf("GET %s: status %d", target, rec.Code)
			}
		})
	}
	wg.Wait()
	if n := f.latestCalls.Load(); n != 2 {
		t.Errorf("%d LatestScores calls for two profiles, want 2 (one load per profile)", n)
	}
	if n := f.linkReads.Load(); n != 1 {
		t.Errorf("the identity links were read %d times, want once", n)
	}
}

func TestNewRequiresData(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without Data: no error")
	}
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
