package httpapi

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr is the one place that decides which address a request comes
// from, for throttling, the access history and logs. It is the peer's
// address, unless the peer is one of the trusted proxies: then it is the
// rightmost address in X-Forwarded-For that is not a trusted proxy. Each
// proxy appends the address it was reached from, so entries left of that
// one are whatever the client wrote and are never believed. A malformed
// entry stops the walk at the proxy that passed it on.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := peer.Addr().Unmap()
	if !isTrusted(addr, trusted) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0 && isTrusted(addr, trusted); i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			break
		}
		addr = hop
	}
	return addr
}

// parseHop reads one X-Forwarded-For entry: an address, or an address and
// port as some proxies write it.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// withClient returns r with RemoteAddr set to its client's address (port
// 0: the client's port is not known) when a trusted proxy forwarded it, so
// that every handler below sees the client, never the proxy.
func withClient(r *http.Request, trusted []netip.Prefix) *http.Request {
	if len(trusted) == 0 {
		return r
	}
	addr := clientAddr(r, trusted)
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if !addr.IsValid() || err != nil || peer.Addr().Unmap() == addr {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.RemoteAddr = netip.AddrPortFrom(addr, 0).String()
	return r2
}
