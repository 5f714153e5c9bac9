package limit

import (
	"io"
	"net"
	"testing"
	"time"
)

func TestPerKey(t *testing.T) {
	p := NewPerKey[string](2)
	for i, c := range []struct {
		key  string
		want bool
	}{{"a", true}, {"a", true}, {"a", false}, {"b", true}} {
		if got := p.Take(c.key); got != c.want {
			t.Fatalf("step %d: Take(%s) = %v, want %v", i, c.key, got, c.want)
		}
	}
	p.Give("a")
	if !p.Take("a") {
		t.Fatal("a place given back was not taken again")
	}
	p.Give("b")
	if n := p.Held("b"); n != 0 || len(p.held) != 1 {
		t.Fatalf("b holds %d after giving its place back; %d keys kept, want 1", n, len(p.held))
	}
}

func TestAddressesKeyIPv6By64(t *testing.T) {
	a := NewAddresses(1)
	one := &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::1"), Port: 1}
	same64 := &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::9"), Port: 2}
	other64 := &net.TCPAddr{IP: net.ParseIP("2001:db8:1:3::1"), Port: 3}
	release, ok := a.Take(one)
	if !ok {
		t.Fatal("first connection refused")
	}
	if _, ok := a.Take(same64); ok {
		t.Error("a second address of the same /64 was not counted with the first")
	}
	if _, ok := a.Take(other64); !ok {
		t.Error("another /64 was refused")
	}
	release()
	release() // idempotent
	if _, ok := a.Take(same64); !ok {
		t.Error("a place given back was not free again")
	}
}

// TestListenerCapsPerAddress: past the cap, connections from one address
// are closed at accept, those from another address are served, and a
// closed connection frees its place.
func TestListenerCapsPerAddress(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	caps := NewAddresses(3)
	caps.Refused = func() { refused++ }
	l := NewListener(raw, caps)
	defer l.Close()
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func(local string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		c, err := d.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var server []net.Conn
	for range 3 {
		dial("127.0.0.1")
		server = append(server, <-accepted)
	}
	over := dial("127.0.0.1")
	if !closedByPeer(t, over) {
		t.Fatal("a connection past the cap was not closed")
	}
	dial("127.0.0.2")
	<-accepted // another address is served while the first is at its cap
	server[0].Close()
	dial("127.0.0.1")
	<-accepted
	if refused != 1 {
		t.Errorf("refused counted %d, want 1", refused)
	}
}

// closedByPeer reports whether c is closed by the other end (read ends in
// EOF or a reset) rather than staying open.
func closedByPeer(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err == io.EOF || err != nil
}
