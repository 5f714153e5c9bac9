package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"vigil/internal/certs"
	"vigil/internal/config"
	"vigil/internal/datadir"
	"vigil/internal/limit"
	"vigil/internal/rtsp"
)

// startTLS binds http_addr (redirect and ACME challenges) and https_addr,
// and prepares the certificate, which RTSPS also serves (rtspConfig).
// It returns the listener of HTTPS connections for the API's server.
func (a *App) startTLS() (net.Listener, error) {
	plainL, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("http: listen on %s: %w (set http_addr or VIGIL_HTTP_ADDR to a free address)", a.cfg.HTTPAddr, err)
	}
	httpsL, err := net.Listen("tcp", a.cfg.HTTPSAddr)
	if err != nil {
		plainL.Close()
		return nil, fmt.Errorf("https: listen on %s: %w (set https_addr or VIGIL_HTTPS_ADDR to a free address)", a.cfg.HTTPSAddr, err)
	}
	httpsPort := httpsL.Addr().(*net.TCPAddr).Port
	a.certs, err = certs.New(certsConfig(a.cfg, plainL.Addr().(*net.TCPAddr).Port, httpsPort, a))
	if err != nil {
		plainL.Close()
		httpsL.Close()
		return nil, err
	}
	// Both ports hold connections of strangers: the same per-address cap
	// as plain HTTP (connections handed on to RTSP keep their place).
	caps := a.connCaps("http", a.cfg.HTTPMaxConnsPerAddress)
	a.redirectL = limit.NewListener(plainL, caps)
	a.redirect = &http.Server{Handler: a.certs.RedirectHandler(httpsPort), ReadHeaderTimeout: a.cfg.HTTPReadHeaderTimeout,
		IdleTimeout: a.cfg.HTTPIdleTimeout, ErrorLog: a.http.ErrorLog}
	a.http.Handler = certs.HSTS(a.http.Handler)
	keepTLSState(a.http)
	return newSplitListener(rtsp.TLSListener(limit.NewListener(httpsL, caps), a.certs.TLSConfig()), a.rtsp.Serve, a.cfg.ReadTimeout), nil
}

// certsConfig is the certificate manager's part of cfg; ports are where
// this process answers ACME challenges.
func certsConfig(cfg config.Config, httpPort, httpsPort int, a *App) certs.Config {
	c := certs.Config{
		ACME: cfg.TLS == config.TLSACME, Domains: cfg.Domains(), Directory: cfg.ACMEDirectory, Email: cfg.ACMEEmail,
		Storage: filepath.Join(cfg.DataDir, datadir.CertsDir), HTTPPort: httpPort, TLSPort: httpsPort,
		CertFile: cfg.TLSCertFile, KeyFile: cfg.TLSKeyFile, Logger: a.log,
	}
	if cfg.ACMECARoot != "" {
		c.Roots = a.acmeRoots
	}
	return c
}

// loadACMERoots reads acme_ca_root, the test-only CA for the ACME server.
func loadACMERoots(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("acme_ca_root: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("acme_ca_root %s: no PEM certificate in it", path)
	}
	return p, nil
}

// splitListener accepts TLS connections on the HTTPS port and sorts them
// after the handshake: a client that negotiated h2 or http/1.1 is HTTP
// (net/http serves h2 on a *tls.Conn that negotiated it); one that
// negotiated nothing is read until its first line, and a request
// line ending in RTSP/1.0 goes to the RTSP server (cameras behind strict
// firewalls, Alexa's RTSP on 443), anything else to HTTP. Handshakes and
// sniffing run per connection, so a slow client delays nobody.
type splitListener struct {
	tl      net.Listener
	rtsp    func(net.Conn)
	timeout time.Duration
	conns   chan net.Conn
	done    chan struct{}
	once    sync.Once
}

func newSplitListener(tl net.Listener, rtsp func(net.Conn), timeout time.Duration) *splitListener {
	s := &splitListener{tl: tl, rtsp: rtsp, timeout: timeout, conns: make(chan net.Conn), done: make(chan struct{})}
	go s.accept()
	return s
}

func (s *splitListener) accept() {
	for {
		c, err := s.tl.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.Close()
			return
		}
		go s.sort(c.(*tls.Conn))
	}
}

// maxRequestLine bounds what is read before deciding.
const maxRequestLine = 2048

func (s *splitListener) sort(c *tls.Conn) {
	c.SetDeadline(time.Now().Add(s.timeout))
	if err := c.Handshake(); err != nil {
		c.Close()
		return
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "" {
		c.SetDeadline(time.Time{})
		if p == "acme-tls/1" { // the handshake was the answer
			c.Close()
			return
		}
		s.deliver(c)
		return
	}
	var first []byte
	buf := make([]byte, maxRequestLine)
	for !bytes.Contains(first, []byte("\n")) && len(first) < maxRequestLine {
		n, err := c.Read(buf[:maxRequestLine-len(first)])
		first = append(first, buf[:n]...)
		if err != nil {
			c.Close()
			return
		}
	}
	c.SetDeadline(time.Time{})
	pc := &peekedConn{Conn: c, first: first}
	line, _, _ := bytes.Cut(first, []byte("\n"))
	if bytes.HasSuffix(bytes.TrimRight(line, "\r"), []byte(" RTSP/1.0")) {
		s.rtsp(pc)
		return
	}
	s.deliver(pc)
}

func (s *splitListener) deliver(c net.Conn) {
	select {
	case s.conns <- c:
	case <-s.done:
		c.Close()
	}
}

func (s *splitListener) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

func (s *splitListener) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.tl.Close()
	})
	return nil
}

func (s *splitListener) Addr() net.Addr { return s.tl.Addr() }

// peekedConn gives back the bytes read while sorting before the rest.
type peekedConn struct {
	net.Conn
	first []byte
}

func (p *peekedConn) Read(b []byte) (int, error) {
	if len(p.first) > 0 {
		n := copy(b, p.first)
		p.first = p.first[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// NetConn is the TLS connection under p: RTSP finds its record batcher
// through it.
func (p *peekedConn) NetConn() net.Conn { return p.Conn }

// keepTLSState gives HTTP requests that came through sorting their TLS
// state back: net/http sets r.TLS only for a *tls.Conn, and a connection
// read until its first line reaches it as a peekedConn. Without it a
// client that negotiated no ALPN protocol looked like plain http (origin()
// built http:// URLs for it).
func keepTLSState(srv *http.Server) {
	next, h := srv.ConnContext, srv.Handler
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if next != nil {
			ctx = next(ctx, c)
		}
		if p, ok := c.(*peekedConn); ok {
			if tc, ok := p.Conn.(*tls.Conn); ok {
				st := tc.ConnectionState()
				ctx = context.WithValue(ctx, tlsStateKey{}, &st)
			}
		}
		return ctx
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok && r.TLS == nil {
			r = r.WithContext(r.Context()) // a shallow copy: the server's request stays as it was
			r.TLS = st
		}
		h.ServeHTTP(w, r)
	})
}

// tlsStateKey holds a sorted connection's *tls.ConnectionState in its
// requests' context.
type tlsStateKey struct{}

// RedirectAddr is http_addr's bound address after Start when TLS is on
// (it redirects to https), else nil.
func (a *App) RedirectAddr() net.Addr {
	if a.redirectL == nil {
		return nil
	}
	return a.redirectL.Addr()
}

// RTSPSAddr is the RTSPS address after Start when TLS is on, else nil.
func (a *App) RTSPSAddr() net.Addr { return a.rtsp.TLSAddr() }

// rtspScheme is the scheme and port of the RTSP URLs Vigil hands out.
func (a *App) rtspScheme() (string, string) {
	if addr := a.rtsp.TLSAddr(); addr != nil {
		return "rtsps", strconv.Itoa(addr.(*net.TCPAddr).Port)
	}
	_, port, _ := net.SplitHostPort(a.rtsp.Addr().String())
	return "rtsp", port
}
