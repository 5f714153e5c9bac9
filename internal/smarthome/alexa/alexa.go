// Package alexa is Vigil's Alexa smart home skill backend: the directives
// an Echo Show sends for cameras (Discover, AcceptGrant, ReportState, live
// view over WebRTC with RTCSessionController or over HLS with
// CameraStreamController), answered at one POST endpoint that the skill's
// Lambda forwards every directive to unchanged.
//
// The proxy is not trusted: every directive is authorized by the access
// token inside it (endpoint.scope.token; payload.scope.token for Discover,
// payload.grantee.token for AcceptGrant), which names one account link. A
// link exposes the cameras its user chose when linking, and only those the
// user may still see (auth.RightsOf, through Viewing.Cameras) are named or
// streamed; any other endpoint id — another household's camera or one
// that does not exist — gets the same NO_SUCH_ENDPOINT. Stream URLs carry
// a stream token minted for (user, device, link, audience alexa).
//
// The package knows nothing of storage or OAuth internals: it reads links,
// cameras and grants through the interfaces below.
package alexa

import (
	"context"
	"errors"
	"net/http"
	"time"

	"vigil/internal/access"
	"vigil/internal/smarthome"
	"vigil/internal/webrtc"
)

// Errors a Links implementation returns from Resolve.
var (
	// ErrAuthExpired: the access token was valid but has expired (Alexa
	// refreshes it and retries).
	ErrAuthExpired = errors.New("access token expired")
	// ErrAuthFailure: the token is unknown, revoked or for another client.
	ErrAuthFailure = errors.New("access token invalid")
	// ErrNoGrant: the link has no Alexa event tokens (AcceptGrant never
	// succeeded for it).
	ErrNoGrant = errors.New("no Alexa event grant for this link")
)

// Link is one account linking, as the skill backend sees it.
type Link struct {
	ID string
	// User is the Vigil user who linked; UserName their sign-in name.
	User     access.UserID
	UserName string
	// Client is the OAuth client id of the skill.
	Client string
	// Devices are the cameras the user chose to expose.
	Devices []access.DeviceID
	// Linked is when the link was made (its silence counts from then
	// until it is first used).
	Linked time.Time
}

// Links resolves the access tokens found in directives.
type Links interface {
	// Resolve returns the live link of an access token, or an error
	// wrapping ErrAuthExpired or ErrAuthFailure.
	Resolve(ctx context.Context, token string) (Link, error)
}

// Camera is a camera the link's user may see.
type Camera = smarthome.Camera

// Picture is what a camera's main stream sends now.
type Picture struct {
	// Video is H264 or H265; Audio is AAC, G711, OPUS or "" for none.
	Video, Audio  string
	Width, Height int
}

// Viewing is what the skill backend needs of the rest of Vigil.
type Viewing interface {
	// Cameras lists the cameras user may see now (owned or shared).
	Cameras(ctx context.Context, user access.UserID) ([]Camera, error)
	// Online reports whether the camera's main stream is live.
	Online(device access.DeviceID) bool
	// Picture reads the live main stream's codecs and resolution with a
	// grant for the link's user; an error when it is offline or refused.
	Picture(ctx context.Context, link Link, device access.DeviceID) (Picture, error)
	// StreamToken mints a main-stream token for audience alexa bound to
	// the link, after a grant says its user may still see the camera.
	StreamToken(ctx context.Context, link Link, device access.DeviceID) (string, time.Time, error)
	// Grant mints a grant for the link's user to read the camera (audience
	// alexa), leased to the link so that ending the link ends the view.
	Grant(ctx context.Context, link Link, device access.DeviceID) (access.Grant, error)
}

// View is a live WebRTC session (a *webrtc.Session).
type View interface {
	// Answer is the SDP answer with all of the server's candidates.
	Answer() string
	// Done is closed when the session has ended.
	Done() <-chan struct{}
	// Close ends the session without waiting.
	Close()
}

var _ View = (*webrtc.Session)(nil)

// Peers starts a camera's WebRTC sessions for a grant (httpapi.Media's
// Watch); its errors are webrtc's.
type Peers interface {
	Watch(r *http.Request, g access.Grant, stream access.StreamID, sdp string) (View, error)
}
