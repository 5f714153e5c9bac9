package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientAddr: X-Forwarded-For is believed only from a trusted proxy,
// and then only up to the rightmost hop that is not a trusted proxy —
// whatever a client writes left of that is ignored.
func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name, peer string
		xff        []string
		trusted    []netip.Prefix
		want       string
	}{
		{"no proxies configured", "127.0.0.1:40000", []string{"203.0.113.7"}, nil, "127.0.0.1"},
		{"untrusted peer's header ignored", "192.0.2.9:40000", []string{"203.0.113.7"}, trusted, "192.0.2.9"},
		{"trusted proxy believed", "127.0.0.1:40000", []string{"203.0.113.7"}, trusted, "203.0.113.7"},
		{"client's own entries ignored", "127.0.0.1:40000", []string{"198.51.100.1, 203.0.113.7"}, trusted, "203.0.113.7"},
		{"chain of trusted proxies", "127.0.0.1:40000", []string{"203.0.113.7, 10.1.2.3", "10.9.9.9"}, trusted, "203.0.113.7"},
		{"port in an entry", "127.0.0.1:40000", []string{"203.0.113.7:5555"}, trusted, "203.0.113.7"},
		{"IPv6 entry", "127.0.0.1:40000", []string{"2001:db8::7"}, trusted, "2001:db8::7"},
		{"malformed entry stops at the proxy", "127.0.0.1:40000", []string{"203.0.113.7, garbage"}, trusted, "127.0.0.1"},
		{"every hop trusted", "127.0.0.1:40000", []string{"10.1.1.1"}, trusted, "10.1.1.1"},
		{"no header from a proxy", "127.0.0.1:40000", nil, trusted, "127.0.0.1"},
		{"mapped peer", "[::ffff:127.0.0.1]:40000", []string{"203.0.113.7"}, trusted, "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, tt.trusted); got.String() != tt.want {
				t.Fatalf("clientAddr = %s, want %s", got, tt.want)
			}
			var want string
			if p := netip.MustParseAddrPort(tt.peer); p.Addr().Unmap().String() == tt.want {
				want = tt.peer // untouched
			} else {
				want = netip.AddrPortFrom(netip.MustParseAddr(tt.want), 0).String()
			}
			if got := withClient(r, tt.trusted).RemoteAddr; got != want {
				t.Fatalf("RemoteAddr seen by handlers = %s, want %s", got, want)
			}
		})
	}
}
