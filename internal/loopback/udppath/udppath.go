// Package udppath puts a poor network in front of a UDP socket, in user
// space, with toxiproxy's own toxics: toxiproxy proxies TCP only, but its
// bandwidth and latency toxics work on any stream of chunks, so datagrams
// pass through them one chunk each. A WebRTC viewer given the Conn as its
// socket receives over a link of a set rate, queue and delay, as through a
// slow access link; what it sends goes out untouched.
package udppath

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
)

// Shape is the link's downstream direction.
type Shape struct {
	// RateKB is the rate in KB/s (toxiproxy's unit: 100 is 800 kbit/s).
	RateKB int64
	// Latency is added to every datagram, after its wait in the queue.
	Latency time.Duration
	// Queue is how many datagrams wait for the rate; one arriving at a
	// full queue is dropped, as a router drops (tail drop).
	Queue int
}

// Conn is a UDP socket on 127.0.0.1 whose received datagrams come through
// the shaped link, or, once lifted, through one with the latency alone.
type Conn struct {
	net.PacketConn
	capped, clean chan *stream.StreamChunk // the two links' entries
	deliver       chan *stream.StreamChunk
	lifted        atomic.Bool
	dropped       atomic.Int64
	done          chan struct{}
	closeOnce     sync.Once
}

// Listen opens a shaped socket on 127.0.0.1.
func Listen(s Shape) (*Conn, error) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &Conn{PacketConn: pc, capped: make(chan *stream.StreamChunk, s.Queue),
		clean: make(chan *stream.StreamChunk, 1024), deliver: make(chan *stream.StreamChunk), done: make(chan struct{})}
	lat := &toxics.LatencyToxic{Latency: s.Latency.Milliseconds()}
	// Capped: queue, rate, then the latency counted from leaving the queue.
	limited := pipe(&toxics.BandwidthToxic{Rate: s.RateKB}, c.capped, 1)
	out1 := pipe(lat, restamp(limited, lat.GetBufferSize()), lat.GetBufferSize())
	out2 := pipe(lat, c.clean, lat.GetBufferSize())
	var wg sync.WaitGroup
	wg.Add(2)
	go c.forward(out1, &wg)
	go c.forward(out2, &wg)
	go func() { wg.Wait(); close(c.deliver) }()
	go c.read()
	return c, nil
}

// pipe runs toxic t from in to a new channel of size n, which it closes
// when in is closed.
func pipe(t toxics.Toxic, in <-chan *stream.StreamChunk, n int) <-chan *stream.StreamChunk {
	out := make(chan *stream.StreamChunk, n)
	go t.Pipe(toxics.NewToxicStub(in, out))
	return out
}

// restamp sets each chunk's time as it leaves the queue, so that the
// latency toxic adds its delay from there. Its output holds n chunks: the
// latency toxic delays one chunk at a time, by its delay less its age, so
// it is a delay line only for chunks stamped before they wait for it.
func restamp(in <-chan *stream.StreamChunk, n int) <-chan *stream.StreamChunk {
	out := make(chan *stream.StreamChunk, n)
	go func() {
		defer close(out)
		for c := range in {
			c.Timestamp = time.Now()
			out <- c
		}
	}()
	return out
}

// read takes datagrams off the socket into the link in use.
func (c *Conn) read() {
	defer close(c.capped)
	defer close(c.clean)
	buf := make([]byte, 65536)
	for {
		n, addr, err := c.PacketConn.ReadFrom(buf)
		if err != nil {
			return
		}
		ch := &stream.StreamChunk{Data: encode(addr.String(), buf[:n]), Timestamp: time.Now()}
		if c.lifted.Load() {
			c.clean <- ch
			continue
		}
		select {
		case c.capped <- ch:
		default:
			c.dropped.Add(1)
		}
	}
}

// forward hands a link's datagrams to ReadFrom; after Close they are dropped.
func (c *Conn) forward(in <-chan *stream.StreamChunk, wg *sync.WaitGroup) {
	defer wg.Done()
	for ch := range in {
		select {
		case c.deliver <- ch:
		case <-c.done:
		}
	}
}

// ReadFrom returns the next datagram through the link.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case ch, ok := <-c.deliver:
		if !ok {
			return 0, nil, net.ErrClosed
		}
		from, payload := decode(ch.Data)
		addr, err := net.ResolveUDPAddr("udp4", from)
		if err != nil {
			return 0, nil, err
		}
		return copy(b, payload), addr, nil
	case <-c.done:
		return 0, nil, net.ErrClosed
	}
}

// Lift sends what arrives from now on through the link without the rate
// cap (the latency stays); what is queued drains at the old rate.
func (c *Conn) Lift() { c.lifted.Store(true) }

// Dropped counts the datagrams dropped at the full queue.
func (c *Conn) Dropped() int64 { return c.dropped.Load() }

// Close closes the socket and lets the links drain.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { close(c.done) })
	return c.PacketConn.Close()
}

// encode puts the sender's address before the datagram: a chunk carries
// bytes only. The few bytes count against the rate (about 1 % of a full
// datagram).
func encode(from string, b []byte) []byte {
	out := make([]byte, 0, 1+len(from)+len(b))
	out = append(out, byte(len(from)))
	out = append(out, from...)
	return append(out, b...)
}

func decode(d []byte) (from string, payload []byte) {
	n := int(d[0])
	return string(d[1 : 1+n]), d[1+n:]
}
