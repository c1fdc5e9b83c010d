package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/trackplan/trackplan/internal/retryafter"
)

// Cookie names of the sign-in.
const (
	// SessionCookie holds a signed-in browser's session id.
	SessionCookie = "trackplan_session"
	// loginCookie holds the login form's CSRF token (double submit: the
	// form's hidden field must match it).
	loginCookie = "trackplan_login"
	// csrfField is the hidden form field of every POST form.
	csrfField = "csrf"
	// maxFormBytes caps the body of the dashboard's forms.
	maxFormBytes = 64 << 10
)

// AuthOptions configures NewAuth.
type AuthOptions struct {
	// Listen is the dashboard's listen address (host:port, as given to
	// net.Listen): without credentials, only a loopback address is allowed.
	Listen string
	// Token, or User and Password, or all three, are the credentials.
	Token          string
	User, Password string
	// TrustedProxies are the peers whose X-Forwarded-Proto and
	// X-Forwarded-For headers are believed (a TLS-terminating reverse
	// proxy); none by default.
	TrustedProxies []netip.Prefix
	// SessionTTL is how long a sign-in lasts; 0 means DefaultSessionTTL.
	SessionTTL time.Duration
	// FailuresPerIP and FailuresOverall bound the failed sign-ins per
	// minute from one client address and from all; past either, sign-ins
	// are answered 429 until the minute has passed. 0 means
	// DefaultFailuresPerIP and DefaultFailuresOverall.
	FailuresPerIP, FailuresOverall int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives refused sign-ins (never a credential); nil discards.
	Logger *slog.Logger
}

// Defaults of AuthOptions.
const (
	DefaultFailuresPerIP   = 5
	DefaultFailuresOverall = 60
)

// Auth guards the dashboard: see NewAuth.
type Auth struct {
	listen   string
	open     bool // no credentials: loopback only, no sign-in
	creds    credentials
	sessions *sessionStore
	limiter  *loginLimiter
	trusted  []netip.Prefix
	cop      *http.CrossOriginProtection
	log      *slog.Logger
}

// NewAuth returns the dashboard's guard. Configured credentials are always
// required: a browser signs in once on the login page (GET and POST
// /login, served by Handler) and then carries a session cookie; a script
// sends a bearer token (Authorization: Bearer TOKEN) or HTTP basic auth on
// every request. Without credentials the dashboard is open on a loopback
// listener (127.0.0.0/8, ::1, localhost) and NewAuth refuses any other
// address with an error, so a dashboard is never served to the network
// unauthenticated. Credentials are compared in constant time.
func NewAuth(o AuthOptions) (*Auth, error) {
	if (o.User == "") != (o.Password == "") {
		return nil, errors.New("dashboard auth: basic auth needs both a user and a password")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Auth{
		listen:   o.Listen,
		trusted:  o.TrustedProxies,
		cop:      http.NewCrossOriginProtection(),
		log:      o.Logger,
		sessions: newSessionStore(o.SessionTTL, o.Now),
		limiter:  newLoginLimiter(o.Now, o.FailuresPerIP, o.FailuresOverall),
	}
	a.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forbidden(w, "cross-origin request refused")
	}))
	if o.Token == "" && o.User == "" {
		loopback, err := isLoopback(o.Listen)
		if err != nil {
			return nil, err
		}
		if !loopback {
			return nil, fmt.Errorf("dashboard auth: %s is reachable beyond this machine: set a dashboard token or a basic-auth user and password, or listen on 127.0.0.1", o.Listen)
		}
		a.open = true
		return a, nil
	}
	a.creds = newCredentials(o.Token, o.User, o.Password)
	return a, nil
}

// SignIn reports whether the dashboard has credentials, and so a login
// page.
func (a *Auth) SignIn() bool { return a != nil && !a.open }

// RequireAuth returns a middleware for the endpoints scripts read (such as
// /metrics): it accepts the configured bearer token or basic auth and
// answers anything else 401, with no login page and no session; wrong
// credentials are rate-limited as failed sign-ins are. Without credentials
// it is LoopbackHosts on a loopback listen address, and an error on any
// other. See NewAuth.
func RequireAuth(listenAddr, token, user, password string) (func(http.Handler) http.Handler, error) {
	a, err := NewAuth(AuthOptions{Listen: listenAddr, Token: token, User: user, Password: password})
	if err != nil {
		return nil, err
	}
	if a.open {
		return LoopbackHosts(listenAddr), nil
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "" {
				a.challenge(w)
				return
			}
			a.headerAuth(next, w, r)
		})
	}, nil
}

// Require guards next, the dashboard. A request with the right bearer
// token or basic auth, or the cookie of a live session, is served. The
// login page and the static files are served to anyone. Otherwise a
// browser asking for a page (Accept: text/html) is redirected (303) to
// /login?next=<its path>, and anything else is answered 401 with
// WWW-Authenticate. Wrong credentials count as failed sign-ins, which are
// rate-limited (429 with Retry-After).
//
// Every POST is checked against cross-site request forgery twice: its
// Sec-Fetch-Site or Origin header must be same-origin
// (http.CrossOriginProtection), and its csrf form field must match the
// session's token (or, on the login form, the login cookie). A script's
// request, authenticated by its Authorization header, has no form token
// and needs only the first check (which also stops a browser that replays
// cached basic-auth credentials to a cross-site form). A POST to /logout
// without a live session is sent to the login page: there is nothing to
// end. Without credentials the dashboard is open, answers only
// to loopback Host names (LoopbackHosts), and still refuses cross-origin
// POSTs.
func (a *Auth) Require(next http.Handler) http.Handler {
	if a.open {
		guarded := LoopbackHosts(a.listen)(next)
		return a.cop.Handler(guarded)
	}
	return a.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			a.headerAuth(next, w, r)
			return
		}
		post := r.Method == http.MethodPost
		if post {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "400 bad request: unreadable form", http.StatusBadRequest)
				return
			}
		}
		if r.URL.Path == "/login" {
			if post && !a.loginTokenOK(r) {
				forbidden(w, "the sign-in form expired or came from another site: reload the login page and try again")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/static/") && !post {
			next.ServeHTTP(w, r)
			return
		}
		if s, ok := a.sessionOf(r); ok {
			if post && !sameToken(r.PostForm.Get(csrfField), s.csrf) {
				forbidden(w, "the form expired or came from another site: reload the page and try again")
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), signedInKey{}, s)))
			return
		}
		if !post && wantsHTML(r) {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if post && r.URL.Path == "/logout" {
			// Signing out of a session that has ended already: nothing to
			// end, so no need for a token.
			http.Redirect(w, r, "/login?signed-out", http.StatusSeeOther)
			return
		}
		a.challenge(w)
	}))
}

// headerAuth serves a request that carries an Authorization header.
func (a *Auth) headerAuth(next http.Handler, w http.ResponseWriter, r *http.Request) {
	ip := a.clientIP(r)
	if retry := a.limiter.retryAfter(ip); retry > 0 {
		tooMany(w, retry)
		return
	}
	if a.creds.allowed(r) {
		next.ServeHTTP(w, r)
		return
	}
	a.limiter.fail(ip)
	a.log.Warn("dashboard credentials refused", "client", ip.String(), "path", r.URL.Path)
	a.challenge(w)
}

// challenge answers 401 with the schemes the dashboard accepts.
func (a *Auth) challenge(w http.ResponseWriter) {
	a.creds.challenge(w)
}

// signedIn is the session a request was authenticated by.
type signedIn struct {
	id string
	session
}

// signedInKey is the request context key of a *signedIn.
type signedInKey struct{}

// signedInFrom returns the session Require found on the request.
func signedInFrom(ctx context.Context) (signedIn, bool) {
	s, ok := ctx.Value(signedInKey{}).(signedIn)
	return s, ok
}

// sessionOf returns the live session of the request's cookie.
func (a *Auth) sessionOf(r *http.Request) (signedIn, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return signedIn{}, false
	}
	s, ok := a.sessions.get(c.Value)
	if !ok {
		return signedIn{}, false
	}
	return signedIn{id: c.Value, session: s}, true
}

// loginTokenOK reports whether a POST to /login carries the login
// cookie's token in its form.
func (a *Auth) loginTokenOK(r *http.Request) bool {
	c, err := r.Cookie(loginCookie)
	return err == nil && sameToken(r.PostForm.Get(csrfField), c.Value)
}

// wantsHTML reports whether a request is a browser's, for a page.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// https reports whether the browser reached the dashboard over HTTPS:
// directly, or through a trusted proxy that says so.
func (a *Auth) https(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !a.trustedPeer(r) {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// peer is the address the request came from.
func peer(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		ip, _ := netip.ParseAddr(r.RemoteAddr)
		return ip.Unmap()
	}
	return ap.Addr().Unmap()
}

func (a *Auth) trusts(ip netip.Addr) bool {
	for _, p := range a.trusted {
		if ip.IsValid() && p.Contains(ip) {
			return true
		}
	}
	return false
}

func (a *Auth) trustedPeer(r *http.Request) bool { return a.trusts(peer(r)) }

// clientIP is the address failed sign-ins are counted against: the peer,
// or, behind trusted proxies, the last address of X-Forwarded-For that is
// not one of them.
func (a *Auth) clientIP(r *http.Request) netip.Addr {
	ip := peer(r)
	if !a.trusts(ip) {
		return ip
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		hop = hop.Unmap()
		if !a.trusts(hop) {
			return hop
		}
	}
	return ip
}

// forbidden answers 403 with a short explanation.
func forbidden(w http.ResponseWriter, why string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "403 forbidden: "+why, http.StatusForbidden)
}

// tooMany answers 429 with Retry-After.
func tooMany(w http.ResponseWriter, retry time.Duration) {
	w.Header().Set("Retry-After", retryafter.Seconds(retry))
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "429 too many failed sign-ins: try again later", http.StatusTooManyRequests)
}

// LoopbackHosts answers 421 to a request whose Host header is not a
// loopback name or address (or the listen address's own host): with no
// credentials, the dashboard is safe only from this machine, and a page on
// another site that points a name of its own at 127.0.0.1 (DNS rebinding)
// must not read it.
func LoopbackHosts(listenAddr string) func(http.Handler) http.Handler {
	listenHost, _, _ := net.SplitHostPort(listenAddr)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host, _, err := net.SplitHostPort(r.Host)
			if err != nil {
				host = r.Host
			}
			host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
			ip := net.ParseIP(host)
			if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) && !strings.EqualFold(host, listenHost) {
				http.Error(w, "unexpected Host header: this dashboard answers on this machine only", http.StatusMisdirectedRequest)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// isLoopback reports whether a listen address accepts only local
// connections. An empty host (":8080") listens on every interface.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("dashboard auth: listen address %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// credentials holds SHA-256 digests of the configured secrets, so every
// comparison is between equal-length values and takes the same time.
type credentials struct {
	hasToken       bool
	token          [32]byte
	basic          bool
	user, password [32]byte
}

func newCredentials(token, user, password string) credentials {
	c := credentials{basic: user != ""}
	if token != "" {
		c.token = digest(token)
		c.hasToken = true
	}
	if c.basic {
		c.user, c.password = digest(user), digest(password)
	}
	return c
}

func digest(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// tokenOK reports whether tok is the configured token.
func (c credentials) tokenOK(tok string) bool {
	if !c.hasToken {
		return false
	}
	got := digest(tok)
	return subtle.ConstantTimeCompare(got[:], c.token[:]) == 1
}

// basicOK reports whether user and password are the configured ones.
func (c credentials) basicOK(user, password string) bool {
	if !c.basic {
		return false
	}
	gu, gp := digest(user), digest(password)
	userOK := subtle.ConstantTimeCompare(gu[:], c.user[:])
	passOK := subtle.ConstantTimeCompare(gp[:], c.password[:])
	return userOK&passOK == 1
}

func (c credentials) allowed(r *http.Request) bool {
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		if c.tokenOK(strings.TrimSpace(tok)) {
			return true
		}
	}
	if u, p, ok := r.BasicAuth(); ok {
		return c.basicOK(u, p)
	}
	return false
}

// challenge answers 401 with WWW-Authenticate for each accepted scheme.
func (c credentials) challenge(w http.ResponseWriter) {
	if c.basic {
		w.Header().Add("WWW-Authenticate", `Basic realm="trackplan", charset="UTF-8"`)
	}
	if c.hasToken {
		w.Header().Add("WWW-Authenticate", `Bearer realm="trackplan"`)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	w.Write([]byte("401 unauthorized: the dashboard needs a token or a user and password\n"))
}
