package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// RequireAuth returns the middleware that guards the dashboard served on
// listenAddr (host:port, as given to net.Listen).
//
// Configured credentials are always required: a bearer token
// (Authorization: Bearer TOKEN), HTTP basic auth (user and password), or
// either when both are set. Without credentials the dashboard is open on a
// loopback listener (127.0.0.0/8, ::1, localhost) and RequireAuth refuses
// any other address with an error, so a dashboard is never served to the
// network unauthenticated. Credentials are compared in constant time.
func RequireAuth(listenAddr, token, user, password string) (func(http.Handler) http.Handler, error) {
	if (user == "") != (password == "") {
		return nil, errors.New("dashboard auth: basic auth needs both a user and a password")
	}
	hasBasic := user != ""
	if token == "" && !hasBasic {
		loopback, err := isLoopback(listenAddr)
		if err != nil {
			return nil, err
		}
		if !loopback {
			return nil, fmt.Errorf("dashboard auth: %s is reachable beyond this machine: set a dashboard token or a basic-auth user and password, or listen on 127.0.0.1", listenAddr)
		}
		return LoopbackHosts(listenAddr), nil
	}
	c := credentials{basic: hasBasic}
	if token != "" {
		c.token = digest(token)
		c.hasToken = true
	}
	if hasBasic {
		c.user, c.password = digest(user), digest(password)
	}
	return c.middleware, nil
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

func digest(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func (c credentials) allowed(r *http.Request) bool {
	if c.hasToken {
		if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
			got := digest(strings.TrimSpace(tok))
			if subtle.ConstantTimeCompare(got[:], c.token[:]) == 1 {
				return true
			}
		}
	}
	if c.basic {
		if u, p, ok := r.BasicAuth(); ok {
			gu, gp := digest(u), digest(p)
			userOK := subtle.ConstantTimeCompare(gu[:], c.user[:])
			passOK := subtle.ConstantTimeCompare(gp[:], c.password[:])
			if userOK&passOK == 1 {
				return true
			}
		}
	}
	return false
}

func (c credentials) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.allowed(r) {
			next.ServeHTTP(w, r)
			return
		}
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
	})
}
