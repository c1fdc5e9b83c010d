package web

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for the session table and the limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// signInWorld is the dashboard behind a guard with a password and a token.
type signInWorld struct {
	clock *clock
	auth  *Auth
	h     http.Handler
	logs  *bytes.Buffer
}

const (
	testUser     = "ops"
	testPassword = "correct horse battery"
	testToken    = "t0ken-for-scripts"
)

func newSignInWorld(t *testing.T, o AuthOptions) *signInWorld {
	t.Helper()
	c := &clock{t: fixedNow}
	logs := &bytes.Buffer{}
	if o.Listen == "" {
		o.Listen = ":8088"
	}
	if o.User == "" && o.Token == "" && o.Listen == ":8088" {
		o.User, o.Password, o.Token = testUser, testPassword, testToken
	}
	o.Now = c.Now
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	a, err := NewAuth(o)
	if err != nil {
		t.Fatal(err)
	}
	f := fixture()
	h, err := New(Options{Data: f, Volumes: f, Traits: f, Activity: f, Plans: f, Auth: a, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &signInWorld{clock: c, auth: a, h: a.Require(h), logs: logs}
}

// serve runs one request through the guarded dashboard.
func (w *signInWorld) serve(req *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// formToken reads the hidden CSRF token of a page's form.
func formToken(t *testing.T, page string) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field in the page:\n%s", page)
	}
	return m[1]
}

func cookieOf(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// loginForm opens the login page and returns its token and login cookie.
func (w *signInWorld) loginForm(t *testing.T) (string, *http.Cookie) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/login?next=%2Faccounts", nil)
	req.Header.Set("Accept", "text/html")
	res := w.serve(req)
	page := body(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /login: status %d\n%s", res.StatusCode, page)
	}
	c := cookieOf(res, loginCookie)
	if c == nil {
		t.Fatal("GET /login set no login cookie")
	}
	return formToken(t, page), c
}

// loginRequest is a same-origin POST of the login form.
func loginRequest(csrf string, login *http.Cookie, fields url.Values) *http.Request {
	form := url.Values{"csrf": {csrf}, "next": {"/accounts"}}
	for k, v := range fields {
		form[k] = v
	}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://example.com")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if login != nil {
		req.AddCookie(login)
	}
	return req
}

var rightPassword = url.Values{"user": {testUser}, "password": {testPassword}}

// signIn signs in and returns the session cookie.
func (w *signInWorld) signIn(t *testing.T) *http.Cookie {
	t.Helper()
	csrf, login := w.loginForm(t)
	res := w.serve(loginRequest(csrf, login, rightPassword))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: status %d\n%s", res.StatusCode, body(t, res))
	}
	c := cookieOf(res, SessionCookie)
	if c == nil {
		t.Fatal("sign-in set no session cookie")
	}
	return c
}

// page asks for a dashboard page as a browser with the cookie.
func (w *signInWorld) page(target string, c *http.Cookie) *http.Response {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if c != nil {
		req.AddCookie(c)
	}
	return w.serve(req)
}

func TestLoginCookie(t *testing.T) {
	tests := []struct {
		name       string
		remote     string
		tls        bool
		forwarded  string
		wantSecure bool
	}{
		{name: "direct TLS", remote: "203.0.113.9:5000", tls: true, wantSecure: true},
		{name: "trusted proxy says https", remote: "10.1.2.3:5000", forwarded: "https", wantSecure: true},
		{name: "trusted proxy says http", remote: "10.1.2.3:5000", forwarded: "http"},
		{name: "untrusted peer says https", remote: "203.0.113.9:5000", forwarded: "https"},
		{name: "plain HTTP", remote: "203.0.113.9:5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newSignInWorld(t, AuthOptions{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
			csrf, login := w.loginForm(t)
			req := loginRequest(csrf, login, rightPassword)
			req.RemoteAddr = tt.remote
			if tt.tls {
				req.TLS = &tls.ConnectionState{}
			}
			if tt.forwarded != "" {
				req.Header.Set("X-Forwarded-Proto", tt.forwarded)
			}
			res := w.serve(req)
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
				t.Fatalf("status %d, Location %q; want 303 to /accounts", res.StatusCode, res.Header.Get("Location"))
			}
			c := cookieOf(res, SessionCookie)
			if c == nil {
				t.Fatal("no session cookie")
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
				t.Errorf("cookie HttpOnly %v, SameSite %v, Path %q; want HttpOnly, Lax, /", c.HttpOnly, c.SameSite, c.Path)
			}
			if c.MaxAge != int(DefaultSessionTTL/time.Second) || !c.Expires.Equal(fixedNow.Add(DefaultSessionTTL).Truncate(time.Second)) {
				t.Errorf("cookie Max-Age %d, Expires %v; want %d and %v", c.MaxAge, c.Expires, int(DefaultSessionTTL/time.Second), fixedNow.Add(DefaultSessionTTL))
			}
			if c.Secure != tt.wantSecure {
				t.Errorf("cookie Secure %v, want %v", c.Secure, tt.wantSecure)
			}
			if got := w.page("/accounts", c); got.StatusCode != http.StatusOK {
				t.Errorf("GET /accounts with the cookie: status %d", got.StatusCode)
			}
		})
	}
}

func TestLoginRefused(t *testing.T) {
	tests := []struct {
		name   string
		fields url.Values
	}{
		{"wrong password", url.Values{"user": {testUser}, "password": {"correct horse battery!"}}},
		{"wrong user", url.Values{"user": {"root"}, "password": {testPassword}}},
		{"wrong token", url.Values{"token": {"t0ken-for-script"}}},
		{"password as token", url.Values{"token": {testPassword}}},
		{"nothing", url.Values{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newSignInWorld(t, AuthOptions{})
			csrf, login := w.loginForm(t)
			res := w.serve(loginRequest(csrf, login, tt.fields))
			page := body(t, res)
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", res.StatusCode)
			}
			if c := cookieOf(res, SessionCookie); c != nil {
				t.Errorf("a refused sign-in set a session cookie: %v", c)
			}
			if !strings.Contains(page, `id="login-error"`) || !strings.Contains(page, "Wrong token, or user name or password.") {
				t.Errorf("the page shows no error message:\n%s", page)
			}
			for _, secret := range []string{testPassword, testToken, "correct horse"} {
				if strings.Contains(page, secret) || strings.Contains(w.logs.String(), secret) {
					t.Errorf("a secret reached the page or the log")
				}
			}
		})
	}
}

func TestLoginThrottled(t *testing.T) {
	w := newSignInWorld(t, AuthOptions{})
	csrf, login := w.loginForm(t)
	wrong := url.Values{"user": {testUser}, "password": {"guess"}}
	for i := range DefaultFailuresPerIP {
		if res := w.serve(loginRequest(csrf, login, wrong)); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, res.StatusCode)
		}
		w.clock.Add(time.Second)
	}
	// Throttled now, even with the right password.
	res := w.serve(loginRequest(csrf, login, rightPassword))
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after %d failures: status %d, want 429", DefaultFailuresPerIP, res.StatusCode)
	}
	if got := res.Header.Get("Retry-After"); got != "55" { // the first failure leaves the minute in 55s
		t.Errorf("Retry-After %q, want 55", got)
	}
	if cookieOf(res, SessionCookie) != nil {
		t.Error("a throttled sign-in set a session cookie")
	}
	// Scripts are throttled too.
	req := httptest.NewRequest(http.MethodGet, "/accounts", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if res := w.serve(req); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("bearer from a throttled client: status %d, want 429", res.StatusCode)
	}
	// Another client is not.
	other := loginRequest(csrf, login, rightPassword)
	other.RemoteAddr = "198.51.100.7:4000"
	if res := w.serve(other); res.StatusCode != http.StatusSeeOther {
		t.Errorf("another client: status %d, want 303", res.StatusCode)
	}
	// Once the window has passed, the client may try again.
	w.clock.Add(55 * time.Second)
	if res := w.serve(loginRequest(csrf, login, rightPassword)); res.StatusCode != http.StatusSeeOther {
		t.Errorf("a minute later: status %d, want 303", res.StatusCode)
	}
}

func TestLoginThrottledOverall(t *testing.T) {
	w := newSignInWorld(t, AuthOptions{FailuresOverall: 3})
	// Failed bearer tokens from three clients count towards the overall
	// limit as failed sign-ins do.
	for i := range 3 {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}).String() + ":4000"
		req.Header.Set("Authorization", "Bearer nope")
		if res := w.serve(req); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, res.StatusCode)
		}
	}
	csrf, login := w.loginForm(t)
	res := w.serve(loginRequest(csrf, login, rightPassword))
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "60" {
		t.Errorf("a fourth client: status %d, Retry-After %q; want 429, 60", res.StatusCode, res.Header.Get("Retry-After"))
	}
}

func TestLimiterIPv6Block(t *testing.T) {
	c := &clock{t: fixedNow}
	l := newLoginLimiter(c.Now, 2, 100)
	l.fail(netip.MustParseAddr("2001:db8::1"))
	l.fail(netip.MustParseAddr("2001:db8::2"))
	if l.retryAfter(netip.MustParseAddr("2001:db8::ffff")) == 0 {
		t.Error("the same /64 is not throttled")
	}
	if l.retryAfter(netip.MustParseAddr("2001:db8:0:1::1")) != 0 {
		t.Error("another /64 is throttled")
	}
}

func TestClientIPBehindProxy(t *testing.T) {
	a, err := NewAuth(AuthOptions{Listen: ":1", Token: "x", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ remote, xff, want string }{
		{"10.0.0.1:1", "198.51.100.7", "198.51.100.7"},
		{"10.0.0.1:1", "203.0.113.1, 198.51.100.7, 10.0.0.2", "198.51.100.7"},
		{"10.0.0.1:1", "", "10.0.0.1"},
		{"10.0.0.1:1", "garbage", "10.0.0.1"},
		{"203.0.113.5:1", "198.51.100.7", "203.0.113.5"}, // an untrusted peer's header is ignored
		{"[::ffff:203.0.113.5]:1", "", "203.0.113.5"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = tt.remote
		if tt.xff != "" {
			req.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := a.clientIP(req).String(); got != tt.want {
			t.Errorf("peer %s, X-Forwarded-For %q: client %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
}

func TestCSRF(t *testing.T) {
	w := newSignInWorld(t, AuthOptions{})
	session := w.signIn(t)
	res := w.page("/logout", session)
	page := body(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /logout: status %d", res.StatusCode)
	}
	token := formToken(t, page)
	logout := func(csrf string, headers map[string]string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/logout", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		req.AddCookie(session)
		return req
	}
	sameOrigin := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}
	refused := []struct {
		name string
		req  *http.Request
	}{
		{"no token", logout("", sameOrigin)},
		{"wrong token", logout(token+"x", sameOrigin)},
		{"login token", logout(func() string { tok, _ := w.loginForm(t); return tok }(), sameOrigin)},
		{"cross-site fetch", logout(token, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})},
		{"same-site fetch", logout(token, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://sub.example.com"})},
		{"cross-site origin, old browser", logout(token, map[string]string{"Origin": "https://evil.example"})},
	}
	for _, tt := range refused {
		if res := w.serve(tt.req); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tt.name, res.StatusCode)
		}
		if res := w.page("/", session); res.StatusCode != http.StatusOK {
			t.Fatalf("%s: the session ended (status %d)", tt.name, res.StatusCode)
		}
	}

	// The login form: its token must match the login cookie, and it must
	// come from this origin.
	csrf, login := w.loginForm(t)
	for name, req := range map[string]*http.Request{
		"login without token":       loginRequest("", login, rightPassword),
		"login without cookie":      loginRequest(csrf, nil, rightPassword),
		"login with another cookie": loginRequest(csrf, &http.Cookie{Name: loginCookie, Value: randomToken()}, rightPassword),
		"login cross-site": func() *http.Request {
			r := loginRequest(csrf, login, rightPassword)
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			r.Header.Set("Origin", "https://evil.example")
			return r
		}(),
	} {
		res := w.serve(req)
		if res.StatusCode != http.StatusForbidden || cookieOf(res, SessionCookie) != nil {
			t.Errorf("%s: status %d, want 403 and no session", name, res.StatusCode)
		}
	}

	// The real sign-out works, and ends the session.
	res = w.serve(logout(token, sameOrigin))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?signed-out" {
		t.Fatalf("sign-out: status %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	if c := cookieOf(res, SessionCookie); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("sign-out did not clear the cookie: %v", c)
	}
	if res := w.page("/", session); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the old cookie after sign-out: status %d, want 303 to the login page", res.StatusCode)
	}
	// Signing out again (a stale page) leads to the login page.
	if res := w.serve(logout(token, sameOrigin)); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?signed-out" {
		t.Errorf("second sign-out: status %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestSignInRedirects(t *testing.T) {
	w := newSignInWorld(t, AuthOptions{})
	res := w.page("/accounts?band=engaged&sort=name", nil)
	if want := "/login?next=%2Faccounts%3Fband%3Dengaged%26sort%3Dname"; res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
		t.Errorf("browser without a session: status %d, Location %q; want 303 to %s", res.StatusCode, res.Header.Get("Location"), want)
	}
	// A script gets 401 and the challenges.
	res = w.serve(httptest.NewRequest(http.MethodGet, "/accounts", nil))
	if res.StatusCode != http.StatusUnauthorized || len(res.Header.Values("WWW-Authenticate")) != 2 {
		t.Errorf("script without credentials: status %d, WWW-Authenticate %q", res.StatusCode, res.Header.Values("WWW-Authenticate"))
	}
	// Bearer and basic auth still work, for scripts and browsers.
	for _, authz := range []string{"Bearer " + testToken, basic(testUser, testPassword)} {
		req := httptest.NewRequest(http.MethodGet, "/accounts", nil)
		req.Header.Set("Authorization", authz)
		req.Header.Set("Accept", "text/html")
		if res := w.serve(req); res.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d, want 200", strings.Fields(authz)[0], res.StatusCode)
		}
	}
	// The login page and the static files need no session.
	if res := w.page("/static/app.css", nil); res.StatusCode != http.StatusOK {
		t.Errorf("static file: status %d", res.StatusCode)
	}
	// Signed in, the login page sends the browser on.
	session := w.signIn(t)
	res = w.page("/login?next=%2Fevents", session)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/events" {
		t.Errorf("login page when signed in: status %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	// A signed-in page links to signing out.
	if page := body(t, w.page("/", session)); !strings.Contains(page, `<a class="signout" href="/logout">`) {
		t.Error("no sign-out link on the overview")
	}
}

func TestSessionCookieRefused(t *testing.T) {
	w := newSignInWorld(t, AuthOptions{})
	session := w.signIn(t)
	tampered := *session
	tampered.Value = session.Value[:len(session.Value)-1] + map[bool]string{true: "A", false: "B"}[strings.HasSuffix(session.Value, "B")]
	for name, c := range map[string]*http.Cookie{
		"tampered": &tampered,
		"empty":    {Name: SessionCookie, Value: ""},
		"made up":  {Name: SessionCookie, Value: randomToken()},
	} {
		if res := w.page("/", c); res.StatusCode != http.StatusSeeOther {
			t.Errorf("%s cookie: status %d, want 303 to the login page", name, res.StatusCode)
		}
	}
	if res := w.page("/", session); res.StatusCode != http.StatusOK {
		t.Fatalf("the real cookie: status %d", res.StatusCode)
	}
	w.clock.Add(DefaultSessionTTL - time.Second)
	if res := w.page("/", session); res.StatusCode != http.StatusOK {
		t.Errorf("just before expiry: status %d, want 200", res.StatusCode)
	}
	w.clock.Add(time.Second)
	if res := w.page("/", session); res.StatusCode != http.StatusSeeOther {
		t.Errorf("expired cookie: status %d, want 303 to the login page", res.StatusCode)
	}
}

func TestLocalPath(t *testing.T) {
	tests := []struct{ next, want string }{
		{"/accounts?band=engaged", "/accounts?band=engaged"},
		{"/users/u%2Falice", "/users/u%2Falice"},
		{"/", "/"},
		{"", "/"},
		{"//evil.com", "/"},
		{"///evil.com", "/"},
		{"https://evil.com", "/"},
		{"http:/evil.com", "/"},
		{`/\evil.com`, "/"},
		{`\\evil.com`, "/"},
		{`/\/evil.com`, "/"},
		{"javascript:alert(1)", "/"},
		{"/\t/evil.com", "/"},
		{"/\n/evil.com", "/"},
		{"evil.com", "/"},
		{"accounts", "/"},
		{"/login?next=//evil.com", "/"},
		{"/logout", "/"},
		{"/" + strings.Repeat("a", 3000), "/"},
	}
	for _, tt := range tests {
		if got := localPath(tt.next); got != tt.want {
			t.Errorf("localPath(%q) = %q, want %q", tt.next, got, tt.want)
		}
	}
	// And through the login form.
	w := newSignInWorld(t, AuthOptions{})
	csrf, login := w.loginForm(t)
	req := loginRequest(csrf, login, rightPassword)
	req.Form, req.PostForm = nil, nil
	form := url.Values{"csrf": {csrf}, "next": {"//evil.com/x"}, "user": {testUser}, "password": {testPassword}}
	req.Body = io.NopCloser(strings.NewReader(form.Encode()))
	if res := w.serve(req); res.Header.Get("Location") != "/" {
		t.Errorf("sign-in with next=//evil.com/x: Location %q, want /", res.Header.Get("Location"))
	}
}

// TestOpenDashboardSignIn: without credentials, on loopback, there is no
// login page, and cross-origin POSTs are still refused.
func TestOpenDashboardSignIn(t *testing.T) {
	w := newSignInWorld(t, AuthOptions{Listen: "127.0.0.1:8088"})
	req := httptest.NewRequest(http.MethodGet, "/login?next=%2Fevents", nil)
	req.Host = "127.0.0.1:8088"
	if res := w.serve(req); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/events" {
		t.Errorf("GET /login: status %d, Location %q; want 303 to /events", res.StatusCode, res.Header.Get("Location"))
	}
	req = httptest.NewRequest(http.MethodGet, "/", nil)
	req.Host = "127.0.0.1:8088"
	res := w.serve(req)
	if page := body(t, res); res.StatusCode != http.StatusOK || strings.Contains(page, "signout") {
		t.Errorf("GET /: status %d, or a sign-out link on an open dashboard", res.StatusCode)
	}
	req = httptest.NewRequest(http.MethodPost, "/logout", nil)
	req.Host = "127.0.0.1:8088"
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res := w.serve(req); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: status %d, want 403", res.StatusCode)
	}
}
