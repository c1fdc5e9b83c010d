package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// Hostile strings: markup, attribute breakouts, script URLs.
const (
	evilScript = `<script>alert("x")</script>`
	evilAttr   = `"><img src=x onerror=alert(1)>`
	evilQuote  = `' onmouseover='alert(1)`
	evilURL    = `javascript:alert(document.cookie)`
	evilSVG    = `</title><svg onload=alert(1)>`
)

// evilFixture puts hostile strings everywhere the dashboard shows
// something it did not write itself: event, property and trait names and
// values, account ids and names, user ids and the ids merged into them,
// finding texts, profile names.
func evilFixture() *fakeData {
	f := fixture()
	evils := []string{evilScript, evilAttr, evilQuote, evilURL, evilSVG}
	for _, e := range evils {
		f.plan.Events = append(f.plan.Events, &trackplan.Event{Name: "Planned " + e, Description: e, Owner: e,
			Status: trackplan.StatusLive, Weight: 3, Properties: []*trackplan.Property{{Name: e, Type: trackplan.PropString, Required: true}}})
		f.observed.Events = append(f.observed.Events, store.ObservedEvent{Source: e, Type: trackplan.Track, Name: e, Count: 5,
			FirstSeen: days(3), LastSeen: hours(2), Properties: []store.ObservedProperty{
				{Path: e, Types: map[string]int64{e: 5}, Present: 5, LastSeen: hours(2)}}})
		f.findings = append(f.findings, trackplan.Finding{Code: trackplan.Code(e), Severity: trackplan.Severity(e), Event: e, Path: e,
			Expected: e, Observed: e, Owner: e, Count: 9999, Samples: evilSamples(e)})
		f.versions = append(f.versions, store.PlanVersion{ID: e, Origin: e, FirstSeen: days(5)})
		f.volume[eventKey{trackplan.Track, e}] = []int64{1, 2, 3}
	}
	run := f.runs[trackplan.DefaultProfileName]
	for i, e := range evils {
		id := e
		run.Accounts = append(run.Accounts, trackplan.AccountScore{ID: id, Name: e, AverageScore: float64(90 + i),
			Band: trackplan.BandMostEngaged, Trend: trackplan.TrendOf(30), ActiveUsers: 1, TotalUsers: 1})
		run.Users = append(run.Users, trackplan.UserScore{ID: "user " + e, Score: 90, Active: true, Band: trackplan.BandMostEngaged,
			Accounts: []string{id}})
		f.history[trackplan.DefaultProfileName][id] = f.history[trackplan.DefaultProfileName]["acme"]
		traits := map[string]json.RawMessage{}
		for _, v := range evils {
			traits[v] = raw(v)
		}
		traits["website"] = raw(evilURL)
		f.traits[id] = traits
		user := "user " + e
		f.links = append(f.links, link{"anon " + e, user, days(3)}, link{e, user, days(4)})
		f.userTraits[user] = map[string]any{e: e, "name": e, "website": evilURL}
		f.userTraits["anon "+e] = map[string]any{"from anon " + e: e}
		f.activity[id] = []EventUse{{Event: "Planned " + e, Window: 2, Total: 3, LastSeen: hours(3)}}
	}
	// A user whose id would be a protocol-relative URL if it were not
	// escaped, and an id merged into it.
	f.links = append(f.links, link{"to-evil", "//evil.example/x", days(2)})
	f.userTraits["//evil.example/x"] = map[string]any{"name": evilScript}
	f.profiles[1].Name = evilAttr
	f.runs[evilAttr] = f.runs["trial"]
	f.recheck.Store(&Recheck{Plan: store.PlanVersion{ID: evilScript, Origin: evilScript + evilAttr, FirstSeen: hours(1)}, Fraction: 0.5})
	return f
}

// evilSamples are example messages holding e unescaped: as a JSON string
// (json.Marshal would write < and > as \u003c and \u003e), as a key, and
// a message that is not JSON at all, ending the markup around it.
func evilSamples(e string) []json.RawMessage {
	q := strings.ReplaceAll(strings.ReplaceAll(e, `\`, `\\`), `"`, `\"`)
	return []json.RawMessage{
		json.RawMessage(`{"event":"</script><script>alert(1)</script>","properties":{"` + q + `":"` + q + `"}}`),
		json.RawMessage(`</code></pre></details>` + e),
	}
}

// Markup the templates write. html/template escapes "<" and ">" in text
// and attribute values, so every "<" left in a page starts a tag of ours.
var (
	tagRe  = regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9:-]*)([^<>]*)>`)
	attrRe = regexp.MustCompile(`\s([^\s="'<>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'<>]+)))?`)
	ownTag = func() map[string]bool {
		m := map[string]bool{}
		for _, t := range strings.Fields(`html head meta title link script body a header div img nav ul li form input label
			select option button main footer h1 h2 h3 p dl dt dd section svg rect line text polyline polygon circle
			table caption thead tbody tr th td span strong code time figure figcaption details summary pre wbr path`) {
			m[t] = true
		}
		return m
	}()
)

// checkInert reports markup in a page that the templates did not write:
// an unknown element, an event-handler or style attribute, a URL that is
// not local, a second script element.
func checkInert(body string) []string {
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	scripts := 0
	for _, m := range tagRe.FindAllStringSubmatch(body, -1) {
		name := strings.ToLower(m[2])
		if !ownTag[name] {
			fail("unexpected element %q", m[0])
		}
		if m[1] == "/" {
			continue
		}
		if name == "script" {
			scripts++
		}
		for _, a := range attrRe.FindAllStringSubmatch(m[3], -1) {
			attr := strings.ToLower(a[1])
			value := strings.ToLower(strings.TrimSpace(a[2] + a[3] + a[4]))
			switch {
			case strings.HasPrefix(attr, "on"):
				fail("event handler attribute in %q", m[0])
			case attr == "style":
				fail("style attribute in %q", m[0])
			case (attr == "href" || attr == "src" || attr == "action") && !strings.HasPrefix(value, "/") && !strings.HasPrefix(value, "#") && !strings.HasPrefix(value, "?"):
				fail("%s=%q is not a local URL in %q", attr, value, m[0])
			case (attr == "src") && !strings.HasPrefix(value, "/static/"):
				fail("src=%q in %q", value, m[0])
			}
		}
	}
	if scripts != 1 {
		fail("%d script elements, want 1", scripts)
	}
	return problems
}

func TestOutputEscaped(t *testing.T) {
	f := evilFixture()
	h := newTestHandler(t, f)
	targets := []string{"/", "/accounts", "/accounts?profile=" + url.QueryEscape(evilAttr), "/events", "/events?status=unplanned",
		"/accounts/" + url.PathEscape("nope"+evilScript), "/?profile=" + url.QueryEscape(evilScript)}
	for _, e := range []string{evilScript, evilAttr, evilQuote, evilURL, evilSVG} {
		targets = append(targets, "/accounts/"+url.PathEscape(e), "/users/"+url.PathEscape("user "+e),
			"/users/"+url.PathEscape("user "+e)+"?profile="+url.QueryEscape(evilAttr))
	}
	targets = append(targets, "/users/"+url.PathEscape("//evil.example/x"), "/users/"+url.PathEscape("nope"+evilScript))
	for _, target := range targets {
		res, body := get(t, h, target)
		if res.StatusCode >= 500 {
			t.Errorf("GET %s: status %d", target, res.StatusCode)
		}
		for _, p := range checkInert(body) {
			t.Errorf("GET %s: %s", target, p)
		}
	}

	// Merged ids redirect to a local URL, whatever the ids hold.
	redirects := map[string]string{"/users/to-evil": "//evil.example/x"}
	for _, e := range []string{evilScript, evilAttr, evilQuote, evilURL, evilSVG} {
		redirects["/users/"+url.PathEscape("anon "+e)] = "user " + e
		redirects["/users/"+url.PathEscape(e)] = "user " + e
	}
	for target, user := range redirects {
		res, _ := get(t, h, target)
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusFound || loc != "/users/"+url.PathEscape(user) {
			t.Errorf("GET %s: status %d, Location %q; want 302 to the page of %q", target, res.StatusCode, loc, user)
		}
		if u, err := url.Parse(loc); err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(u.EscapedPath(), "/users/") {
			t.Errorf("GET %s: Location %q is not a local URL", target, loc)
		}
	}

	// The hostile text is shown, escaped, not dropped.
	_, body := get(t, h, "/events")
	for _, want := range []string{
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`,
		`&#34;&gt;&lt;img src=x onerror=alert(1)&gt;`,
		`&#39; onmouseover=&#39;alert(1)`,
		`&lt;/title&gt;&lt;svg onload=alert(1)&gt;`,
		// In the example messages.
		`&#34;event&#34;: &#34;&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#34;`,
		`&lt;/code&gt;&lt;/pre&gt;&lt;/details&gt;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`,
		// In the plan edits (all on one day, so in one mark).
		`<title>plan edited: &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; (&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;); plan edited: `,
		// In the re-check banner.
		`(&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;) — 50%`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/events does not show %s", want)
		}
	}
	_, body = get(t, h, "/accounts/"+url.PathEscape(evilURL))
	if !strings.Contains(body, `<td class="trait-value">javascript:alert(document.cookie)</td>`) {
		t.Error("a javascript: trait value is not shown as plain text")
	}
	_, body = get(t, h, "/users/"+url.PathEscape("user "+evilScript))
	for _, want := range []string{
		`<h1>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</h1>`,
		`<td class="trait-value">javascript:alert(document.cookie)</td>`,
		`<li><code>anon &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</code></li>`,
		`<code>from anon &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</code>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the user page does not show %s", want)
		}
	}
}

func TestCheckInertCatchesInjection(t *testing.T) {
	for _, body := range []string{
		`<script src="/static/app.js"></script><script>alert(1)</script>`,
		`<script src="/static/app.js"></script><a href="javascript:alert(1)">x</a>`,
		`<script src="/static/app.js"></script><img src=x onerror=alert(1)>`,
		`<script src="/static/app.js"></script><p title="" onmouseover="alert(1)">`,
		`<script src="/static/app.js"></script><iframe src="/x"></iframe>`,
	} {
		if len(checkInert(body)) == 0 {
			t.Errorf("checkInert passed %s", body)
		}
	}
}
