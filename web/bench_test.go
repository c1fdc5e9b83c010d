package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchmarkPage renders one page of a dashboard over 10,000 accounts of
// five users each. The score cache is on, as in production: the figure is
// the rendering, not the store.
func benchmarkPage(b *testing.B, target string) {
	h := newTestHandler(b, bigFixture(10_000))
	req := httptest.NewRequest(http.MethodGet, target, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: status %d", target, rec.Code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// BenchmarkAccountsPage renders the accounts list (filter, sort and the 50
// rows of one page with their sparklines) for 10,000 accounts.
func BenchmarkAccountsPage(b *testing.B) {
	b.Run("ranked", func(b *testing.B) { benchmarkPage(b, "/accounts") })
	b.Run("by-name-page-100", func(b *testing.B) { benchmarkPage(b, "/accounts?sort=name&page=100") })
	b.Run("band-filter", func(b *testing.B) { benchmarkPage(b, "/accounts?band=engaged&sort=trend") })
}

// BenchmarkOverviewPage renders the overview (histogram of 50,000 users,
// bands, risers and fallers of 10,000 accounts).
func BenchmarkOverviewPage(b *testing.B) { benchmarkPage(b, "/") }

// BenchmarkAccountPage renders one account's page, which scans the run's
// 50,000 users for the account's members.
func BenchmarkAccountPage(b *testing.B) { benchmarkPage(b, "/accounts/acct-05000") }

// BenchmarkEventsPage renders the events page of the test plan.
func BenchmarkEventsPage(b *testing.B) { benchmarkPage(b, "/events") }

// BenchmarkUserPage renders one user's page, which scans the run's 50,000
// users for the user.
func BenchmarkUserPage(b *testing.B) { benchmarkPage(b, "/users/acct-05000-u2") }
