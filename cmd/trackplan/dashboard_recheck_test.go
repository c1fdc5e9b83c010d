package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
)

// TestDashboardRecheckAndPlanEdits wires the dashboard to a store as serve
// does: the plan versions the store followed mark the events page's volume
// charts, and a re-check under way shows a banner on every page.
func TestDashboardRecheckAndPlanEdits(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "dash.db"), store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plan := &trackplan.Plan{Version: 1, Events: []*trackplan.Event{{Name: "Signed Up", Status: trackplan.StatusLive}}}
	seen := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	v := store.NewPlanVersion(plan, "notion:db-test", time.Time{}, seen)
	cursor, err := st.Cursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	epoch, err := st.Epoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SwitchPlan(ctx, v, cursor, epoch, nil); err != nil {
		t.Fatal(err)
	}

	var progress atomic.Pointer[derive.RecheckProgress]
	h, err := newDashboard("127.0.0.1:0", Config{}, st, func() *trackplan.Plan { return plan },
		slog.New(slog.NewTextHandler(io.Discard, nil)), withRechecking(progress.Load))
	if err != nil {
		t.Fatal(err)
	}
	get := func(target string) string {
		t.Helper()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Host = "127.0.0.1" // the dashboard answers to this machine's names only
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d\n%s", target, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}

	events := get("/events")
	if want := "<title>plan edited: " + v.ID + " (notion:db-test)</title>"; !strings.Contains(events, want) {
		t.Errorf("/events does not mark the plan version: no %s", want)
	}
	if strings.Contains(events, "Re-checking") {
		t.Error("a re-check banner while none runs")
	}

	progress.Store(&derive.RecheckProgress{Plan: v, Total: 100})
	want := "Re-checking the traffic against the plan of " + seen.Format("15:04")
	if seen.Day() != time.Now().UTC().Day() {
		want = "Re-checking the traffic against the plan of " + seen.Format("Jan 2 15:04")
	}
	want += " (notion:db-test) — 0%"
	for _, target := range []string{"/", "/accounts", "/events"} {
		if body := get(target); !strings.Contains(body, want) {
			t.Errorf("GET %s: no banner %q", target, want)
		}
	}
}
