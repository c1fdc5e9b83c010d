package web

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trackplan/trackplan/store"
)

// TestSearchGolden renders the search page: results of every kind, none,
// and the empty form.
func TestSearchGolden(t *testing.T) {
	h := newDriftHandler(t, newDriftData())
	tests := []struct{ name, target string }{
		{"search", "/search?q=report"},
		{"search-people", "/search?q=ALICE"},
		{"search-nothing", "/search?q=zzz"},
		{"search-empty", "/search"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := get(t, h, tt.target)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d", tt.target, res.StatusCode)
			}
			golden(t, filepath.Join("testdata", tt.name+".html"), mainOf(t, body))
		})
	}
}

// TestSearchResults checks what each kind finds, case-insensitively, and
// that every result links to its page.
func TestSearchResults(t *testing.T) {
	h := newDriftHandler(t, newDriftData())
	tests := []struct {
		q    string
		want []string // links in the page's results
		not  []string
	}{
		{"REPORT", []string{`href="/events?event=Report&#43;Exported#` + anchorOf("track", "Report Exported") + `"`,
			`href="/events?event=report_exported#` + anchorOf("track", "report_exported") + `"`}, nil},
		{"row_c", []string{`<a href="/events?event=Report&#43;Exported#` + anchorOf("track", "Report Exported") + `">row_count</a>`}, nil},
		{"company", []string{`>company_id</a> <span class="muted">of identify</span>`}, []string{`href="/accounts/`}},
		{"stark", []string{`<a href="/accounts/stark">stark</a> <span class="muted">Stark &amp; Sons</span>`}, nil},
		{"bob@", []string{`<a href="/users/u-bob">u-bob</a>`}, []string{`href="/users/u-alice"`}},
		{"alias", nil, []string{`event=alias`}},
		{"page v", []string{`>Page Viewed</a> <span class="muted">page, from web</span>`}, nil},
	}
	for _, tt := range tests {
		res, body := get(t, h, "/search?q="+strings.ReplaceAll(tt.q, " ", "+"))
		if res.StatusCode != http.StatusOK {
			t.Fatalf("q=%s: status %d", tt.q, res.StatusCode)
		}
		main := mainOf(t, body)
		for _, w := range tt.want {
			if !strings.Contains(main, w) {
				t.Errorf("q=%s: no %s in\n%s", tt.q, w, main)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(main, n) {
				t.Errorf("q=%s: %s in the page", tt.q, n)
			}
		}
		if !strings.Contains(body, `id="search-input" type="search" name="q" value="`+tt.q+`"`) {
			t.Errorf("q=%s: the header's search box does not keep the text", tt.q)
		}
	}
}

// TestSearchBounded checks each kind lists at most SearchLimit results and
// says when there were more.
func TestSearchBounded(t *testing.T) {
	d := newDriftData()
	for i := range SearchLimit + 5 {
		d.accounts = append(d.accounts, store.Match{ID: fmt.Sprintf("many-%02d", i)})
	}
	h := newDriftHandler(t, d)
	_, body := get(t, h, "/search?q=many")
	main := mainOf(t, body)
	if n := strings.Count(main, `<a href="/accounts/many-`); n != SearchLimit {
		t.Errorf("%d accounts listed, want %d", n, SearchLimit)
	}
	if !strings.Contains(main, "More match than the 20 shown") || !strings.Contains(main, `Accounts <span class="muted">20+</span>`) {
		t.Error("no sign of more results")
	}
	_, body = get(t, h, "/search?q=stark")
	if strings.Contains(body, "More match") {
		t.Error("more results announced for one")
	}
}

// TestSearchBadQueries checks malformed searches are 400 pages.
func TestSearchBadQueries(t *testing.T) {
	h := newDriftHandler(t, newDriftData())
	tests := []struct {
		query string
		want  string
	}{
		{"q=" + strings.Repeat("a", maxQueryChars+1), "at most 200 are searched"},
		{"q=a&q=b", "q is given 2 times"},
		{"q=%ff", "not valid UTF-8"},
		{"q=x&profile=nope", "nope"},
	}
	for _, tt := range tests {
		res, body := get(t, h, "/search?"+tt.query)
		want := http.StatusBadRequest
		if strings.Contains(tt.query, "profile") {
			want = http.StatusNotFound
		}
		if res.StatusCode != want {
			t.Errorf("%s: status %d, want %d", tt.query, res.StatusCode, want)
		}
		if !strings.Contains(body, tt.want) {
			t.Errorf("%s: the page does not say %q", tt.query, tt.want)
		}
	}
	// Without a search source, events are still searched.
	res, body := get(t, newTestHandler(t, fixture()), "/search?q=signed")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, ">Signed Up</a>") || !strings.Contains(body, "The accounts and users are not searched here.") {
		t.Errorf("without a search source: status %d", res.StatusCode)
	}
}

// TestSearchInert checks the search text is shown as text: in the header's
// box, the page's box, the title and the results' heading.
func TestSearchInert(t *testing.T) {
	h := newDriftHandler(t, newDriftData())
	for _, q := range []string{`"><script>alert(1)</script>`, `' onfocus='alert(1)`, "</title><img src=x onerror=alert(1)>"} {
		res, body := get(t, h, "/search?q="+url.QueryEscape(q))
		if res.StatusCode != http.StatusOK {
			t.Fatalf("q=%s: status %d", q, res.StatusCode)
		}
		for _, p := range checkInert(body) {
			t.Errorf("q=%s: %s", q, p)
		}
		if strings.Contains(body, q) {
			t.Errorf("q=%s: the text is in the page unescaped", q)
		}
	}
}
