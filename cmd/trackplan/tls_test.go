package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "trackplan test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

// TestServeTLS: with tls.cert and tls.key the collector and the dashboard
// answer over HTTPS only (TLS 1.2 or later), and a sign-in gets a Secure
// cookie; bad TLS settings are refused before listening.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)

	for name, c := range map[string]TLSConfig{
		"cert only":      {Cert: certFile},
		"key only":       {Key: keyFile},
		"missing file":   {Cert: certFile, Key: filepath.Join(dir, "nope.pem")},
		"key is no key":  {Cert: certFile, Key: certFile},
		"swapped files":  {Cert: keyFile, Key: certFile},
		"cert is no PEM": {Cert: filepath.Join(dir), Key: keyFile},
	} {
		_, err := serverTLS(c)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "BEGIN") {
			t.Errorf("%s: the error shows the files' contents: %v", name, err)
		}
	}
	cfg := DefaultConfig()
	cfg.TLS = TLSConfig{Cert: certFile}
	cfg.TrustedProxies = []string{"10.0.0.0/8", "127.0.0.1", "not-a-cidr"}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "tls") || !strings.Contains(err.Error(), "trusted_proxies[2]") ||
		strings.Contains(err.Error(), "trusted_proxies[1]") {
		t.Errorf("Validate: %v; want errors for tls and trusted_proxies[2] only", err)
	}

	// serve's flags reach the config, and bad settings stop it before it
	// opens anything (the store file is never created).
	db := filepath.Join(dir, "never.db")
	for name, tt := range map[string]struct {
		args []string
		want string
	}{
		"cert flag alone":  {[]string{"--tls-cert", certFile}, "tls: cert and key go together"},
		"key file missing": {[]string{"--tls-cert", certFile, "--tls-key", filepath.Join(dir, "nope.pem")}, "tls.key:"},
	} {
		// A serve that took the settings would run until the deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var stdout, stderr bytes.Buffer
		code := run(ctx, append([]string{"trackplan", "--db", db, "serve", "--listen", "127.0.0.1:0", "--write-key", "k"}, tt.args...),
			nil, &stdout, &stderr)
		cancel()
		if code != 2 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("serve %s: exit %d, stderr %q; want 2 and %q", name, code, stderr.String(), tt.want)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("serve opened the store before refusing its TLS settings")
	}

	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "tls.db"), store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg = DefaultConfig()
	cfg.Dashboard.User, cfg.Dashboard.Password = "ops", Secret("tls-test-password")
	dash, err := newDashboard("127.0.0.1:0", cfg, st, func() *trackplan.Plan { return nil }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := startServer(serverConfig{Listen: "127.0.0.1:0", TLS: TLSConfig{Cert: certFile, Key: keyFile},
		Sources: []segment.Source{{Name: "web", WriteKey: testKey}}, Store: st, Dashboard: dash,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Shutdown(5 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	base := "https://" + srv.Addr
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}

	// The collector answers over HTTPS.
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/track", strings.NewReader(msg("tls-1", "")))
	req.SetBasicAuth(testKey, "")
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST /v1/track over HTTPS: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
		t.Errorf("POST /v1/track: status %d, TLS %v", res.StatusCode, res.TLS)
	}

	// Sign in to the dashboard: the cookie is Secure.
	page := func(res *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	form := page(client.Get(base + "/login"))
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form)
	if m == nil {
		t.Fatalf("no login form over HTTPS:\n%s", form)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{"csrf": {m[1]}, "next": {"/events"},
		"user": {"ops"}, "password": {"tls-test-password"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	setCookie := strings.Join(res.Header.Values("Set-Cookie"), "\n")
	if res.StatusCode != http.StatusSeeOther || !regexp.MustCompile(`trackplan_session=[^;]+;.*Secure`).MatchString(setCookie) {
		t.Errorf("sign-in over HTTPS: status %d, Set-Cookie:\n%s", res.StatusCode, setCookie)
	}

	// TLS 1.1 and plain HTTP are refused.
	old := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}}
	if res, err := old.Get(base + "/healthz"); err == nil {
		res.Body.Close()
		t.Error("a TLS 1.1 client was served")
	}
	res, err = http.Get("http://" + srv.Addr + "/healthz")
	if err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the HTTPS listener: status %d, want 400", res.StatusCode)
		}
	}
}
