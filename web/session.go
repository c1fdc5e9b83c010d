package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

// DefaultSessionTTL is how long a dashboard session lasts after signing in.
const DefaultSessionTTL = 12 * time.Hour

// maxSessions bounds the session table; past it the session closest to
// expiring is dropped.
const maxSessions = 10_000

// session is one signed-in browser.
type session struct {
	expires time.Time
	// csrf is the token the session's forms carry in a hidden field; a
	// cross-site page cannot read it.
	csrf string
}

// sessionStore is the table of live sessions, in this process's memory,
// keyed by the SHA-256 of a random 256-bit id that only the browser's
// cookie holds. A server-side table rather than a signed (HMAC) cookie
// because signing out must end the session on the server: a signed cookie
// stays valid until it expires, whoever copied it, while a deleted table
// entry is gone. The table stays small (sign-ins are rate-limited, entries
// expire) and is bounded by maxSessions. A restart empties it, which signs
// everyone out: acceptable for an operator's dashboard, and it also ends
// every session when the configured credentials change.
type sessionStore struct {
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[[32]byte]*session
}

func newSessionStore(ttl time.Duration, now func() time.Time) *sessionStore {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	return &sessionStore{ttl: ttl, now: now, m: map[[32]byte]*session{}}
}

// randomToken returns 32 random bytes, base64url-encoded.
func randomToken() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics if the system's source does)
	return b
}

// create starts a session and returns its id (the cookie's value) and
// its record.
func (s *sessionStore) create() (string, session) {
	id := randomToken()
	sess := &session{expires: s.now().Add(s.ttl), csrf: randomToken()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		s.sweep()
	}
	if len(s.m) >= maxSessions {
		var oldest [32]byte
		var at time.Time
		for k, v := range s.m {
			if at.IsZero() || v.expires.Before(at) {
				oldest, at = k, v.expires
			}
		}
		delete(s.m, oldest)
	}
	s.m[sha256.Sum256([]byte(id))] = sess
	return id, *sess
}

// sweep drops the expired sessions; s.mu is held.
func (s *sessionStore) sweep() {
	now := s.now()
	for k, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, k)
		}
	}
}

// get returns the live session of a cookie value.
func (s *sessionStore) get(id string) (session, bool) {
	if id == "" {
		return session{}, false
	}
	key := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[key]
	if !ok {
		return session{}, false
	}
	if !s.now().Before(sess.expires) {
		delete(s.m, key)
		return session{}, false
	}
	return *sess, true
}

// end deletes a session; an unknown id is no error.
func (s *sessionStore) end(id string) {
	key := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

// sameToken compares two tokens in constant time; an empty token matches
// nothing.
func sameToken(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	da, db := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(da[:], db[:]) == 1
}
