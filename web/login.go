package web

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/trackplan/trackplan/internal/retryafter"
)

// loginPage is the content of the login page, which also asks to confirm
// signing out.
type loginPage struct {
	// SignOut shows the sign-out form instead of the sign-in form.
	SignOut bool
	// Token and Basic tell which credentials the form asks for.
	Token, Basic bool
	Next         string // where to go after signing in, a local path
	CSRF         string // the form's hidden token
	Error        string // why the last attempt failed
	Notice       string // "You are signed out."
	Expires      timeView
}

// loginForm serves GET /login: the sign-in form, or a redirect when the
// browser is signed in already or the dashboard needs no sign-in.
func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) error {
	next := localPath(r.URL.Query().Get("next"))
	if !h.auth.SignIn() {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	if _, ok := h.auth.sessionOf(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	p := loginPage{Next: next}
	if r.URL.Query().Has("signed-out") {
		p.Notice = "You are signed out."
	}
	return h.renderLogin(w, r, http.StatusOK, p)
}

// renderLogin renders the sign-in form with a fresh (or the current)
// login token.
func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, p loginPage) error {
	p.Token, p.Basic = h.auth.creds.hasToken, h.auth.creds.basic
	p.CSRF = h.auth.loginToken(w, r)
	return h.render(w, status, "login", &layout{Title: "Sign in", Content: p})
}

// loginToken returns the login form's token, setting the login cookie
// unless the browser has one already (so two open login tabs both work).
func (a *Auth) loginToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/login", MaxAge: int(time.Hour / time.Second),
		HttpOnly: true, Secure: a.https(r), SameSite: http.SameSiteStrictMode})
	return tok
}

// login serves POST /login (Require has checked its CSRF token): with the
// right credentials it starts a session and redirects to the form's next
// page.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) error {
	next := localPath(r.PostFormValue("next"))
	if !h.auth.SignIn() {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	a := h.auth
	ip := a.clientIP(r)
	p := loginPage{Next: next}
	if retry := a.limiter.retryAfter(ip); retry > 0 {
		w.Header().Set("Retry-After", retryafter.Seconds(retry))
		p.Error = "Too many failed sign-ins. Try again in " + plural(int((retry+time.Second-1)/time.Second), "second") + "."
		return h.renderLogin(w, r, http.StatusTooManyRequests, p)
	}
	ok := false
	if tok := r.PostFormValue("token"); tok != "" {
		ok = a.creds.tokenOK(tok)
	} else if user := r.PostFormValue("user"); user != "" {
		ok = a.creds.basicOK(user, r.PostFormValue("password"))
	}
	if !ok {
		a.limiter.fail(ip)
		a.log.Warn("dashboard sign-in refused", "client", ip.String())
		p.Error = "Wrong " + credentialName(a.creds) + "."
		// The unknown "Cookie" scheme names the form; browsers show no
		// prompt for it.
		w.Header().Set("WWW-Authenticate", `Cookie realm="trackplan" form-action="/login"`)
		return h.renderLogin(w, r, http.StatusUnauthorized, p)
	}
	a.limiter.succeed(ip)
	id, s := a.sessions.create()
	secure := a.https(r)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", Expires: s.expires,
		MaxAge: int(a.sessions.ttl / time.Second), HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/login", MaxAge: -1, HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteStrictMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// credentialName is what the form asks for, for its error message.
func credentialName(c credentials) string {
	switch {
	case c.hasToken && c.basic:
		return "token, or user name or password"
	case c.hasToken:
		return "token"
	}
	return "user name or password"
}

// logoutForm serves GET /logout: a page that asks to confirm signing out
// (the POST carries the session's CSRF token).
func (h *Handler) logoutForm(w http.ResponseWriter, r *http.Request) error {
	s, ok := signedInFrom(r.Context())
	if !h.auth.SignIn() || !ok {
		// No sign-in, or credentials sent by a script: nothing to end.
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	p := loginPage{SignOut: true, CSRF: s.csrf, Expires: timeOf(s.expires, h.now())}
	return h.render(w, http.StatusOK, "login", &layout{Title: "Sign out", Content: p,
		Nav: nav{Overview: "/", Accounts: "/accounts", Events: "/events"}})
}

// logout serves POST /logout (Require has checked its CSRF token): it ends
// the session and clears the cookie.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	if !h.auth.SignIn() {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	if s, ok := signedInFrom(r.Context()); ok {
		h.auth.sessions.end(s.id)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: h.auth.https(r), SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/login?signed-out", http.StatusSeeOther)
	return nil
}

// localPath returns next when it is a path on this site, else "/": the
// login page must not redirect anywhere else (an open redirect). Browsers
// read "//host", "/\host" and "\\host" as other sites and drop tabs and
// newlines from URLs, so a local path starts with one slash and then
// neither a slash nor a backslash, and holds no backslash or control
// character.
func localPath(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\") {
		return "/"
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	if strings.HasPrefix(u.Path, "/login") || strings.HasPrefix(u.Path, "/logout") {
		return "/"
	}
	return next
}

// loginLimiter counts failed sign-ins in a sliding window, per client
// address (IPv6 by /64, the block one host usually holds) and overall.
type loginLimiter struct {
	now     func() time.Time
	window  time.Duration
	perIP   int
	overall int
	mu      sync.Mutex
	byIP    map[netip.Addr][]time.Time
	all     []time.Time
}

func newLoginLimiter(now func() time.Time, perIP, overall int) *loginLimiter {
	if perIP <= 0 {
		perIP = DefaultFailuresPerIP
	}
	if overall <= 0 {
		overall = DefaultFailuresOverall
	}
	return &loginLimiter{now: now, window: time.Minute, perIP: perIP, overall: overall, byIP: map[netip.Addr][]time.Time{}}
}

// clientKey is the address failures are counted against.
func clientKey(ip netip.Addr) netip.Addr {
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}

// recent drops the times that left the window; l.mu is held.
func (l *loginLimiter) recent(ts []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	return ts[i:]
}

// retryAfter returns how long the client must wait before trying again,
// 0 when it may try now.
func (l *loginLimiter) retryAfter(ip netip.Addr) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	l.all = l.recent(l.all, now)
	if len(l.all) >= l.overall {
		wait = l.all[len(l.all)-l.overall].Add(l.window).Sub(now)
	}
	key := clientKey(ip)
	ts := l.recent(l.byIP[key], now)
	if len(ts) == 0 {
		delete(l.byIP, key)
	} else {
		l.byIP[key] = ts
	}
	if len(ts) >= l.perIP {
		wait = max(wait, ts[len(ts)-l.perIP].Add(l.window).Sub(now))
	}
	return wait
}

// fail counts a failed sign-in.
func (l *loginLimiter) fail(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.all = append(l.recent(l.all, now), now)
	if len(l.all) > l.overall {
		l.all = l.all[len(l.all)-l.overall:]
	}
	key := clientKey(ip)
	ts := append(l.recent(l.byIP[key], now), now)
	if len(ts) > l.perIP {
		ts = ts[len(ts)-l.perIP:]
	}
	l.byIP[key] = ts
	// Drop the clients whose failures all left the window; the overall
	// limit keeps the map small between sweeps.
	for k, v := range l.byIP {
		if len(l.recent(v, now)) == 0 {
			delete(l.byIP, k)
		}
	}
}

// succeed forgets a client's failures once it signed in.
func (l *loginLimiter) succeed(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.byIP, clientKey(ip))
}
