package web

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRequireAuthConfig(t *testing.T) {
	tests := []struct {
		addr, token, user, password string
		wantErr                     bool
		open                        bool // no credential needed
	}{
		{addr: "127.0.0.1:8088", open: true},
		{addr: "127.1.2.3:8088", open: true},
		{addr: "[::1]:8088", open: true},
		{addr: "localhost:8088", open: true},
		{addr: "LOCALHOST:0", open: true},
		{addr: ":8088", wantErr: true},
		{addr: "0.0.0.0:8088", wantErr: true},
		{addr: "[::]:8088", wantErr: true},
		{addr: "10.0.0.5:8088", wantErr: true},
		{addr: "dashboard.example.com:443", wantErr: true},
		{addr: "no-port", wantErr: true},
		{addr: "0.0.0.0:8088", token: "t0ken"},
		{addr: ":8088", user: "ops", password: "pw"},
		{addr: ":8088", user: "ops", wantErr: true},
		{addr: ":8088", password: "pw", wantErr: true},
		{addr: "127.0.0.1:8088", token: "t0ken"}, // configured credentials apply on loopback too
	}
	for _, tt := range tests {
		mw, err := RequireAuth(tt.addr, tt.token, tt.user, tt.password)
		if (err != nil) != tt.wantErr {
			t.Errorf("RequireAuth(%q, token %q, user %q, password %q): error %v, want error %v", tt.addr, tt.token, tt.user, tt.password, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = tt.addr
		mw(okHandler()).ServeHTTP(rec, req)
		if got := rec.Code == http.StatusOK; got != tt.open {
			t.Errorf("RequireAuth(%q, token %q, user %q): anonymous request status %d, want open %v", tt.addr, tt.token, tt.user, rec.Code, tt.open)
		}
	}
}

// TestLoopbackHosts: without credentials, the dashboard answers only to
// Host names of this machine, so a rebound DNS name reads nothing.
func TestLoopbackHosts(t *testing.T) {
	mw, err := RequireAuth("127.0.0.1:8088", "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]int{
		"127.0.0.1:8088": 200, "localhost:8088": 200, "LOCALHOST": 200, "[::1]:8088": 200, "127.9.9.9": 200,
		"evil.example:8088": http.StatusMisdirectedRequest, "evil.example": http.StatusMisdirectedRequest,
		"10.0.0.1:8088": http.StatusMisdirectedRequest, "": http.StatusMisdirectedRequest,
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		mw(okHandler()).ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %q: status %d, want %d", host, rec.Code, want)
		}
	}
}

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func TestRequireAuthRequests(t *testing.T) {
	tokenOnly, err := RequireAuth(":8088", "s3cret-token", "", "")
	if err != nil {
		t.Fatal(err)
	}
	basicOnly, err := RequireAuth(":8088", "", "ops", "hunter2")
	if err != nil {
		t.Fatal(err)
	}
	both, err := RequireAuth(":8088", "s3cret-token", "ops", "hunter2")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		mw            func(http.Handler) http.Handler
		authorization string
		want          int
		challenge     []string
	}{
		{"token: none", tokenOnly, "", 401, []string{`Bearer realm="trackplan"`}},
		{"token: right", tokenOnly, "Bearer s3cret-token", 200, nil},
		{"token: scheme case", tokenOnly, "bearer s3cret-token", 200, nil},
		{"token: wrong", tokenOnly, "Bearer s3cret-tokem", 401, []string{`Bearer realm="trackplan"`}},
		{"token: prefix", tokenOnly, "Bearer s3cret", 401, []string{`Bearer realm="trackplan"`}},
		{"token: empty", tokenOnly, "Bearer ", 401, []string{`Bearer realm="trackplan"`}},
		{"token: as basic password", tokenOnly, basic("x", "s3cret-token"), 401, []string{`Bearer realm="trackplan"`}},
		{"basic: none", basicOnly, "", 401, []string{`Basic realm="trackplan", charset="UTF-8"`}},
		{"basic: right", basicOnly, basic("ops", "hunter2"), 200, nil},
		{"basic: wrong password", basicOnly, basic("ops", "hunter3"), 401, []string{`Basic realm="trackplan", charset="UTF-8"`}},
		{"basic: wrong user", basicOnly, basic("dev", "hunter2"), 401, []string{`Basic realm="trackplan", charset="UTF-8"`}},
		{"basic: bearer ignored", basicOnly, "Bearer hunter2", 401, []string{`Basic realm="trackplan", charset="UTF-8"`}},
		{"both: token", both, "Bearer s3cret-token", 200, nil},
		{"both: basic", both, basic("ops", "hunter2"), 200, nil},
		{"both: none", both, "", 401, []string{`Basic realm="trackplan", charset="UTF-8"`, `Bearer realm="trackplan"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/accounts", nil)
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			rec := httptest.NewRecorder()
			tt.mw(okHandler()).ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d", rec.Code, tt.want)
			}
			if diff := cmp.Diff(tt.challenge, rec.Header().Values("WWW-Authenticate")); diff != "" {
				t.Errorf("WWW-Authenticate (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRequireAuthThrottled: scripts guessing the token of /metrics are
// limited as failed sign-ins are.
func TestRequireAuthThrottled(t *testing.T) {
	mw, err := RequireAuth(":8088", "s3cret-token", "", "")
	if err != nil {
		t.Fatal(err)
	}
	h := mw(okHandler())
	status := func(authorization string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Authorization", authorization)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Header().Get("Retry-After")
	}
	for i := range DefaultFailuresPerIP {
		if code, _ := status("Bearer guess"); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: status %d, want 401", i+1, code)
		}
	}
	if code, retry := status("Bearer s3cret-token"); code != http.StatusTooManyRequests || retry == "" {
		t.Errorf("after %d guesses: status %d, Retry-After %q; want 429 with Retry-After", DefaultFailuresPerIP, code, retry)
	}
}
