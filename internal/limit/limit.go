// Package limit owns Vigil's caps on what one party may hold at once: open
// connections per client address (Listener, Addresses) and concurrent
// sessions per key (PerKey), such as one user's WebRTC sessions; and how
// often one kind of log line may be written (Log).
//
// It knows nothing of users, HTTP or RTSP: callers choose the keys and say
// what a refusal means to their clients.
package limit

import (
	"net"
	"net/netip"
	"sync"
)

// PerKey caps how many of something each key holds at once. Its zero value
// is not usable; make one with NewPerKey. It is safe for concurrent use.
type PerKey[K comparable] struct {
	max int

	mu   sync.Mutex
	held map[K]int // guarded by mu; keys holding nothing are deleted
}

// NewPerKey returns a cap of max per key; max <= 0 caps nothing.
func NewPerKey[K comparable](max int) *PerKey[K] {
	return &PerKey[K]{max: max, held: map[K]int{}}
}

// Take counts one more for k and reports true, or reports false and counts
// nothing when k already holds the maximum.
func (p *PerKey[K]) Take(k K) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.max > 0 && p.held[k] >= p.max {
		return false
	}
	p.held[k]++
	return true
}

// Give returns one of k's places.
func (p *PerKey[K]) Give(k K) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held[k]--; p.held[k] <= 0 {
		delete(p.held, k)
	}
}

// Held is how many k holds now.
func (p *PerKey[K]) Held(k K) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held[k]
}

// Max is the cap per key (<= 0: none).
func (p *PerKey[K]) Max() int { return p.max }

// Addresses caps the open connections per client address. An IPv4 client
// is its address; an IPv6 client is its /64, which one subscriber usually
// holds whole (counting single IPv6 addresses would cap nothing).
type Addresses struct {
	open *PerKey[netip.Addr]
	// Exempt, when set, names addresses that are never capped (a trusted
	// reverse proxy that carries every client's connections).
	Exempt func(netip.Addr) bool
	// Refused, when set, is called for each connection refused.
	Refused func()
}

// NewAddresses returns a cap of max open connections per address; max <= 0
// caps nothing.
func NewAddresses(max int) *Addresses {
	return &Addresses{open: NewPerKey[netip.Addr](max)}
}

// Take counts a new connection from remote. It returns the function that
// gives the place back (call it once, when the connection closes), or
// ok=false when remote's address has as many open as allowed.
func (a *Addresses) Take(remote net.Addr) (release func(), ok bool) {
	ip, known := clientKey(remote)
	if !known || (a.Exempt != nil && a.Exempt(ip)) {
		return func() {}, true
	}
	if !a.open.Take(ip) {
		if a.Refused != nil {
			a.Refused()
		}
		return nil, false
	}
	var once sync.Once
	return func() { once.Do(func() { a.open.Give(ip) }) }, true
}

// clientKey is the key remote is counted under.
func clientKey(remote net.Addr) (netip.Addr, bool) {
	var ap netip.AddrPort
	switch r := remote.(type) {
	case *net.TCPAddr:
		ap = r.AddrPort()
	case *net.UDPAddr:
		ap = r.AddrPort()
	default:
		var err error
		if ap, err = netip.ParseAddrPort(remote.String()); err != nil {
			return netip.Addr{}, false
		}
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip, ip.IsValid()
}

// Listener accepts at most the cap of open connections per client address:
// one more is closed as soon as it is accepted, and Accept waits for the
// next. Its connections give their place back when closed.
type Listener struct {
	net.Listener
	caps *Addresses
}

// NewListener caps l's connections per address with caps.
func NewListener(l net.Listener, caps *Addresses) *Listener {
	return &Listener{Listener: l, caps: caps}
}

// Accept returns the next connection within the cap.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		release, ok := l.caps.Take(c.RemoteAddr())
		if !ok {
			c.Close()
			continue
		}
		return &conn{Conn: c, release: release}, nil
	}
}

// conn gives its place back when closed.
type conn struct {
	net.Conn
	release func()
}

func (c *conn) Close() error {
	defer c.release()
	return c.Conn.Close()
}
