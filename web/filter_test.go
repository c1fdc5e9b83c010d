package web

import (
	"html"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mainOf is the page's <main> element: the fragment the page-specific
// goldens hold, so they do not change with the header.
func mainOf(t *testing.T, body string) string {
	t.Helper()
	start, end := strings.Index(body, "<main"), strings.Index(body, "</main>")
	if start < 0 || end < start {
		t.Fatalf("no <main> in\n%s", body)
	}
	return body[start:end+len("</main>")] + "\n"
}

// TestFilterGolden renders filtered views of the overview and the events
// page.
func TestFilterGolden(t *testing.T) {
	h := newDriftHandler(t, newDriftData())
	tests := []struct{ name, target string }{
		{"overview-filtered", "/?source=web&window=24h"},
		{"overview-window", "/?window=30d"},
		{"events-filtered", "/events?source=backend&window=30d&status=violations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := get(t, h, tt.target)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d", tt.target, res.StatusCode)
			}
			for _, p := range checkInert(body) {
				t.Error(p)
			}
			golden(t, filepath.Join("testdata", tt.name+".html"), mainOf(t, body))
		})
	}
}

var hrefRe = regexp.MustCompile(`href="([^"]*)"`)

// TestFilterLinksKeepFilter checks every link of a filtered view to the
// overview or the events page keeps the source and the window, and that
// the filter form and the profile switcher carry them.
func TestFilterLinksKeepFilter(t *testing.T) {
	h := newDriftHandler(t, newDriftData())
	for _, target := range []string{"/?source=web&window=24h", "/events?source=web&window=24h", "/?source=web&window=24h&profile=trial"} {
		_, body := get(t, h, target)
		n := 0
		for _, m := range hrefRe.FindAllStringSubmatch(body, -1) {
			u, err := url.Parse(html.UnescapeString(m[1]))
			if err != nil {
				t.Fatalf("%s: link %q: %v", target, m[1], err)
			}
			if u.Path != "/" && u.Path != "/events" || u.Host != "" || m[1] == "/" && u.Fragment != "" {
				continue
			}
			if u.Path == "" { // an anchor on the same page
				continue
			}
			n++
			if q := u.Query(); q.Get("source") != "web" || q.Get("window") != "24h" {
				t.Errorf("%s: link %s drops the filter", target, m[1])
			}
		}
		if n < 5 {
			t.Errorf("%s: only %d links to the overview or the events page", target, n)
		}
		if !strings.Contains(body, `<option value="web" selected>web</option>`) || !strings.Contains(body, `<option value="24h" selected>`) {
			t.Errorf("%s: the filter form does not show the filter", target)
		}
		if strings.Contains(target, "profile=trial") &&
			(!strings.Contains(body, `<input type="hidden" name="source" value="web">`) || !strings.Contains(body, `<input type="hidden" name="profile" value="trial">`)) {
			t.Errorf("%s: the profile switcher or the filter form drops a parameter", target)
		}
	}
}

// TestFilterBadValues checks a bad source or window is a 400 page that
// says what is wrong, on both pages, and that a dashboard without a drift
// source offers its default window only.
func TestFilterBadValues(t *testing.T) {
	withDrift := newDriftHandler(t, newDriftData())
	without := newTestHandler(t, fixture())
	tests := []struct {
		h      *Handler
		query  string
		status int
		want   string
	}{
		{withDrift, "window=1y", 400, `unknown window &#34;1y&#34; (want 24h, 7d or 30d)`},
		{withDrift, "window=7", 400, "unknown window"},
		{withDrift, "window=", 400, "unknown window"},
		{withDrift, "window=24h&window=7d", 400, "window is given 2 times"},
		{withDrift, "source=ios", 400, `unknown source &#34;ios&#34;`},
		{withDrift, "source=", 400, "source is empty"},
		{withDrift, "source=web&source=backend", 400, "source is given 2 times"},
		{withDrift, "source=" + strings.Repeat("x", 500), 400, "unknown source"},
		{withDrift, "window=%00", 400, "unknown window"},
		{without, "window=30d", 400, "unknown window &#34;30d&#34; (want 7d)"},
		{without, "window=7d&source=backend", 200, ""},
		{withDrift, "window=30d&source=backend", 200, ""},
	}
	for _, tt := range tests {
		for _, path := range []string{"/", "/events"} {
			target := path + "?" + tt.query
			res, body := get(t, tt.h, target)
			if res.StatusCode != tt.status {
				t.Errorf("GET %s: status %d, want %d", target, res.StatusCode, tt.status)
				continue
			}
			if !strings.Contains(body, tt.want) {
				t.Errorf("GET %s: the page does not say %q", target, tt.want)
			}
			if tt.status == 400 && strings.Contains(body, strings.Repeat("x", 100)) {
				t.Errorf("GET %s: the page repeats the whole bad value", target)
			}
		}
	}
}

// TestDefaultWindowOffered checks a configured window that is none of the
// choices is offered as the default, in order.
func TestDefaultWindowOffered(t *testing.T) {
	choices, def := windows(14)
	var keys []string
	for _, c := range choices {
		keys = append(keys, c.Key)
	}
	if got := strings.Join(keys, ","); got != "24h,7d,14d,30d" || def.Key != "14d" {
		t.Errorf("windows(14) = %s, default %s", got, def.Key)
	}
	if _, def := windows(7); def.Label != "Last 7 days" {
		t.Errorf("windows(7) default %+v", def)
	}
	if choices, def := windows(1); def.Key != "24h" || len(choices) != 3 {
		t.Errorf("windows(1): default %+v of %d choices; want the 24h choice", def, len(choices))
	}
}
