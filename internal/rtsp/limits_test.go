package rtsp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"

	"vigil/internal/access"
	"vigil/internal/limit"
	"vigil/internal/testkit"
)

// TestFirstRequestDeadline: a connection that says nothing, or only the
// start of a request, is closed at the first-request deadline (gortsplib
// alone waits for the first bytes forever, and then gives each request the
// idle timeout); one that sends its first request in time is kept past it.
func TestFirstRequestDeadline(t *testing.T) {
	e := startWith(t, func(c *Config) { c.FirstRequestTimeout, c.IdleTimeout = 300*time.Millisecond, time.Hour })
	silent := dialRaw(t, e.addr)
	partial := dialRaw(t, e.addr)
	if err := partial.write([]byte("OPTIONS rtsp://" + e.addr + "/ RTSP/1.0\r\nCSe")); err != nil {
		t.Fatal(err)
	}
	spoke := dialRaw(t, e.addr)
	spoke.expect(base.StatusOK, "OPTIONS", "rtsp://"+e.addr+"/")

	if !silent.closedWithin(10 * time.Second) {
		t.Error("a silent connection was kept open past the first-request deadline")
	}
	if !partial.closedWithin(10 * time.Second) {
		t.Error("a connection that sent part of its first request was kept open past the first-request deadline")
	}
	// silent and partial are closed, so the deadline has passed for spoke too.
	spoke.expect(base.StatusOK, "OPTIONS", "rtsp://"+e.addr+"/")
}

// TestPerAddressCap: 300 silent connections from one address are served up
// to the cap and the rest refused at once, while a camera connecting from
// another loopback address still publishes.
func TestPerAddressCap(t *testing.T) {
	const capacity, dialled = 256, 300 // the default rtsp_max_conns_per_address
	var refused atomic.Int64
	caps := limit.NewAddresses(capacity)
	caps.Refused = func() { refused.Add(1) }
	e := startWith(t, func(c *Config) { c.PerAddress, c.FirstRequestTimeout = caps, time.Minute }, "cam-nat")

	conns := make([]*rawConn, dialled)
	for i := range conns {
		conns[i] = dialRaw(t, e.addr)
	}
	// Every connection accepted so far is counted before the camera dials.
	testkit.WaitFor(t, 20*time.Second, "refusal of the connections over the cap", func() error {
		if n := refused.Load(); n < dialled-capacity {
			return fmt.Errorf("%d of %d connections from one address refused, want %d (cap %d)", n, dialled, dialled-capacity, capacity)
		}
		return nil
	})
	if n := refused.Load(); n != dialled-capacity {
		t.Fatalf("%d of %d connections from one address refused, want %d (cap %d)", n, dialled, dialled-capacity, capacity)
	}

	cam := startPublisherFrom(t, gortsplib.ProtocolTCP, &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, e.addr, "cam-nat", "pw-cam-nat")
	r := hubReader(t, e.hub, "cam-nat")
	cam.keyframe(t, "from-127.0.0.2")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if u, err := r.Next(ctx); err != nil || !u.Key {
		t.Fatalf("the camera from another address did not publish: %v", err)
	}

	served, closed := 0, 0
	for _, c := range conns {
		res, err := c.request("OPTIONS", "rtsp://"+e.addr+"/")
		switch {
		case err == nil && res.StatusCode == base.StatusOK:
			served++
		case err != nil:
			closed++
		}
	}
	if served != capacity || closed != dialled-capacity {
		t.Errorf("of %d connections from one address %d were served and %d closed, want %d and %d",
			dialled, served, closed, capacity, dialled-capacity)
	}
	if !e.hub.Online("cam-nat", access.StreamMain) {
		t.Error("the camera went offline")
	}
}

// stallConn stops reading once stalled: its reads block until it closes.
type stallConn struct {
	net.Conn
	stalled atomic.Bool
	closed  chan struct{}
}

func (c *stallConn) Read(p []byte) (int, error) {
	if c.stalled.Load() {
		<-c.closed
		return 0, net.ErrClosed
	}
	return c.Conn.Read(p)
}

func (c *stallConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return c.Conn.Close()
}

// TestNeverReadingViewerDropped: a TCP viewer that stops reading is
// dropped once a write has waited WriteTimeout, and counted.
func TestNeverReadingViewerDropped(t *testing.T) { neverReadingViewerDropped(t, false) }

// neverReadingViewerDropped plays to a viewer (over RTSPS when secure)
// that stops reading, and waits until it is dropped for WriteTimeout.
func neverReadingViewerDropped(t *testing.T, secure bool) {
	dropped := prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped"})
	e := startWith(t, func(c *Config) {
		c.WriteTimeout, c.Dropped = 500*time.Millisecond, dropped
		if secure {
			c.TLSConfig, c.TLSAddress = testTLS(t), "127.0.0.1:0"
		}
	}, "cam-big")
	pub := startPublisher(t, e.addr, "cam-big", "pw-cam-big")
	pub.keyframe(t, "first")

	var viewer *stallConn
	small := func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}
	host := e.addr
	if secure {
		host = e.srv.TLSAddr().String()
	}
	tcp := gortsplib.ProtocolTCP
	c := &gortsplib.Client{Scheme: "rtsp", Host: host, Protocol: &tcp, ReadTimeout: time.Minute,
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			nc, err := (&net.Dialer{Control: small}).DialContext(ctx, network, address)
			if err != nil {
				return nil, err
			}
			viewer = &stallConn{Conn: nc, closed: make(chan struct{})}
			if secure { // the stall is under TLS: records stop being read
				return tls.Client(viewer, &tls.Config{InsecureSkipVerify: true}), nil
			}
			return viewer, nil
		}}
	u, _ := base.ParseURL("rtsp://admin:secret@" + host + "/cam-big")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Play(nil); err != nil {
		t.Fatal(err)
	}
	viewer.stalled.Store(true)

	big := strings.Repeat("x", 1300) // one RTP packet each
	deadline := time.Now().Add(60 * time.Second)
	for testutil.ToFloat64(dropped) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a viewer that reads nothing was not dropped (secure: %v)", secure)
		}
		for range 20 { // IDR slices; a full client queue only loses some
			pub.c.WritePacketRTP(pub.video(), pub.packet(pub.video(), append([]byte{0x65, 0x88, 0x84}, big...), true))
			pub.ts += 3600
		}
		time.Sleep(5 * time.Millisecond)
	}
}
