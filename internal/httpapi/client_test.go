package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// clientAddrTrusted are the proxies of TestClientAddr and FuzzClientAddr.
var clientAddrTrusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}

// clientAddrCases are TestClientAddr's cases and FuzzClientAddr's seeds.
var clientAddrCases = []struct {
	name, peer string
	xff        []string
	trusted    []netip.Prefix
	want       string
}{
	{"no proxies configured", "127.0.0.1:40000", []string{"203.0.113.7"}, nil, "127.0.0.1"},
	{"untrusted peer's header ignored", "192.0.2.9:40000", []string{"203.0.113.7"}, clientAddrTrusted, "192.0.2.9"},
	{"trusted proxy believed", "127.0.0.1:40000", []string{"203.0.113.7"}, clientAddrTrusted, "203.0.113.7"},
	{"client's own entries ignored", "127.0.0.1:40000", []string{"198.51.100.1, 203.0.113.7"}, clientAddrTrusted, "203.0.113.7"},
	{"chain of trusted proxies", "127.0.0.1:40000", []string{"203.0.113.7, 10.1.2.3", "10.9.9.9"}, clientAddrTrusted, "203.0.113.7"},
	{"port in an entry", "127.0.0.1:40000", []string{"203.0.113.7:5555"}, clientAddrTrusted, "203.0.113.7"},
	{"IPv6 entry", "127.0.0.1:40000", []string{"2001:db8::7"}, clientAddrTrusted, "2001:db8::7"},
	{"malformed entry stops at the proxy", "127.0.0.1:40000", []string{"203.0.113.7, garbage"}, clientAddrTrusted, "127.0.0.1"},
	{"every hop trusted", "127.0.0.1:40000", []string{"10.1.1.1"}, clientAddrTrusted, "10.1.1.1"},
	{"no header from a proxy", "127.0.0.1:40000", nil, clientAddrTrusted, "127.0.0.1"},
	{"mapped peer", "[::ffff:127.0.0.1]:40000", []string{"203.0.113.7"}, clientAddrTrusted, "203.0.113.7"},
}

// TestClientAddr: X-Forwarded-For is believed only from a trusted proxy,
// and then only up to the rightmost hop that is not a trusted proxy —
// whatever a client writes left of that is ignored.
func TestClientAddr(t *testing.T) {
	for _, tt := range clientAddrCases {
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

// FuzzClientAddr: X-Forwarded-For is written by whoever sends the request.
// Whatever it holds, the client address is the peer or an entry with only
// trusted proxies (and the peer, itself trusted) to its right: a client
// never chooses the address it is throttled and logged as.
func FuzzClientAddr(f *testing.F) {
	for _, c := range clientAddrCases {
		f.Add(c.peer, strings.Join(c.xff, ","))
	}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", xff)
		got := clientAddr(r, clientAddrTrusted)
		p, err := netip.ParseAddrPort(peer)
		if err != nil {
			if got.IsValid() {
				t.Fatalf("peer %q is no address, yet the client is %s", peer, got)
			}
			return
		}
		if got == p.Addr().Unmap() {
			return
		}
		if !isTrusted(p.Addr().Unmap(), clientAddrTrusted) {
			t.Fatalf("untrusted peer %s, yet the client is %s", peer, got)
		}
		hops := strings.Split(xff, ",")
		for i := len(hops) - 1; i >= 0; i-- {
			h, ok := parseHop(hops[i])
			if !ok {
				break
			}
			if h == got {
				return
			}
			if !isTrusted(h, clientAddrTrusted) {
				break
			}
		}
		t.Fatalf("peer %s, X-Forwarded-For %q: client %s is not right of every untrusted hop", peer, xff, got)
	})
}
