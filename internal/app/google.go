package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/household"
	"vigil/internal/oauth"
	"vigil/internal/smarthome/google"
)

// googleTokenTTL is how long a Google stream token opens new views; a
// view in progress renews it by using it (auth.Service.TokenGrant).
const googleTokenTTL = 10 * time.Minute

// googleSide adapts oauth and auth to what the Google fulfillment needs.
type googleSide struct{ a *App }

var (
	_ google.Links   = googleSide{}
	_ google.Viewing = googleSide{}
)

// googleClients are the ids of the configured clients of kind google.
func googleClients(cfg config.Config) []string {
	var ids []string
	for _, c := range cfg.OAuthClients {
		if c.Kind == config.OAuthGoogle {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

func toGoogle(l oauth.Link) google.Link {
	return google.Link{ID: l.ID, User: l.User, UserName: l.UserName, AgentUserID: l.AgentUserID, Devices: l.Devices}
}

// Resolve accepts only access tokens of Google's clients: an Alexa token
// opens nothing here.
func (g googleSide) Resolve(ctx context.Context, bearer string) (google.Link, error) {
	l, err := g.a.resolveLink(ctx, bearer, config.OAuthGoogle, google.ErrAuthExpired, google.ErrAuthFailure)
	return toGoogle(l), err
}

// resolveLink returns the live link of an access token of a client of
// kind: an expired token's error wraps expired, any other failure
// (a token of another kind of client included) invalid.
func (a *App) resolveLink(ctx context.Context, token string, kind config.OAuthKind, expired, invalid error) (oauth.Link, error) {
	l, err := a.oauth.Resolve(ctx, token)
	switch {
	case errors.Is(err, oauth.ErrTokenExpired):
		return oauth.Link{}, fmt.Errorf("%w: %w", expired, err)
	case err != nil:
		return oauth.Link{}, fmt.Errorf("%w: %w", invalid, err)
	}
	if c, ok := a.oauth.Client(l.Client); !ok || c.Kind != kind {
		return oauth.Link{}, fmt.Errorf("%w: token of client %s, not a %s one", invalid, l.Client, kind)
	}
	return l, nil
}

// Disconnect unlinks; unlinked runs as the oauth server's OnUnlink.
func (g googleSide) Disconnect(ctx context.Context, l google.Link) error {
	return g.a.oauth.Unlink(ctx, l.User, l.ID)
}

// unlinked ends what a link opened: its stream tokens already fail (they
// are bound to the link), the live views opened with them end now (their
// grants are leased to the link), and HomeGraph hears nothing more of it.
// The user's own views in the web page go on.
func (a *App) unlinked(l oauth.Link) {
	a.auth.RevokeBound(auth.Binding{Via: auth.ViaLink, ID: l.ID})
	a.homegraph.Forget(l.AgentUserID)
}

func (g googleSide) Cameras(ctx context.Context, user access.UserID) ([]google.Camera, error) {
	return householdAs(ctx, g.a, user, func(c household.Camera) google.Camera { return google.Camera{ID: c.ID, Name: c.Name} })
}

// householdAs lists the cameras of user's household (what a link may
// expose, auth.RightsOf's listing) as an assistant's package names them.
func householdAs[T any](ctx context.Context, a *App, user access.UserID, as func(household.Camera) T) ([]T, error) {
	cams, err := household.Views{Store: a.store}.Household(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(cams))
	for _, c := range cams {
		out = append(out, as(c))
	}
	return out, nil
}

func (g googleSide) Online(d access.DeviceID) bool { return g.a.hub.Online(d, access.StreamMain) }

// StreamToken mints a token for audience google bound to the link, after
// a grant says the user may still see the camera. It opens the camera's
// adaptive set, main and sub, so that a display on a poor network can step
// down to sub.
func (g googleSide) StreamToken(ctx context.Context, l google.Link, d access.DeviceID) (string, time.Time, error) {
	c, err := g.a.auth.LinkCaller(ctx, l.UserName, l.ID)
	if err != nil {
		return "", time.Time{}, err
	}
	return g.a.auth.StreamToken(ctx, c, d, "", access.AudienceGoogle, googleTokenTTL) // "": main and sub
}

// googleStreamGrant checks a display's stream token for device's main
// stream, as Google's WebRTC signaling presents it.
func (a *App) googleStreamGrant(ctx context.Context, token string, device access.DeviceID) (access.Grant, error) {
	use := auth.Use{Device: device, Stream: access.StreamMain, Audiences: []access.Audience{access.AudienceGoogle}}
	g, _, err := a.auth.TokenGrant(ctx, token, use)
	return g, err
}

// liveGoogleLinks lists the live links of every Google client.
func (a *App) liveGoogleLinks(ctx context.Context) ([]google.Link, error) {
	var out []google.Link
	for _, id := range googleClients(a.cfg) {
		links, err := a.store.LiveLinks(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			out = append(out, toGoogle(l))
		}
	}
	return out, nil
}

// newReporter builds the HomeGraph reporter, which runs only when
// HomeGraph credentials are configured (reportsToGoogle).
func (a *App) newReporter() (*google.Reporter, error) {
	token := a.cfg.HomeGraphToken
	creds := func(context.Context) (string, error) { return token.Reveal(), nil }
	if f := a.cfg.HomeGraphCredentialsFile; f != "" {
		var err error
		if creds, err = google.ServiceAccountToken(f); err != nil {
			return nil, err
		}
	}
	return google.NewReporter(google.ReporterConfig{BaseURL: a.cfg.HomeGraphURL, Links: a.liveGoogleLinks,
		Viewing: googleSide{a}, Logger: a.log, Token: creds})
}

// newFulfillment builds Google Home's fulfillment, which tells the
// reporter of links that disconnect.
func (a *App) newFulfillment() *google.Fulfillment {
	return &google.Fulfillment{Links: googleSide{a}, Viewing: googleSide{a}, BaseURL: a.cfg.PublicURL,
		Reports: a.homegraph, Logger: a.log, WebRTC: a.webrtc != nil, ICEServers: iceServersJSON(a.cfg)}
}

// reportsToGoogle reports whether HomeGraph credentials are configured.
func (a *App) reportsToGoogle() bool {
	return a.cfg.HomeGraphCredentialsFile != "" || a.cfg.HomeGraphToken.Reveal() != ""
}

// iceServersJSON is cameraStreamIceServers: the configured STUN/TURN
// servers as a JSON string (Google's field is a string holding JSON).
func iceServersJSON(cfg config.Config) string {
	if len(cfg.WebRTCICEServers) == 0 {
		return ""
	}
	s := map[string]any{"urls": cfg.WebRTCICEServers}
	if cfg.WebRTCICEUsername != "" {
		s["username"], s["credential"] = cfg.WebRTCICEUsername, cfg.WebRTCICECredential.Reveal()
	}
	b, _ := json.Marshal([]any{s})
	return string(b)
}
