package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/planfile"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
)

// TestDashboardDriftOverMatchesDrift checks the dashboard's view of a
// window (its findings and its timeline) agrees with `drift` over the same
// window, and that the timeline is split by source.
func TestDashboardDriftOverMatchesDrift(t *testing.T) {
	planPath, db, at := spreadTraffic(t)
	plan, err := planfile.Load(planPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, w := range []string{"24h", "84h30m", "10d"} {
		rep := timelineRun(t, "--db", db, "--plan", planPath, "drift", "--at", at.Format(time.RFC3339), "--since", w)
		span, err := parseDuration(w)
		if err != nil {
			t.Fatal(err)
		}
		st, err := sqlite.Open(ctx, db, store.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		data := newDashboardData(Config{}, st, func() *trackplan.Plan { return plan })
		data.now = func() time.Time { return at }
		d, err := data.DriftOver(ctx, at.Add(-span), at)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		var gotE, gotW int64
		for i, b := range d.Buckets {
			if !b.From.Equal(rep.Timeline.Buckets[i].From) || !b.To.Equal(rep.Timeline.Buckets[i].To) {
				t.Fatalf("%s: bucket %d is %s–%s; drift's is %s–%s", w, i, b.From, b.To, rep.Timeline.Buckets[i].From, rep.Timeline.Buckets[i].To)
			}
			for _, c := range b.Counts {
				if c.Source != "import" {
					t.Errorf("%s: counts of source %q; the import's source is import", w, c.Source)
				}
				gotE, gotW = gotE+c.Errors, gotW+c.Warnings
			}
		}
		if len(d.Buckets) != len(rep.Timeline.Buckets) {
			t.Errorf("%s: %d buckets; drift's timeline has %d", w, len(d.Buckets), len(rep.Timeline.Buckets))
		}
		wantE, wantW := rep.counts()
		if gotE != wantE || gotW != wantW || wantE == 0 {
			t.Errorf("%s: the dashboard counts %d errors, %d warnings; drift %d, %d", w, gotE, gotW, wantE, wantW)
		}
		if len(d.Findings) != len(rep.Findings) {
			t.Errorf("%s: the dashboard has %d findings; drift %d", w, len(d.Findings), len(rep.Findings))
		}
	}
}

// TestDashboardSearch serves /search over a store as serve does: accounts
// are found by their name trait, users by their email.
func TestDashboardSearch(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "t.db")
	at := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	events := writeMessages(t, []map[string]any{
		{"type": "group", "messageId": "g1", "userId": "u-1", "groupId": "org-7", "traits": map[string]any{"name": "Initech Labs"}, "timestamp": at},
		{"type": "identify", "messageId": "i1", "userId": "u-1", "traits": map[string]any{"email": "Peter@Initech.example"}, "timestamp": at},
		{"type": "track", "messageId": "t1", "userId": "u-1", "event": "Report Exported", "properties": map[string]any{"format": "csv"}, "timestamp": at},
	})
	if code, _, stderr := trackplanRun(t, "--db", db, "import", events); code != 0 {
		t.Fatalf("import: %d %s", code, stderr)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, db, store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plan := &trackplan.Plan{Version: 1, Events: []*trackplan.Event{{Name: "Report Exported", Status: trackplan.StatusLive}}}
	h, err := newDashboard("127.0.0.1:0", Config{}, st, func() *trackplan.Plan { return plan }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/search?q=INITECH", nil)
	req.Host = "127.0.0.1"
	h.ServeHTTP(rec, req)
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d\n%s", rec.Code, body)
	}
	for _, want := range []string{`<a href="/accounts/org-7">org-7</a> <span class="muted">Initech Labs</span>`,
		`<a href="/users/u-1">u-1</a> <span class="muted">Peter@Initech.example</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in\n%s", want, body)
		}
	}
	req = httptest.NewRequest(http.MethodGet, "/search?q=report", nil)
	req.Host = "127.0.0.1"
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), ">Report Exported</a>") {
		t.Errorf("/search?q=report does not find the event:\n%s", rec.Body)
	}
}
