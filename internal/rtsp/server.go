// Package rtsp serves RTSP on gortsplib: cameras publish to it (ANNOUNCE,
// RECORD) and viewers read from it (DESCRIBE, SETUP, PLAY), on one port, over
// TCP and UDP. Cameras authenticate with their own device credential, viewers
// with theirs; both with Digest. Readers read the hub with a Grant and every
// unit passes the egress check before it is packetized.
//
// The package knows nothing of HTTP or storage: credentials and grants come
// through the Auth interface.
package rtsp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/auth"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/audit"
	vauth "vigil/internal/auth"
	"vigil/internal/hub"
	"vigil/internal/limit"
)

// Auth is what the server needs from the accounts side.
type Auth interface {
	// CameraCredential returns the credential device publishes with.
	CameraCredential(ctx context.Context, device access.DeviceID) (vauth.Credential, error)
	// DigestCaller returns the active user name whose credential (the
	// generated password or an API token) passes check.
	DigestCaller(ctx context.Context, user string, check func(vauth.Credential) error) (vauth.Caller, error)
	// Grant mints a grant for an authenticated caller.
	Grant(ctx context.Context, c vauth.Caller, use vauth.Use) (access.Grant, error)
	// TokenGrant mints a grant for a player that presents a stream token
	// (`?token=` in the URL) instead of credentials.
	TokenGrant(ctx context.Context, raw string, use vauth.Use) (access.Grant, vauth.Token, error)
}

// Config is what a Server is built from. Zero fields take the documented
// defaults.
type Config struct {
	// Address is the TCP listen address. It defaults to ":8554".
	Address string
	// UDPRTPAddress and UDPRTCPAddress enable UDP transport when both are set.
	UDPRTPAddress  string
	UDPRTCPAddress string
	// ReadTimeout and WriteTimeout default to 10 seconds.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// IdleTimeout bounds the silence of a connection or session that is not
	// receiving a camera's media. It defaults to 60 seconds.
	IdleTimeout time.Duration
	// FirstRequestTimeout is how long a new connection has to send its
	// first request whole. It defaults to 10 seconds.
	FirstRequestTimeout time.Duration
	// PerAddress caps the open connections per client address; nil caps
	// nothing. A connection past the cap is closed unanswered.
	PerAddress *limit.Addresses
	// Dropped counts TCP viewers dropped because they took no data for
	// WriteTimeout; nil counts nothing.
	Dropped prometheus.Counter
	// Oversized counts connections closed because they sent more than
	// 256 KiB before their first request (maxFirstRequest); nil counts
	// nothing. Each is also logged, one line per oversizeLogEvery.
	Oversized prometheus.Counter
	// Hub and Auth are required.
	Hub  *hub.Hub
	Auth Auth
	// Record records viewing sessions in the access history; nil records
	// nothing. A viewer whose session cannot be recorded is not served.
	Record *audit.Recorder
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	// TLSConfig, with TLSAddress, serves RTSPS on TLSAddress; Serve also
	// needs it. It defaults to nil: no RTSPS. A certificate that is not
	// known yet is given through its GetConfigForClient.
	TLSConfig  *tls.Config
	TLSAddress string
	// DisablePlain turns plain RTSP off (TCP on Address and UDP): only
	// RTSPS is served. It defaults to false.
	DisablePlain bool
}

// Server is the RTSP endpoint for cameras and viewers.
type Server struct {
	cfg Config

	srv     *gortsplib.Server
	mux     *muxListener
	plainL  net.Listener // nil when DisablePlain
	tlsL    net.Listener // nil without RTSPS
	packets *packetCache
	// oversizeLog rate-limits the log lines of oversized first requests.
	oversizeLog *limit.Log[struct{}]
	ctx         context.Context
	// cancel ends every play loop when the server stops.
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a server of cfg, its defaults applied; Start listens.
func New(cfg Config) (*Server, error) {
	if cfg.Hub == nil || cfg.Auth == nil {
		return nil, errors.New("rtsp: a server needs a hub and auth")
	}
	if cfg.Address == "" {
		cfg.Address = ":8554"
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.FirstRequestTimeout == 0 {
		cfg.FirstRequestTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{cfg: cfg, oversizeLog: limit.NewLog[struct{}](oversizeLogEvery)}, nil
}

// oversizeLogEvery is how often a connection closed for an oversized first
// request is logged at most; the counter (Config.Oversized) has them all.
const oversizeLogEvery = 10 * time.Second

// oversized counts and logs (rate-limited) a connection from remote closed
// because it sent more than maxFirstRequest before its first request.
func (s *Server) oversized(remote net.Addr) {
	if s.cfg.Oversized != nil {
		s.cfg.Oversized.Inc()
	}
	if ok, held := s.oversizeLog.Allow(struct{}{}); ok {
		s.cfg.Logger.Warn("rtsp connection closed: over 256 KiB sent before a first request (further ones counted, logged every 10 s)",
			"client", remote.String(), "suppressed", held)
	}
}

// Start listens. It returns when the server accepts connections.
func (s *Server) Start() error {
	s.packets = newPacketCache()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.listen(); err != nil {
		return err
	}
	udpRTP, udpRTCP := s.cfg.UDPRTPAddress, s.cfg.UDPRTCPAddress
	if s.cfg.DisablePlain {
		udpRTP, udpRTCP = "", ""
	}
	s.srv = &gortsplib.Server{
		Handler:        &handler{s: s},
		RTSPAddress:    s.mux.Addr().String(),
		UDPRTPAddress:  udpRTP,
		UDPRTCPAddress: udpRTCP,
		ReadTimeout:    s.cfg.ReadTimeout,
		WriteTimeout:   s.cfg.WriteTimeout,
		IdleTimeout:    s.cfg.IdleTimeout,
		WriteQueueSize: writeQueue,
		Listen:         func(string, string) (net.Listener, error) { return s.mux, nil },
	}
	if err := s.srv.Start(); err != nil {
		s.mux.Close()
		return fmt.Errorf("rtsp: listen on %s: %w", s.cfg.Address, err)
	}
	return nil
}

// listen opens the plain and the TLS listeners.
func (s *Server) listen() error {
	var ls []net.Listener
	if !s.cfg.DisablePlain {
		l, err := net.Listen("tcp", s.cfg.Address)
		if err != nil {
			return fmt.Errorf("rtsp: listen on %s: %w", s.cfg.Address, err)
		}
		s.plainL = l
		ls = append(ls, l)
	}
	if s.cfg.TLSConfig != nil && s.cfg.TLSAddress != "" {
		l, err := net.Listen("tcp", s.cfg.TLSAddress)
		if err != nil {
			for _, o := range ls {
				o.Close()
			}
			return fmt.Errorf("rtsps: listen on %s: %w", s.cfg.TLSAddress, err)
		}
		s.tlsL = l
		ls = append(ls, TLSListener(l, s.cfg.TLSConfig))
	}
	if len(ls) == 0 && s.cfg.TLSConfig == nil {
		return errors.New("rtsp: plain RTSP is off and RTSPS has no certificate: nothing to serve")
	}
	addr := net.Addr(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}) // only Serve feeds it
	if len(ls) > 0 {
		addr = ls[0].Addr()
	}
	s.mux = newMuxListener(addr, s.cfg.PerAddress, s.cfg.FirstRequestTimeout, s.oversized, ls...)
	return nil
}

// Addr is the plain RTSP address after Start, or, with plain RTSP off,
// the RTSPS one.
func (s *Server) Addr() net.Addr {
	if s.plainL != nil {
		return s.plainL.Addr()
	}
	return s.mux.Addr()
}

// Run serves until ctx is done, then closes every connection.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Wait() }()
	select {
	case <-ctx.Done():
		s.Close()
		return nil
	case err := <-errc:
		s.cancel()
		return fmt.Errorf("rtsp: %w", err)
	}
}

// Close stops the server and waits for the play loops.
func (s *Server) Close() {
	s.cancel()
	s.srv.Close()
	s.wg.Wait()
}

// writeQueue is gortsplib's write queue per session, in packets (and 16
// bytes each, allocated whole at PLAY): what a viewer has waiting is in
// its hub reader. Viewers on plain TCP and TLS are written directly (see
// directWriter) and put nothing in it but RTCP; the others' packets are
// paced (see viaStream), so that it holds a few milliseconds' worth. 1024
// cost every viewer 16 KiB, the largest of its own allocations.
const writeQueue = 256

// target is the camera stream a request's path names: /<device>[/main|/sub].
type target struct {
	device access.DeviceID
	stream access.StreamID
}

func parsePath(p string) (target, error) {
	p = strings.Trim(p, "/")
	dev, str, _ := strings.Cut(p, "/")
	d, err := access.ParseDeviceID(dev)
	if err != nil {
		return target{}, err
	}
	s, err := access.ParseStreamID(str)
	if err != nil {
		return target{}, err
	}
	return target{d, s}, nil
}

// connState is kept per TCP connection.
type connState struct {
	nonce string
	// setupTrack is the track of the SETUP being answered, so its response
	// can tell which interleaved channel the track got.
	setupTrack int
	// describe serves the SDP of the last DESCRIBE on this connection.
	describe *gortsplib.ServerStream
	// contentBase is the Content-Base of the DESCRIBE being answered.
	contentBase string
	// token is the stream token a request on this connection last carried
	// in its URL: the SETUPs that a DESCRIBE's relative track URLs resolve
	// to (RFC 3986 drops the query) carry none, so they are the
	// connection's. It is verified again on every use.
	token string
}

// unauthorized answers 401. Without credentials the client is challenged
// and may retry on the same connection; with wrong ones the connection is
// closed (liberrors.ErrServerAuth).
func unauthorized(cs *connState, provided bool) (*base.Response, error) {
	res := &base.Response{StatusCode: base.StatusUnauthorized, Header: base.Header{}}
	if provided {
		return res, liberrors.ErrServerAuth{}
	}
	res.Header["WWW-Authenticate"] = auth.GenerateWWWAuthenticate(
		[]auth.VerifyMethod{auth.VerifyMethodDigestMD5}, vauth.Realm, cs.nonce)
	return res, nil
}

func status(code base.StatusCode) *base.Response {
	return &base.Response{StatusCode: code}
}
