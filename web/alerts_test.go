package web

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan/store"
)

// alertLink is the dashboard's public address in the alert records.
const alertLink = "https://trackplan.example.com"

// alertData is the fixture with an alert record: the overview's "Latest
// alerts" card shows its newest records.
type alertData struct {
	*fakeData
	alerts []store.AlertRecord // newest first
	asked  []store.AlertQuery
}

func (a *alertData) AlertRecords(_ context.Context, q store.AlertQuery) ([]store.AlertRecord, error) {
	a.asked = append(a.asked, q)
	out := a.alerts
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

var _ AlertSource = (*alertData)(nil)

func newAlertHandler(t *testing.T, a *alertData) *Handler {
	t.Helper()
	f := a.fakeData
	h, err := New(Options{Data: a, Volumes: f, Traits: f, Activity: f, Plans: f, Rechecking: f.Rechecking,
		Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// alertsFixture holds hostile titles (markup, a Slack mention), links to
// an event and an account, alerts without a link, a script URL, and more
// records than the card shows.
func alertsFixture() *alertData {
	return &alertData{fakeData: fixture(), alerts: []store.AlertRecord{
		{ID: 7, At: hours(1), Rule: "new_finding", Severity: "critical", Status: store.AlertSent,
			Title: "New error: UNPLANNED_EVENT on " + evilScript, Link: alertLink + "/events#ev-0123456789"},
		{ID: 6, At: hours(2), Rule: "score_drop", Severity: "warning", Status: store.AlertHeld,
			Title: "❄️ <!channel> Acme cooled down: 30.0 (-20.0)", Link: alertLink + "/accounts/acme"},
		{ID: 5, At: hours(3), Rule: "lag", Severity: "critical", Status: store.AlertFailed,
			Title: "Derivation is 20m0s behind the event log " + evilAttr},
		{ID: 4, At: hours(4), Rule: "volume_drop", Severity: "critical", Status: store.AlertSent,
			Title: "Report Exported stopped arriving", Link: evilURL},
		{ID: 3, At: days(1), Rule: "digest", Severity: "info", Status: store.AlertNoChannel,
			Title: "trackplan digest: 2 alerts that did not page"},
		{ID: 2, At: days(2), Rule: "test", Severity: "info", Status: store.AlertSent,
			Title: "the sixth alert, not on the card"},
	}}
}

var alertsCardRe = regexp.MustCompile(`(?s)<section class="card" aria-labelledby="alerts-heading">.*?</section>`)

// TestOverviewLatestAlerts: the overview's "Latest alerts" card lists the
// newest alerts, escapes hostile titles (markup and Slack's <!channel>),
// links each alert with a link to its page, refuses a script URL, and
// is absent when there is no alert.
func TestOverviewLatestAlerts(t *testing.T) {
	a := alertsFixture()
	res, body := get(t, newAlertHandler(t, a), "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if len(a.asked) != 1 || a.asked[0].Limit != recentAlerts {
		t.Errorf("alert queries %+v, want one of the %d latest", a.asked, recentAlerts)
	}
	card := alertsCardRe.FindString(body)
	if card == "" {
		t.Fatalf("no Latest alerts card:\n%s", body)
	}
	if !strings.Contains(card, "Latest alerts") {
		t.Error("the card has no heading")
	}
	if n := strings.Count(card, "<tr>") - 1; n != recentAlerts { // less the header row
		t.Errorf("%d alert rows, want %d", n, recentAlerts)
	}
	for _, want := range []string{
		// Titles escaped, in order, the newest first.
		`<a href="` + alertLink + `/events#ev-0123456789">New error: UNPLANNED_EVENT on &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</a>`,
		`<a href="` + alertLink + `/accounts/acme">❄️ &lt;!channel&gt; Acme cooled down: 30.0 (-20.0)</a>`,
		`<td>Derivation is 20m0s behind the event log &#34;&gt;&lt;img src=x onerror=alert(1)&gt;</td>`,
		`<td>trackplan digest: 2 alerts that did not page</td>`,
		`<code>new_finding</code>`, `<code>score_drop</code>`, `<code>lag</code>`,
		`<td>sent</td>`, `<td>held</td>`, `<td>failed</td>`,
	} {
		if !strings.Contains(card, want) {
			t.Errorf("the card lacks %s", want)
		}
	}
	if i, j := strings.Index(card, "UNPLANNED_EVENT"), strings.Index(card, "Acme cooled"); i < 0 || j < i {
		t.Error("the alerts are not newest first")
	}
	for _, bad := range []string{"<script>alert", "<!channel>", "<img", "javascript:", "the sixth alert"} {
		if strings.Contains(card, bad) {
			t.Errorf("the card holds %q", bad)
		}
	}
	// A script URL is refused by html/template, not linked.
	if !strings.Contains(card, `<a href="#ZgotmplZ">Report Exported stopped arriving</a>`) {
		t.Errorf("the script URL was not neutralised:\n%s", card)
	}
	// The rest of the page is inert; the alert links are absolute (the
	// dashboard's public address), the only ones allowed to be.
	for _, p := range checkInert(body) {
		if !strings.Contains(p, `href="`+alertLink+`/`) {
			t.Error(p)
		}
	}
	golden(t, filepath.Join("testdata", "overview-alerts-card.html"), card+"\n")

	// No alert: no card.
	_, body = get(t, newAlertHandler(t, &alertData{fakeData: fixture()}), "/")
	if strings.Contains(body, "Latest alerts") {
		t.Error("a Latest alerts card without alerts")
	}
}
