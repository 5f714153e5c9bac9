package rtsp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	gauth "github.com/bluenviron/gortsplib/v5/pkg/auth"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"
	"github.com/pion/rtp"

	"vigil/internal/access"
	vauth "vigil/internal/auth"
	"vigil/internal/hub"
	"vigil/internal/ingest"
	"vigil/internal/media"
)

// handler implements gortsplib's server callbacks. Each callback runs on the
// goroutine of its connection or session.
type handler struct {
	s *Server
}

var (
	_ gortsplib.ServerHandlerOnConnOpen         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnConnClose        = (*handler)(nil)
	_ gortsplib.ServerHandlerOnSessionClose     = (*handler)(nil)
	_ gortsplib.ServerHandlerOnDescribe         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnAnnounce         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnSetup            = (*handler)(nil)
	_ gortsplib.ServerHandlerOnPlay             = (*handler)(nil)
	_ gortsplib.ServerHandlerOnRecord           = (*handler)(nil)
	_ gortsplib.ServerHandlerOnDecodeError      = (*handler)(nil)
	_ gortsplib.ServerHandlerOnStreamWriteError = (*handler)(nil)
	_ gortsplib.ServerHandlerOnResponse         = (*handler)(nil)
	_ gortsplib.ServerHandlerOnRequest          = (*handler)(nil)
)

// authTimeout bounds a credential or grant lookup.
const authTimeout = 5 * time.Second

func (h *handler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	nonce, err := gauth.GenerateNonce()
	if err != nil {
		ctx.Conn.Close()
		return
	}
	ctx.Conn.SetUserData(&connState{nonce: nonce})
}

// OnRequest lifts the first request's bounds (see framedConn): the
// connection has spoken. It ends an RTSP-over-WebSocket tunnel:
// gortsplib reads each of its messages whole, with no size limit, so
// one message could hold the server's memory for as long as it is sent.
func (h *handler) OnRequest(sc *gortsplib.ServerConn, _ *base.Request) {
	if t := sc.Transport(); t != nil && t.Tunnel == gortsplib.TunnelWebSocket {
		sc.Close()
		return
	}
	if fc, ok := sc.NetConn().(*framedConn); ok {
		fc.requestRead()
	}
}

func (h *handler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	if cs, ok := ctx.Conn.UserData().(*connState); ok && cs.describe != nil {
		cs.describe.Close()
	}
}

func (h *handler) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	if p, ok := ctx.Session.UserData().(*push); ok {
		p.decodeError(ctx.Error)
	}
}

// OnStreamWriteError is called when a viewer's write queue is full and
// packets were dropped: its picture is broken until the next keyframe, so
// the reader skips to it (and the skip is counted).
func (h *handler) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	if p, ok := ctx.Session.UserData().(*play); ok {
		p.reader.Skip()
	}
}

func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	switch st := ctx.Session.UserData().(type) {
	case *push:
		st.close(ctx.Error)
	case *play:
		st.close()
	}
}

// verifier checks the Digest response of the user a request claims to be:
// check tells whether a stored credential made the response.
type verifier func(ctx context.Context, user string, check func(vauth.Credential) error) error

// authenticate checks a request's Digest credentials with verify. It
// returns the response to send when they do not pass: a challenge when none
// were given, 401 and a closed connection when they are malformed or wrong
// (logged with the camera).
func (h *handler) authenticate(conn *gortsplib.ServerConn, req *base.Request, t target, who string,
	verify verifier,
) (*base.Response, error) {
	cs := conn.UserData().(*connState)
	a, provided, err := credentials(req)
	if err == nil && !provided {
		return unauthorized(cs, false)
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(h.s.ctx, authTimeout)
		defer cancel()
		err = verify(ctx, a.Username, func(c vauth.Credential) error { return verifyDigest(req, a, c, cs.nonce) })
	}
	if err != nil {
		h.s.cfg.Logger.Warn("rtsp "+who+" refused", "camera", t.device, "user", a.Username,
			"remote", conn.NetConn().RemoteAddr().String(), "error", err)
		// Our challenge with an error that is not ErrServerAuth: gortsplib
		// sends it as is and closes the connection.
		res, _ := unauthorized(cs, false)
		return res, fmt.Errorf("rtsp %s refused: %w", who, err)
	}
	return nil, nil
}

// viewer authenticates a reading request — a stream token in the URL's
// query, or Digest credentials — and mints its grant. The viewer is loaded
// once: the Caller the Digest check makes is the one the grant is for.
func (h *handler) viewer(conn *gortsplib.ServerConn, req *base.Request, t target, query string) (access.Grant, *base.Response, error) {
	cs := conn.UserData().(*connState)
	if tok := tokenParam(query); tok != "" {
		cs.token = tok
		return h.tokenViewer(conn, t, tok)
	}
	if _, ok := req.Header["Authorization"]; !ok && cs.token != "" {
		return h.tokenViewer(conn, t, cs.token) // a later request on a token's connection
	}
	var c vauth.Caller
	digest := func(ctx context.Context, user string, check func(vauth.Credential) error) (err error) {
		c, err = h.s.cfg.Auth.DigestCaller(ctx, user, check)
		return err
	}
	if res, err := h.authenticate(conn, req, t, "viewer", digest); res != nil || err != nil {
		return access.Grant{}, res, err
	}
	ctx, cancel := context.WithTimeout(h.s.ctx, authTimeout)
	defer cancel()
	g, err := h.s.cfg.Auth.Grant(ctx, c, vauth.Use{Device: t.device, Audiences: []access.Audience{access.AudienceRTSP}})
	if err != nil {
		// Same answer whether the camera exists or not: no probing.
		h.s.cfg.Logger.Warn("rtsp viewer has no grant", "camera", t.device, "user", c.Name, "error", err)
		return access.Grant{}, status(base.StatusNotFound), nil
	}
	return g, nil, nil
}

// tokenViewer mints the grant of a player with a stream token made for
// RTSP, or for Alexa (whose InitializeCameraStreams hands out rtsps://
// URLs; the token stays bound to the link, whose end ends the view). A bad, expired or revoked token is 401 and the connection closes,
// as for wrong credentials; a token for another camera is 403.
func (h *handler) tokenViewer(conn *gortsplib.ServerConn, t target, tok string) (access.Grant, *base.Response, error) {
	ctx, cancel := context.WithTimeout(h.s.ctx, authTimeout)
	defer cancel()
	use := vauth.Use{Device: t.device, Stream: t.stream, Audiences: []access.Audience{access.AudienceRTSP, access.AudienceAlexa}}
	g, _, err := h.s.cfg.Auth.TokenGrant(ctx, tok, use)
	if err == nil {
		return g, nil, nil
	}
	h.s.cfg.Logger.Warn("rtsp viewer token refused", "camera", t.device,
		"remote", conn.NetConn().RemoteAddr().String(), "error", err)
	switch {
	case errors.Is(err, vauth.ErrTokenMisused):
		return access.Grant{}, status(base.StatusForbidden), nil
	case errors.Is(err, vauth.ErrBadToken), errors.Is(err, vauth.ErrTokenExpired), errors.Is(err, vauth.ErrTokenRevoked):
		return access.Grant{}, status(base.StatusUnauthorized), fmt.Errorf("rtsp viewer token refused: %w", err)
	}
	return access.Grant{}, status(base.StatusNotFound), nil
}

// tokenParam returns the token in an RTSP URL's query ("" when none).
func tokenParam(query string) string {
	q, err := url.ParseQuery(query)
	if err != nil {
		return ""
	}
	return q.Get("token")
}

func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	t, err := parsePath(ctx.Path)
	if err != nil {
		return status(base.StatusNotFound), nil, nil
	}
	g, res, err := h.viewer(ctx.Conn, ctx.Request, t, ctx.Query)
	if res != nil || err != nil {
		return res, nil, err
	}
	tracks, err := h.s.cfg.Hub.Tracks(g, t.stream)
	if err != nil {
		return status(base.StatusNotFound), nil, nil
	}
	cs := ctx.Conn.UserData().(*connState)
	if cs.describe != nil {
		cs.describe.Close()
	}
	cs.contentBase = contentBase(ctx.Request.URL)
	cs.describe = &gortsplib.ServerStream{Server: h.s.srv, Desc: ingest.Describe(tracks)}
	if err := cs.describe.Initialize(); err != nil {
		cs.describe = nil
		return status(base.StatusInternalServerError), nil, nil
	}
	return status(base.StatusOK), cs.describe, nil
}

func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res := refuseClearMedia(ctx.Conn, ctx.Transport); res != nil {
		return res, nil, nil
	}
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		return status(base.StatusOK), nil, nil
	}
	t, err := parsePath(ctx.Path)
	if err != nil {
		return status(base.StatusNotFound), nil, nil
	}
	g, res, err := h.viewer(ctx.Conn, ctx.Request, t, ctx.Query)
	if res != nil || err != nil {
		return res, nil, err
	}
	ctx.Conn.UserData().(*connState).setupTrack = setupTrack(ctx.Request.URL)
	if p, ok := ctx.Session.UserData().(*play); ok {
		if p.reader.Grant().Device() != g.Device() {
			return status(base.StatusBadRequest), nil, nil // one camera per session
		}
		return status(base.StatusOK), p.stream, nil
	}
	p, err := h.s.newPlay(g, t)
	if err != nil {
		return status(base.StatusNotFound), nil, nil
	}
	ctx.Session.SetUserData(p)
	return status(base.StatusOK), p.stream, nil
}

func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	if _, ok := ctx.Session.UserData().(*play); !ok {
		return status(base.StatusBadRequest), nil
	}
	return status(base.StatusOK), nil
}

// OnResponse starts a viewer's play loop once its PLAY succeeded. gortsplib
// calls OnPlay before it makes the session a reader of its stream, and drops
// what is written before: starting in OnPlay would lose the first units of
// the cached GOP, the keyframe among them. Here the session is active and
// the response not yet sent; packets are queued behind it.
//
// It also reads the interleaved channel a SETUP gave a track, which the
// direct TCP writer needs and gortsplib does not expose.
func (h *handler) OnResponse(sc *gortsplib.ServerConn, res *base.Response) {
	if cs, ok := sc.UserData().(*connState); ok && cs.contentBase != "" {
		if _, ok := res.Header["Content-Base"]; ok {
			res.Header["Content-Base"] = base.HeaderValue{cs.contentBase}
		}
		cs.contentBase = ""
	}
	ss := sc.Session()
	if ss == nil || res.StatusCode != base.StatusOK {
		return
	}
	if pu, ok := ss.UserData().(*push); ok {
		pu.setupChannel(res)
		return
	}
	p, ok := ss.UserData().(*play)
	if !ok {
		return
	}
	if v, ok := res.Header["Transport"]; ok {
		var tr headers.Transport
		track := sc.UserData().(*connState).setupTrack
		if tr.Unmarshal(v) == nil && tr.InterleavedIDs != nil && track >= 0 && track < len(p.channels) {
			p.channels[track] = tr.InterleavedIDs[0]
		}
	}
	if ss.State() == gortsplib.ServerSessionStatePlay {
		p.start(ss)
	}
}

// contentBase is the Content-Base of a DESCRIBE of u: u without its query
// and with a trailing slash. gortsplib's (u + "/") keeps a stream token's
// query, and RFC 3986 §5.2 resolves the SDP's "trackID=N" against
// rtsp://host/{id}?token=T/ to rtsp://host/trackID=N, dropping the camera.
// Against rtsp://host/{id}/ it is rtsp://host/{id}/trackID=N, which
// gortsplib parses, and so is the naive concatenation some clients do.
func contentBase(u *base.URL) string {
	b := &base.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimSuffix(u.Path, "/") + "/"}
	return b.String()
}

// setupTrack returns the track a SETUP URL names: .../trackID=N in the path
// (most clients) or the query (FFmpeg); a URL without one names track 0.
func setupTrack(u *base.URL) int {
	for _, s := range []string{u.RawQuery, u.Path} {
		if i := strings.LastIndex(s, "trackID="); i >= 0 {
			n, err := strconv.Atoi(s[i+len("trackID="):])
			if err != nil {
				return -1
			}
			return n
		}
	}
	return 0
}

func (h *handler) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	t, err := parsePath(ctx.Path)
	if err != nil {
		return status(base.StatusNotFound), nil
	}
	camera := func(ctx context.Context, _ string, check func(vauth.Credential) error) error {
		c, err := h.s.cfg.Auth.CameraCredential(ctx, t.device)
		if err != nil {
			return err
		}
		return check(c)
	}
	if res, err := h.authenticate(ctx.Conn, ctx.Request, t, "camera", camera); res != nil || err != nil {
		return res, err
	}
	tracks := ingest.TracksOf(ctx.Description)
	if len(tracks) == 0 {
		h.s.cfg.Logger.Warn("rtsp camera announced no supported track", "camera", t.device)
		return status(base.StatusUnsupportedMediaType), nil
	}
	ctx.Session.SetUserData(&push{s: h.s, target: t, tracks: tracks, log: h.s.cfg.Logger.With("camera", t.device, "stream", t.stream)})
	return status(base.StatusOK), nil
}

func (h *handler) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	p, ok := ctx.Session.UserData().(*push)
	if !ok {
		return status(base.StatusBadRequest), nil
	}
	if err := p.start(ctx.Session); err != nil {
		return status(base.StatusInternalServerError), nil
	}
	armDirectIngest(ctx.Conn, ctx.Session, p)
	return status(base.StatusOK), nil
}

// push is a camera's publish session.
type push struct {
	s      *Server
	target target
	tracks []*media.Track
	log    *slog.Logger

	lost    uint64 // RTP packets lost; touched on the packet goroutine only
	pub     *hub.Publisher
	dec     *ingest.Decoder
	lastLog time.Time
	// channels are the interleaved RTP channels of the SETUP responses, in
	// order (-1 for a track not over TCP); direct is set once the direct
	// ingest reads the camera (see directIngest), on the packet goroutine.
	channels []int
	direct   bool
	// viaGortsplib is set once a packet came through gortsplib's record
	// path; the direct ingest then stays off.
	viaGortsplib bool
	// in is the direct ingest armed for the session, if any.
	in *directIngest
}

// setupChannel keeps the interleaved channel a SETUP response gave.
func (p *push) setupChannel(res *base.Response) {
	v, ok := res.Header["Transport"]
	if !ok {
		return
	}
	var tr headers.Transport
	if tr.Unmarshal(v) != nil || tr.InterleavedIDs == nil {
		p.channels = append(p.channels, -1)
		return
	}
	p.channels = append(p.channels, tr.InterleavedIDs[0])
}

func (p *push) start(ss *gortsplib.ServerSession) error {
	pub, err := p.s.cfg.Hub.Publish(p.target.device, p.target.stream, p.tracks)
	if err != nil {
		return err
	}
	dec, err := ingest.NewDecoder(pub)
	if err != nil {
		pub.Close()
		return err
	}
	p.pub, p.dec = pub, dec
	p.log.Info("camera publishing", "session", pub.Owner().Session, "tracks", len(p.tracks),
		"transport", ss.Transport().Protocol.String())
	ss.OnPacketRTPAny(func(m *description.Media, f format.Format, pkt *rtp.Packet) {
		p.viaGortsplib = true
		pts, ok := ss.PacketPTS(m, pkt)
		if !ok {
			return
		}
		p.packet(ss, f, pkt, pts)
	})
	return nil
}

// packet hands one RTP packet, presented at pts, to the camera's decoder;
// from gortsplib's record path or the direct ingest.
func (p *push) packet(ss *gortsplib.ServerSession, f format.Format, pkt *rtp.Packet, pts int64) {
	if err := p.dec.Packet(f, pkt, pts); errors.Is(err, hub.ErrReplaced) {
		p.log.Info("camera session replaced by a newer one; closing the old one")
		ss.Close()
	}
}

func (p *push) decodeError(err error) {
	p.dec.Errors++
	p.warnf("camera sent undecodable data", err)
}

// warnf logs at most one line per 10 s per session: bad input is counted, not logged per packet.
func (p *push) warnf(msg string, err error) {
	if time.Since(p.lastLog) < 10*time.Second {
		return
	}
	p.lastLog = time.Now()
	var n uint64
	if p.dec != nil {
		n = p.dec.Errors
	}
	p.log.Warn(msg, "error", err, "errors_total", n)
}

func (p *push) close(err error) {
	if p.in != nil {
		p.in.stop()
	}
	if p.pub == nil {
		return
	}
	p.pub.Close()
	p.log.Info("camera disconnected", "session", p.pub.Owner().Session, "error", err, "decode_errors", p.dec.Errors, "packets_lost", p.lost, "direct", p.direct)
}

var _ gortsplib.ServerHandlerOnPacketsLost = (*handler)(nil)

// OnPacketsLost counts RTP loss of a camera session; without it gortsplib
// prints every loss to the standard logger.
func (h *handler) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	if p, ok := ctx.Session.UserData().(*push); ok {
		p.lost += ctx.Lost
	}
}
