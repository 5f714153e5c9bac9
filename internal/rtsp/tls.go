package rtsp

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"

	"vigil/internal/limit"
)

// RTSPS here is RTSP inside TLS with RTP interleaved on the same TLS
// connection (what ffmpeg, VLC and cameras mean by rtsps://). TLS is
// terminated in front of gortsplib rather than by its TLSConfig, because
// gortsplib's TLS mode switches media to SRTP (RTP/SAVP with MIKEY keys),
// which ffmpeg does not read and which the direct frame writer would
// bypass. One gortsplib server takes connections from every listener, so
// cameras and viewers meet whichever port they came in on.

// errListenerClosed is returned by Accept after Close.
var errListenerClosed = errors.New("rtsp: listener closed")

// muxListener hands gortsplib the connections of several listeners and of
// Serve (TLS connections sniffed on the HTTPS port).
type muxListener struct {
	addr         net.Addr
	caps         *limit.Addresses // nil caps nothing
	firstRequest time.Duration
	oversized    func(net.Addr) // told of a connection closed past maxFirstRequest
	conns        chan accepted
	done         chan struct{}
	once         sync.Once
	ls           []net.Listener
}

func newMuxListener(addr net.Addr, caps *limit.Addresses, firstRequest time.Duration, oversized func(net.Addr), ls ...net.Listener) *muxListener {
	m := &muxListener{addr: addr, caps: caps, firstRequest: firstRequest, oversized: oversized,
		conns: make(chan accepted), done: make(chan struct{}), ls: ls}
	for _, l := range ls {
		go m.pump(l)
	}
	return m
}

// accepted is a connection and whether it came over TLS.
type accepted struct {
	c      net.Conn
	secure bool
}

// pump accepts from l until it is closed.
func (m *muxListener) pump(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		_, secure := c.(*tls.Conn)
		if !m.offer(accepted{c, secure}) {
			return
		}
	}
}

// offer passes a to Accept, or closes it if the listener is closed.
func (m *muxListener) offer(a accepted) bool {
	select {
	case m.conns <- a:
		return true
	case <-m.done:
		a.c.Close()
		return false
	}
}

// Accept returns the next connection within the per-address cap; one past
// it is closed before gortsplib sees it.
func (m *muxListener) Accept() (net.Conn, error) {
	for {
		select {
		case a := <-m.conns:
			if fc := admit(a.c, a.secure, m.caps, m.firstRequest, m.oversized); fc != nil {
				return fc, nil
			}
		case <-m.done:
			return nil, errListenerClosed
		}
	}
}

func (m *muxListener) Close() error {
	m.once.Do(func() {
		close(m.done)
		for _, l := range m.ls {
			l.Close()
		}
	})
	return nil
}

func (m *muxListener) Addr() net.Addr { return m.addr }

// Serve hands the server a connection that came over TLS elsewhere (the
// HTTPS port, whose first line was an RTSP request). It returns at once;
// the connection is closed if the server is stopping.
func (s *Server) Serve(c net.Conn) {
	go s.mux.offer(accepted{c, true})
}

// TLSAddr is the RTSPS listen address after Start, or nil without one.
func (s *Server) TLSAddr() net.Addr {
	if s.tlsL == nil {
		return nil
	}
	return s.tlsL.Addr()
}

// refuseClearMedia answers 461 to a SETUP that would send RTP over UDP
// from or to a client that came over TLS: the media would leave in clear.
func refuseClearMedia(conn *gortsplib.ServerConn, tr *gortsplib.SessionTransport) *base.Response {
	fc, ok := conn.NetConn().(*framedConn)
	if ok && fc.secure && tr != nil && tr.Protocol != gortsplib.ProtocolTCP {
		return status(base.StatusUnsupportedTransport)
	}
	return nil
}
