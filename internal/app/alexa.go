package app

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/household"
	"vigil/internal/httpapi"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/oauth"
	"vigil/internal/smarthome/alexa"
	"vigil/internal/stills"
	"vigil/internal/store"
)

// alexaTokenTTL is how long an Alexa stream token opens new views; HLS
// playback renews it by using it (auth.Service.TokenGrant).
const alexaTokenTTL = 10 * time.Minute

// alexaMaxSessions bounds the Alexa WebRTC session table (the WebRTC
// server's own caps still apply to each session).
const alexaMaxSessions = 256

// alexaSide adapts oauth, auth, the hub and the store to the skill backend.
type alexaSide struct{ a *App }

var (
	_ alexa.Links      = alexaSide{}
	_ alexa.Viewing    = alexaSide{}
	_ alexa.GrantStore = alexaSide{}
	_ alexa.Activity   = alexaSide{}
)

// newAlexa builds the skill backend for POST /alexa/directive and, when
// an Alexa client is configured, the reporter (a.alexaEvents, run by Run):
// it ends silent links, and reports to the event gateway for links with
// an event grant, which needs the client's events credentials.
func (a *App) newAlexa(media *httpapi.Media) *alexa.Directives {
	// Uses are noted at most every tenth of the silence (an hour by
	// default), not on every directive.
	activity := alexa.Throttled(alexaSide{a}, min(time.Hour, a.cfg.AlexaSilence/10))
	grants := &alexa.Grants{TokenURL: a.cfg.AlexaLWAURL, Store: alexaSide{a},
		Credentials: func(client string) (alexa.Credentials, bool) { return alexaCredentials(a.cfg, client) }}
	x := &alexa.Directives{Links: alexaSide{a}, Viewing: alexaSide{a}, BaseURL: a.cfg.PublicURL, Logger: a.log,
		Sessions: alexa.NewSessions(alexaMaxSessions), Grants: grants, ProxySecret: a.cfg.AlexaProxySecret.Reveal(),
		Activity: activity, Snapshots: a.alexaSnapshots, RTSPS: a.cfg.TLSOn(), Relinked: alexaSide{a}.relinked}
	if a.webrtc != nil {
		x.Peers = alexaPeers{media}
	}
	for _, c := range a.cfg.OAuthClients {
		if _, ok := alexaCredentials(a.cfg, c.ID); ok {
			x.ProactiveReports = true
		}
		if c.Kind == config.OAuthAlexa && a.alexaEvents == nil {
			a.alexaEvents = &alexa.Reporter{Gateways: map[string]string{alexa.RegionNA: a.cfg.AlexaEventsURL,
				alexa.RegionEU: a.cfg.AlexaEventsURLEU, alexa.RegionFE: a.cfg.AlexaEventsURLFE}, Grants: grants, Links: a.liveAlexaLinks,
				Endpoints: x, End: alexaSide{a}.end, Activity: activity, Silence: a.cfg.AlexaSilence, Logger: a.log}
		}
	}
	return x
}

// newAlexaSnapshots serves Alexa's snapshot URLs, signed with a key
// derived from the master key (so they outlive a restart, and end with a
// new master key).
func (a *App) newAlexaSnapshots(master []byte, rec *audit.Recorder) (*alexa.Snapshots, error) {
	key, err := hkdf.Key(sha256.New, master, []byte("vigil alexa snapshot"), "snapshot url", 32)
	if err != nil {
		return nil, err
	}
	return &alexa.Snapshots{Links: alexaSide{a}, Viewing: alexaSide{a}, Stills: alexaStills{a, rec}, Key: key, Logger: a.log}, nil
}

// alexaStills serves a snapshot as every still is served: the still
// cache's Get (whose egress check compares the still's device and capture
// time with the grant's) and a sessionless record in the access history.
type alexaStills struct {
	a   *App
	rec *audit.Recorder
}

func (s alexaStills) Still(ctx context.Context, g access.Grant, remote string) ([]byte, time.Time, error) {
	st, err := s.a.stills.Get(ctx, g, stills.Request{Stream: access.StreamMain})
	if err != nil {
		return nil, time.Time{}, err
	}
	// As still.jpg: a sessionless view, one history line per viewer per
	// gap, and no still served unrecorded.
	if err := s.rec.Seen(g, "alexa-snapshot", remote); err != nil {
		return nil, time.Time{}, err
	}
	return st.JPEG, st.Captured, nil
}

// liveAlexaLinks lists the live links of every Alexa client.
func (a *App) liveAlexaLinks(ctx context.Context) ([]alexa.Link, error) {
	var out []alexa.Link
	for _, c := range a.cfg.OAuthClients {
		if c.Kind != config.OAuthAlexa {
			continue
		}
		links, err := a.store.LiveLinks(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			out = append(out, toAlexa(l))
		}
	}
	return out, nil
}

func toAlexa(l oauth.Link) alexa.Link {
	return alexa.Link{ID: l.ID, User: l.User, UserName: l.UserName, Client: l.Client, Devices: l.Devices, Linked: l.Linked}
}

// end unlinks a link whose skill was disabled (Amazon tells only the event
// gateway and LWA); unlinked then ends what it opened.
func (x alexaSide) end(ctx context.Context, l alexa.Link) error {
	return x.a.oauth.Unlink(ctx, l.User, l.ID)
}

// relinked ends the user's other links of the same skill that wait to be
// relinked: the person has linked it again (a new link, and its
// AcceptGrant), so the old ones would only linger on the page.
func (x alexaSide) relinked(ctx context.Context, l alexa.Link) error {
	links, err := x.a.oauth.Links(ctx, l.User)
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range links {
		if o.ID != l.ID && o.Client == l.Client && x.NeedsRelink(ctx, o.ID) {
			errs = append(errs, x.a.oauth.Unlink(ctx, o.User, o.ID))
		}
	}
	return errors.Join(errs...)
}

// alexaCredentials are the Send Alexa Events credentials of an Alexa client.
func alexaCredentials(cfg config.Config, client string) (alexa.Credentials, bool) {
	for _, c := range cfg.OAuthClients {
		if c.ID == client && c.Kind == config.OAuthAlexa && c.EventsClientID != "" {
			return alexa.Credentials{ID: c.EventsClientID, Secret: c.EventsClientSecret.Reveal()}, true
		}
	}
	return alexa.Credentials{}, false
}

// Resolve accepts only access tokens of Alexa's clients: a Google token
// opens nothing here.
func (x alexaSide) Resolve(ctx context.Context, token string) (alexa.Link, error) {
	l, err := x.a.resolveLink(ctx, token, config.OAuthAlexa, alexa.ErrAuthExpired, alexa.ErrAuthFailure)
	if err != nil {
		return alexa.Link{}, err
	}
	return toAlexa(l), nil
}

func (x alexaSide) Cameras(ctx context.Context, user access.UserID) ([]alexa.Camera, error) {
	return householdAs(ctx, x.a, user, func(c household.Camera) alexa.Camera { return alexa.Camera{ID: c.ID, Name: c.Name} })
}

func (x alexaSide) Online(d access.DeviceID) bool { return x.a.hub.Online(d, access.StreamMain) }

// Grant is a main-stream grant for the link's user, audience alexa,
// leased to the link.
func (x alexaSide) Grant(ctx context.Context, l alexa.Link, d access.DeviceID) (access.Grant, error) {
	c, err := x.a.auth.LinkCaller(ctx, l.UserName, l.ID)
	if err != nil {
		return access.Grant{}, err
	}
	return x.a.auth.Grant(ctx, c, auth.Use{Device: d, Stream: access.StreamMain, Audiences: []access.Audience{access.AudienceAlexa}})
}

func (x alexaSide) StreamToken(ctx context.Context, l alexa.Link, d access.DeviceID) (string, time.Time, error) {
	c, err := x.a.auth.LinkCaller(ctx, l.UserName, l.ID)
	if err != nil {
		return "", time.Time{}, err
	}
	return x.a.auth.StreamToken(ctx, c, d, access.StreamMain, access.AudienceAlexa, alexaTokenTTL)
}

// Picture measures the main stream from its cached keyframe (read with
// the link's grant, so the egress check runs): the codecs of its tracks
// and the size its SPS says.
func (x alexaSide) Picture(ctx context.Context, l alexa.Link, d access.DeviceID) (alexa.Picture, error) {
	g, err := x.Grant(ctx, l, d)
	if err != nil {
		return alexa.Picture{}, err
	}
	kf, err := x.a.hub.Keyframe(g, access.StreamMain)
	if err != nil {
		return alexa.Picture{}, err
	}
	return picture(kf)
}

func picture(kf hub.Keyframe) (alexa.Picture, error) {
	var p alexa.Picture
	for _, t := range kf.Tracks {
		switch t.Format.(type) {
		case *format.H264:
			var sps h264.SPS
			if s, _ := media.H264Params(kf.Unit.Payload); sps.Unmarshal(s) == nil {
				p.Video, p.Width, p.Height = "H264", sps.Width(), sps.Height()
			}
		case *format.H265:
			var sps h265.SPS
			if _, s, _ := media.H265Params(kf.Unit.Payload); sps.Unmarshal(s) == nil {
				p.Video, p.Width, p.Height = "H265", sps.Width(), sps.Height()
			}
		case *format.MPEG4Audio:
			p.Audio = "AAC"
		case *format.G711:
			p.Audio = "G711"
		case *format.Opus:
			p.Audio = "OPUS"
		}
	}
	if p.Video == "" {
		return p, errors.New("no H.264 or H.265 parameter sets in the keyframe")
	}
	return p, nil
}

func (x alexaSide) PutEventGrant(ctx context.Context, link string, g alexa.EventGrant) error {
	return x.a.store.PutAlexaGrant(ctx, store.AlexaGrant{Link: link, Access: config.Secret(g.Access),
		Refresh: config.Secret(g.Refresh), Expires: g.Expires, Region: g.Region, Relink: g.Relink})
}

func (x alexaSide) EventGrant(ctx context.Context, link string) (alexa.EventGrant, error) {
	g, err := x.a.store.AlexaGrant(ctx, link)
	if errors.Is(err, store.ErrNotFound) {
		return alexa.EventGrant{}, fmt.Errorf("%w: %w", alexa.ErrNoGrant, err)
	}
	if err != nil {
		return alexa.EventGrant{}, err
	}
	return alexa.EventGrant{Access: g.Access.Reveal(), Refresh: g.Refresh.Reveal(), Expires: g.Expires, Region: g.Region,
		Relink: g.Relink}, nil
}

// SeeLink notes a link's use; a link that ended meanwhile has nothing to
// note.
func (x alexaSide) SeeLink(ctx context.Context, link string, at time.Time) error {
	if err := x.a.store.SeeAlexaLink(ctx, link, at); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

func (x alexaSide) LinkSeen(ctx context.Context, link string) (time.Time, error) {
	return x.a.store.AlexaLinkSeen(ctx, link)
}

// NeedsRelink reports whether an Alexa link's event token was refused even
// after a refresh (the page asks the person to relink).
func (x alexaSide) NeedsRelink(ctx context.Context, link string) bool {
	g, err := x.a.store.AlexaGrant(ctx, link)
	return err == nil && !g.Relink.IsZero()
}

// alexaPeers answers Alexa's offers with the WHEP negotiation.
type alexaPeers struct{ m *httpapi.Media }

func (p alexaPeers) Watch(r *http.Request, g access.Grant, s access.StreamID, sdp string) (alexa.View, error) {
	ss, err := p.m.Watch(r, g, s, sdp)
	if err != nil {
		return nil, err
	}
	return ss, nil
}
