package segment

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// TestClientAddr: X-Forwarded-For names the client only when the peer is a
// trusted proxy, and then its rightmost untrusted address (a client can
// write anything at the left of that header).
func TestClientAddr(t *testing.T) {
	c := &Collector{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	tests := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no proxy header", "203.0.113.7:5000", nil, "203.0.113.7"},
		{"untrusted peer sends the header", "203.0.113.7:5000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"trusted proxy", "10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed left hop", "10.1.2.3:5000", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"two proxies", "10.1.2.3:5000", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"header lines", "10.1.2.3:5000", []string{"198.51.100.1", "10.9.9.9"}, "198.51.100.1"},
		{"not an address", "10.1.2.3:5000", []string{"198.51.100.1, unknown"}, "10.1.2.3"},
		{"only proxies", "10.1.2.3:5000", []string{"10.9.9.9"}, "10.1.2.3"},
		{"empty header", "10.1.2.3:5000", []string{""}, "10.1.2.3"},
		{"IPv6", "[fd00::1]:5000", []string{"2001:db8::7"}, "2001:db8::7"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:5000", []string{"198.51.100.1"}, "198.51.100.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/batch", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := c.clientAddr(r); got != tt.want {
				t.Errorf("clientAddr = %q; want %q", got, tt.want)
			}
		})
	}
	r := httptest.NewRequest("POST", "/v1/batch", nil)
	r.RemoteAddr = "10.1.2.3:5000"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := (&Collector{}).clientAddr(r); got != "10.1.2.3" {
		t.Errorf("without trusted proxies: %q; want the peer", got)
	}
	r.Header.Set("User-Agent", strings.Repeat("é", 400)+"\xff")
	if ua := userAgent(r); len(ua) > maxUserAgent+3 || !strings.HasPrefix(ua, "é") || strings.Contains(ua, "\xff") {
		t.Errorf("userAgent kept %d bytes: %q", len(ua), ua)
	}
}
