package segment

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxUserAgent bounds the User-Agent kept with each message.
const maxUserAgent = 512

// clientAddr is the address a request came from, without its port. When
// the peer is one of the collector's trusted proxies, it is the nearest
// address of X-Forwarded-For that is not a trusted proxy: the rightmost
// one, since a client can put anything at the left of that header.
func (c *Collector) clientAddr(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	if len(c.TrustedProxies) == 0 || !c.trusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if hop == "" {
			continue
		}
		if _, err := netip.ParseAddr(hop); err != nil {
			return peer // a hop that is not an address: trust nothing beyond it
		}
		if !c.trusted(hop) {
			return hop
		}
	}
	return peer
}

func (c *Collector) trusted(addr string) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range c.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// userAgent is the request's User-Agent, bounded and valid UTF-8.
func userAgent(r *http.Request) string {
	ua := r.Header.Get("User-Agent")
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return strings.ToValidUTF8(ua, "\uFFFD")
}
