package web

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// section returns the part of body from the element with the given id to
// the end of its section.
func section(t *testing.T, body, id string) string {
	t.Helper()
	start := strings.Index(body, `id="`+id+`"`)
	if start < 0 {
		t.Fatalf("no element with id %q", id)
	}
	s := body[start:]
	if end := strings.Index(s, "</section>"); end >= 0 {
		s = s[:end]
	}
	return s
}

func TestUserPage(t *testing.T) {
	h := newTestHandler(t, fixture())
	res, body := get(t, h, "/users/u-alice")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", res.StatusCode)
	}
	for _, want := range []string{
		"<title>Alice Liddell · trackplan</title>",
		`<h1>Alice Liddell</h1>`,
		`<span class="big-number" id="user-score">95</span>`,
		"· 1 account · 3 merged ids",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s", want)
		}
	}

	// A row per profile whose latest run scores the user, the default
	// first, each linking to the page with that profile selected.
	scores := section(t, body, "user-scores")
	def, trial := strings.Index(scores, `<a href="/users/u-alice">default</a>`), strings.Index(scores, `<a href="/users/u-alice?profile=trial">trial</a>`)
	if def < 0 || trial < def {
		t.Errorf("scores: want a default row, then a trial row:\n%s", scores)
	}
	if !strings.Contains(scores, `<td class="num score">95</td>`) || !strings.Contains(scores, "6 of 7 days") {
		t.Errorf("scores: no score 95 over 6 of 7 days:\n%s", scores)
	}

	accounts := section(t, body, "user-accounts")
	if !strings.Contains(accounts, `<a href="/accounts/acme">Acme Corp</a>`) {
		t.Errorf("accounts: no link to Acme Corp:\n%s", accounts)
	}

	// The user's own values win; merged ids fill in the rest, in sorted
	// order (alice-old before anon-1).
	traits := section(t, body, "user-traits")
	for name, value := range map[string]string{
		"email": "alice@acme.example", "name": "Alice Liddell", "seats": "12",
		"plan_interest": "pro", "utm_source": "ads",
	} {
		// Names break after their underscores (<wbr>) only.
		if want := `<code>` + string(breakable(name)) + `</code></th><td class="trait-value">` + value + `</td>`; !strings.Contains(traits, want) {
			t.Errorf("traits: no %s = %s:\n%s", name, value, traits)
		}
	}
	if strings.Contains(traits, "Anonymous Alice") || strings.Contains(traits, "newsletter") {
		t.Errorf("traits: a merged id's value replaced the user's or an earlier id's:\n%s", traits)
	}

	aka := section(t, body, "also-known-as")
	want := "<li><code>alice-old</code></li>\n<li><code>anon-1</code></li>\n<li><code>anon-2</code></li>"
	if !strings.Contains(aka, want) {
		t.Errorf("also known as: want alice-old, anon-1, anon-2:\n%s", aka)
	}

	// A user of two accounts, scored by one profile only.
	_, body = get(t, h, "/users/u-dave?profile=trial")
	if !strings.Contains(body, "Not scored in the latest run of <strong>trial</strong>.") {
		t.Error("u-dave: the trial profile, which does not score the user, is not named")
	}
	if strings.Contains(body, `id="user-score"`) {
		t.Error("u-dave: a headline score for a profile that does not score the user")
	}
	_, body = get(t, h, "/users/u-carol?profile=trial")
	accounts = section(t, body, "user-accounts")
	// acme is in the trial run, globex only in the default one: each links
	// to the account in a profile that scores it.
	for _, want := range []string{`<a href="/accounts/acme?profile=trial">Acme Corp</a>`, `<a href="/accounts/globex">Globex</a>`} {
		if !strings.Contains(accounts, want) {
			t.Errorf("u-carol: no %s:\n%s", want, accounts)
		}
	}
}

func TestUserRedirect(t *testing.T) {
	h := newTestHandler(t, fixture())
	tests := []struct{ target, want string }{
		{"/users/anon-1", "/users/u-alice"},
		{"/users/alice-old", "/users/u-alice"},
		{"/users/anon-2?profile=trial", "/users/u-alice?profile=trial"},
		{"/users/anon-shared", "/users/u-bob"}, // the first link wins
	}
	for _, tt := range tests {
		res, _ := get(t, h, tt.target)
		if res.StatusCode != http.StatusFound {
			t.Errorf("GET %s: status %d, want 302", tt.target, res.StatusCode)
		}
		if got := res.Header.Get("Location"); got != tt.want {
			t.Errorf("GET %s: Location %q, want %q", tt.target, got, tt.want)
		}
	}
}

func TestUserNotFound(t *testing.T) {
	f := fixture()
	f.userTraits["u-zoe"] = map[string]any{"name": "Zoe"}
	h := newTestHandler(t, f)
	res, body := get(t, h, "/users/nobody")
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown user: status %d, want 404", res.StatusCode)
	}
	if !strings.Contains(body, `<span class="status-code">404</span> Not Found`) || !strings.Contains(body, "user &#34;nobody&#34;") {
		t.Errorf("unknown user: not the 404 page:\n%s", body)
	}
	if res, _ := get(t, h, "/users/u-alice?profile=nope"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown profile: status %d, want 404", res.StatusCode)
	}
	// A user with traits but no score yet has a page.
	res, body = get(t, h, "/users/u-zoe")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Not in the latest scoring run of any profile.") {
		t.Errorf("user with traits only: status %d, want 200 and no scores", res.StatusCode)
	}
}

func TestUserWithoutOptionalSources(t *testing.T) {
	// Data alone: the identity and trait methods of the fake are hidden.
	h, err := New(Options{Data: struct{ Data }{fixture()}, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	res, body := get(t, h, "/users/u-alice")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", res.StatusCode)
	}
	for _, want := range []string{"Traits are not available.", "Merged ids are not available.", `id="user-scores"`} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s", want)
		}
	}
	if res, _ := get(t, h, "/users/anon-1"); res.StatusCode != http.StatusNotFound {
		t.Errorf("merged id without identity links: status %d, want 404", res.StatusCode)
	}
}

func TestUserTraitsFail(t *testing.T) {
	f := fixture()
	f.userTraitsErr = errors.New("traits table locked")
	h := newTestHandler(t, f)
	res, body := get(t, h, "/users/u-alice")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "The user's traits could not be loaded.") {
		t.Errorf("scored user: status %d, want 200 and a note that traits failed", res.StatusCode)
	}
	// A user known by nothing else cannot be told from an unknown one.
	if res, _ := get(t, h, "/users/nobody"); res.StatusCode != http.StatusInternalServerError {
		t.Errorf("unknown user: status %d, want 500", res.StatusCode)
	}
}

func TestIdentityGraphCached(t *testing.T) {
	f := fixture()
	now := fixedNow
	h, err := New(Options{Data: f, Now: func() time.Time { return now }, ScoreCacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	get(t, h, "/users/u-alice")
	get(t, h, "/users/anon-1")
	if n := f.linkReads.Load(); n != 1 {
		t.Errorf("links read %d times within the TTL, want 1", n)
	}
	now = now.Add(2 * time.Minute)
	get(t, h, "/users/u-alice")
	if n := f.linkReads.Load(); n != 2 {
		t.Errorf("links read %d times after the TTL, want 2", n)
	}
}

func TestAccountLinksUsers(t *testing.T) {
	h := newTestHandler(t, fixture())
	tests := []struct{ target, want string }{
		{"/accounts/acme", `<th scope="row"><a href="/users/u-alice"><code>u-alice</code></a></th>`},
		{"/accounts/acme", `Most recently active user: <a href="/users/u-alice"><code>u-alice</code></a>`},
		{"/accounts/acme?profile=trial", `<a href="/users/u-bob?profile=trial"><code>u-bob</code></a>`},
		{"/accounts/a%2Fb", `<a href="/users/u-judy"><code>u-judy</code></a>`},
	}
	for _, tt := range tests {
		_, body := get(t, h, tt.target)
		if !strings.Contains(body, tt.want) {
			t.Errorf("GET %s: no %s", tt.target, tt.want)
		}
	}
	if got := userHref(selection{}, "a/b c"); got != "/users/a%2Fb%20c" {
		t.Errorf("userHref: %q", got)
	}
}

func TestOverviewIdentityConflicts(t *testing.T) {
	f := fixture()
	h := newTestHandler(t, f)
	_, body := get(t, h, "/")
	if want := "3 identity conflicts (anonymous ids seen with more than one user)"; !strings.Contains(body, want) {
		t.Errorf("no %q", want)
	}
	f.observed.Totals.IdentityConflicts = 0
	_, body = get(t, h, "/")
	if strings.Contains(body, "identity conflict") {
		t.Error("identity conflicts shown when there are none")
	}
}
