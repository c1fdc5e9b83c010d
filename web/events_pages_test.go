package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// manyEvents is the fixture with its observations replaced by n unplanned
// track events, "Event 000" the most frequent, each with an
// UNPLANNED_EVENT finding.
func manyEvents(n int) *fakeData {
	f := fixture()
	f.plan = nil
	f.observed = &store.Observed{}
	f.findings = nil
	f.volume = nil
	for i := range n {
		name := fmt.Sprintf("Event %03d", i)
		f.observed.Events = append(f.observed.Events, store.ObservedEvent{Source: "web", Type: trackplan.Track, Name: name,
			Count: int64(10000 - i), FirstSeen: days(3), LastSeen: hours(1)})
		f.findings = append(f.findings, trackplan.Finding{Code: trackplan.UnplannedEvent, Severity: trackplan.SeverityWarning,
			Event: name, Count: int64(10000 - i), FirstSeen: days(3), LastSeen: hours(1)})
	}
	return f
}

// eventRowsOf counts the table rows and the cards of an events page.
func eventRowsOf(body string) (rows, cards int) {
	return strings.Count(body, `<th scope="row"><a href="#ev-`), strings.Count(body, `<section class="card event"`)
}

func TestEventsPaginated(t *testing.T) {
	h := newTestHandler(t, manyEvents(250))
	tests := []struct {
		target     string
		rows       int
		first      string // the first event shown
		page       string // "Page N of M", "" when no navigation
		prev, next string // hrefs as written in the HTML, "" when absent
	}{
		{"/events", 100, "Event 000", "Page 1 of 3", "", "/events?page=2"},
		{"/events?page=1", 100, "Event 000", "Page 1 of 3", "", "/events?page=2"},
		{"/events?page=2", 100, "Event 100", "Page 2 of 3", "/events", "/events?page=3"},
		{"/events?page=3", 50, "Event 200", "Page 3 of 3", "/events?page=2", ""},
		{"/events?status=unplanned&page=2", 100, "Event 100", "Page 2 of 3",
			"/events?status=unplanned", "/events?page=3&amp;status=unplanned"},
		{"/events?profile=trial&status=unplanned", 100, "Event 000", "Page 1 of 3",
			"", "/events?page=2&amp;profile=trial&amp;status=unplanned"},
		{"/events?event=Event+150", 100, "Event 100", "Page 2 of 3", "/events", "/events?page=3"},
		{"/events?event=Event+249&page=1", 50, "Event 200", "Page 3 of 3", "/events?page=2", ""},
		{"/events?status=live", 0, "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			res, body := get(t, h, tt.target)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			if strings.Contains(tt.target, "profile=") { // once: checkInert is slow on a full page
				for _, p := range checkInert(body) {
					t.Error(p)
				}
			}
			rows, cards := eventRowsOf(body)
			if rows != tt.rows || cards != tt.rows {
				t.Errorf("%d rows and %d cards, want %d of each", rows, cards, tt.rows)
			}
			if tt.first != "" {
				i := strings.Index(body, `<h2 id="ev-`)
				if i < 0 || !strings.HasPrefix(body[strings.Index(body[i:], ">")+i+1:], tt.first+"<") {
					t.Errorf("first card is not %s", tt.first)
				}
			}
			if got := strings.Contains(body, `class="pagination"`); got != (tt.page != "") {
				t.Errorf("navigation shown: %v, want %v", got, tt.page != "")
			}
			if tt.page != "" && strings.Count(body, "<span>"+tt.page+"</span>") != 2 {
				t.Errorf("no %q above and below the list", tt.page)
			}
			for rel, href := range map[string]string{"prev": tt.prev, "next": tt.next} {
				link := `<a href="` + href + `" rel="` + rel + `">`
				if href == "" {
					if strings.Contains(body, `rel="`+rel+`"`) {
						t.Errorf("unexpected %s link", rel)
					}
				} else if !strings.Contains(body, link) {
					t.Errorf("no %s link %s", rel, link)
				}
			}
		})
	}
}

func TestEventsPageErrors(t *testing.T) {
	h := newTestHandler(t, manyEvents(250))
	for target, want := range map[string]int{
		"/events?page=0":                    http.StatusBadRequest,
		"/events?page=x":                    http.StatusBadRequest,
		"/events?page=-1":                   http.StatusBadRequest,
		"/events?page=1.5":                  http.StatusBadRequest,
		"/events?page=4":                    http.StatusNotFound,
		"/events?status=unplanned&page=4":   http.StatusNotFound,
		"/events?event=Nope":                http.StatusNotFound,
		"/events?status=live&event=Event+1": http.StatusNotFound,
		"/events?page=x&event=Event+150":    http.StatusBadRequest,
	} {
		if res, _ := get(t, h, target); res.StatusCode != want {
			t.Errorf("GET %s: status %d, want %d", target, res.StatusCode, want)
		}
	}
	// A filter with no events still has its one (empty) page.
	if res, _ := get(t, h, "/events?status=live&page=1"); res.StatusCode != http.StatusOK {
		t.Errorf("empty filter, page 1: status %d", res.StatusCode)
	}
}

// TestEventsAnchorsFollowPages checks that links to an event's row point at
// the page holding its card.
func TestEventsAnchorsFollowPages(t *testing.T) {
	f := manyEvents(250)
	h := newTestHandler(t, f)
	hl := classify(f.plan, f.observed, f.findings, fixedNow, fixedNow.AddDate(0, 0, -7), false)
	for _, tt := range []struct {
		name string
		page string
	}{{"Event 000", ""}, {"Event 099", ""}, {"Event 100", "?page=2"}, {"Event 150", "?page=2"}, {"Event 249", "?page=3"}} {
		anchor := anchorOf(trackplan.Track, tt.name)
		want := "/events" + tt.page + "#" + anchor
		if got := hl.anchors[tt.name]; got != want {
			t.Errorf("%s: link %q, want %q", tt.name, got, want)
			continue
		}
		_, body := get(t, h, "/events"+tt.page)
		if !strings.Contains(body, `<section class="card event" id="`+anchor+`"`) {
			t.Errorf("%s: no card on %s", tt.name, want)
		}
		if !strings.Contains(body, `<a href="#`+anchor+`">`+tt.name+`</a>`) {
			t.Errorf("%s: no row linking its card on %s", tt.name, want)
		}
	}
	// The overview's top findings link to the right page.
	f = manyEvents(250)
	for i := range f.findings {
		f.findings[i].Count = int64(i + 1) // Event 249 has the highest count
	}
	_, body := get(t, newTestHandler(t, f), "/")
	if want := `href="/events?page=3#` + anchorOf(trackplan.Track, "Event 249") + `"`; !strings.Contains(body, want) {
		t.Errorf("overview: no link %s", want)
	}
}

func TestEventCardBounded(t *testing.T) {
	f := manyEvents(1)
	ev := &f.observed.Events[0]
	for i := range 300 {
		path := fmt.Sprintf("p%03d", i)
		ev.Properties = append(ev.Properties, store.ObservedProperty{Path: path, Types: map[string]int64{"string": 1},
			Present: 1, FirstSeen: days(1), LastSeen: hours(1)})
	}
	for i := range 250 {
		f.findings = append(f.findings, trackplan.Finding{Code: trackplan.TypeMismatch, Severity: trackplan.SeverityError,
			Event: ev.Name, Path: fmt.Sprintf("p%03d", i), Count: 1, FirstSeen: days(1), LastSeen: hours(1),
			Samples: append(evilSamples(ev.Name), raw(map[string]string{"pad": strings.Repeat("x", 2000)}))})
	}
	res, body := get(t, newTestHandler(t, f), "/events")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if n := strings.Count(body, `<tr class="prop-`); n != 200 {
		t.Errorf("%d property rows, want 200", n)
	}
	if !strings.Contains(body, "<code>p199</code>") || strings.Contains(body, "<code>p200</code>") {
		t.Error("the card does not show the first 200 paths in order")
	}
	if !strings.Contains(body, "… and 100 more properties not shown.") {
		t.Error(`no "and 100 more properties"`)
	}
	if n := strings.Count(body, `<td class="nowrap">`); n != 200 {
		t.Errorf("%d finding rows, want 200", n)
	}
	if !strings.Contains(body, "… and 51 more findings not shown.") { // 250 + the UNPLANNED_EVENT
		t.Error(`no "and 51 more findings"`)
	}
	// Example messages stop at the card's budget: the first findings
	// show theirs, the others none.
	if n := strings.Count(body, `<pre class="sample">`); n < 3 || n > 3*(maxCardSampleBytes/2000) {
		t.Errorf("%d example messages, want the first findings' within %d bytes", n, maxCardSampleBytes)
	}
	if n := strings.Count(body, strings.Repeat("x", 2000)); n > maxCardSampleBytes/2000 {
		t.Errorf("%d large example messages shown, want at most %d", n, maxCardSampleBytes/2000)
	}
	// The table still counts every finding.
	if !strings.Contains(body, `<td data-value="251">`) {
		t.Error("the row does not count all 251 findings")
	}
	for _, p := range checkInert(body) {
		t.Error(p)
	}
}
