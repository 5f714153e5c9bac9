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
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/auth"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"

	"vigil/internal/access"
	vauth "vigil/internal/auth"
	"vigil/internal/hub"
	"vigil/internal/media"
)

// Auth is what the server needs from the accounts side.
type Auth interface {
	// CameraCredential returns the credential device publishes with.
	CameraCredential(ctx context.Context, device access.DeviceID) (vauth.Credential, error)
	// ViewerCredentials returns the credentials a user who reads over RTSP
	// may use: the generated password and the user's API tokens.
	ViewerCredentials(ctx context.Context, user string) ([]vauth.Credential, error)
	// Grant mints a grant for an authenticated user to read device.
	Grant(ctx context.Context, user string, device access.DeviceID, aud access.Audience) (access.Grant, error)
	// TokenGrant mints a grant for a player that presents a stream token
	// (`?token=` in the URL) instead of credentials.
	TokenGrant(ctx context.Context, raw string, use vauth.TokenUse) (access.Grant, vauth.Token, error)
}

// Server is the RTSP endpoint for cameras and viewers.
type Server struct {
	// Address is the TCP listen address. It defaults to ":8554".
	Address string
	// UDPRTPAddress and UDPRTCPAddress enable UDP transport when both are set.
	UDPRTPAddress  string
	UDPRTCPAddress string
	// ReadTimeout and WriteTimeout default to 10 seconds.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	Hub          *hub.Hub
	Auth         Auth
	// Record starts a viewing session in the access history; nil records
	// nothing. A viewer whose session cannot be recorded is not served.
	Record func(g access.Grant, output, remote string) (Recorded, error)
	// Logger defaults to slog.Default().
	Logger *slog.Logger

	srv     *gortsplib.Server
	packets *packetCache
	ctx     context.Context
	// cancel ends every play loop when the server stops.
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start listens. It returns when the server accepts connections.
func (s *Server) Start() error {
	if s.Address == "" {
		s.Address = ":8554"
	}
	if s.ReadTimeout == 0 {
		s.ReadTimeout = 10 * time.Second
	}
	if s.WriteTimeout == 0 {
		s.WriteTimeout = 10 * time.Second
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	s.packets = newPacketCache()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.srv = &gortsplib.Server{
		Handler:        &handler{s: s},
		RTSPAddress:    s.Address,
		UDPRTPAddress:  s.UDPRTPAddress,
		UDPRTCPAddress: s.UDPRTCPAddress,
		ReadTimeout:    s.ReadTimeout,
		WriteTimeout:   s.WriteTimeout,
		// A reader's queue lives in the hub; this only absorbs one frame's packets.
		WriteQueueSize: 1024,
		Listen:         listenFramed,
	}
	if err := s.srv.Start(); err != nil {
		return fmt.Errorf("rtsp: listen on %s: %w", s.Address, err)
	}
	return nil
}

// Addr is the TCP address the server listens on.
func (s *Server) Addr() net.Addr { return s.srv.NetListener().Addr() }

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

// Recorded is a viewing session being recorded.
type Recorded interface {
	Add(n int)
	End()
}

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

func (s *Server) tracksDesc(tracks []*media.Track) *description.Session {
	d := &description.Session{}
	for _, t := range tracks {
		typ := description.MediaTypeVideo
		if t.Kind == media.Audio {
			typ = description.MediaTypeAudio
		}
		d.Medias = append(d.Medias, &description.Media{Type: typ, Formats: []format.Format{t.Format}})
	}
	return d
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
