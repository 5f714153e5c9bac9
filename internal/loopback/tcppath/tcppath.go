// Package tcppath puts a poor access link in front of a TCP server on
// loopback: a proxy whose downstream (server to client) is cut into
// packets that share one rate, as every connection of a home's weak Wi-Fi
// shares its air time, and then delayed. What the client sends goes out
// untouched.
//
// toxiproxy's bandwidth toxic, which vigilbench used before, caps each
// connection on its own: a player that loads three LL-HLS parts at once
// on three connections (Shaka's prefetch does) got three times the rate,
// and its estimate of the link came out far above what the link carries.
package tcppath

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Shape is the link's downstream direction.
type Shape struct {
	// RateKB is the rate all connections share, in KB/s (1000 bytes, as
	// toxiproxy's: 100 is 800 kbit/s).
	RateKB int64
	// Latency is added to every packet after it has left the rate's queue.
	Latency time.Duration
	// Packet is the largest piece the link sends at once. It defaults to
	// 1460 bytes (a TCP segment on Ethernet).
	Packet int
}

// Link is a proxy on 127.0.0.1 in front of one upstream address.
type Link struct {
	ln       net.Listener
	upstream string
	shape    Shape

	mu   sync.Mutex
	free time.Time // guarded by mu: when the link has sent all it was given
	// conns are the open connections (both ends), closed by Close.
	conns  map[net.Conn]struct{} // guarded by mu
	closed bool                  // guarded by mu
	wg     sync.WaitGroup
}

// Listen starts a link to upstream.
func Listen(upstream string, s Shape) (*Link, error) {
	if s.RateKB <= 0 {
		return nil, errors.New("tcppath: a rate is required")
	}
	if s.Packet <= 0 {
		s.Packet = 1460
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &Link{ln: ln, upstream: upstream, shape: s, conns: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

// Addr is the address clients connect to.
func (l *Link) Addr() string { return l.ln.Addr().String() }

// Close stops the link and closes its connections.
func (l *Link) Close() error {
	err := l.ln.Close()
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

func (l *Link) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", l.upstream)
		if err != nil {
			c.Close()
			continue
		}
		if !l.track(c, up) {
			c.Close()
			up.Close()
			return
		}
		l.wg.Add(2)
		go func() {
			defer l.wg.Done()
			_, _ = io.Copy(up, c) // upstream: untouched
			closeWrite(up)
		}()
		go func() {
			defer l.wg.Done()
			l.down(c, up)
			l.untrack(c, up)
		}()
	}
}

// track registers a connection's two ends; false once the link is closed.
func (l *Link) track(c, up net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c], l.conns[up] = struct{}{}, struct{}{}
	return true
}

func (l *Link) untrack(c, up net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	delete(l.conns, up)
	l.mu.Unlock()
	c.Close()
	up.Close()
}

// packet is a piece of the downstream and when it reaches the client.
type packet struct {
	data []byte
	at   time.Time
}

// down carries what up sends to c: each packet waits for its turn on the
// shared rate (one packet of a connection queued at a time, so that
// connections take turns, packet by packet, as a fair queue does), then
// for the latency, in a delay line that does not hold up the next.
func (l *Link) down(c, up net.Conn) {
	line := make(chan packet, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p := range line {
			time.Sleep(time.Until(p.at))
			if _, err := c.Write(p.data); err != nil {
				up.Close()
				for range line {
				}
				return
			}
		}
		closeWrite(c)
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		for b := buf[:n]; len(b) > 0; {
			k := min(len(b), l.shape.Packet)
			sent := l.send(k)
			time.Sleep(time.Until(sent))
			line <- packet{data: append([]byte(nil), b[:k]...), at: sent.Add(l.shape.Latency)}
			b = b[k:]
		}
		if err != nil {
			break
		}
	}
	close(line)
	<-done
}

// lateness is how far behind the link may fall and catch up: a goroutine
// that sleeps until its packet has been sent wakes late on a busy
// machine, and without it the link idled for every late wake-up (on a
// machine at load 16, hls.js measured 550–660 kbit/s on the 800). After an
// idle link it lets that much through at once (2 kB at 800 kbit/s).
const lateness = 20 * time.Millisecond

// send reserves the link for n bytes and returns when they will have
// been sent.
func (l *Link) send(n int) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := time.Now().Add(-lateness)
	if l.free.After(start) {
		start = l.free
	}
	l.free = start.Add(time.Duration(n) * time.Millisecond / time.Duration(l.shape.RateKB))
	return l.free
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		return
	}
	c.Close()
}
