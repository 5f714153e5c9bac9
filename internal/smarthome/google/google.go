// Package google is Vigil's Google Home cloud-to-cloud fulfillment: the
// SYNC, QUERY, EXECUTE and DISCONNECT intents for cameras with the
// CameraStream trait, the WebRTC signaling a display uses when EXECUTE
// answers with WebRTC, and the HomeGraph client that reports state and asks
// for re-syncs.
//
// Every request is authorized by its bearer token, which names one account
// link; a link exposes the cameras its user chose when linking, and only
// those the user may still see are ever named or streamed. A device id the
// link does not expose is deviceNotFound, never data. Stream URLs carry a
// stream token minted for (user, device, link, audience google).
//
// The package knows nothing of storage or OAuth internals: it reads links,
// cameras and grants through the interfaces below.
package google

import (
	"context"
	"errors"
	"time"

	"vigil/internal/access"
	"vigil/internal/smarthome"
)

// Errors a Links implementation returns from Resolve.
var (
	// ErrAuthExpired: the access token was valid but has expired (Google
	// refreshes it and retries).
	ErrAuthExpired = errors.New("access token expired")
	// ErrAuthFailure: the token is unknown, revoked or for another client.
	ErrAuthFailure = errors.New("access token invalid")
)

// Link is one account linking, as the fulfillment sees it.
type Link struct {
	ID string
	// User is the Vigil user who linked.
	User access.UserID
	// UserName is the user's sign-in name (grants are minted by name).
	UserName string
	// AgentUserID is the immutable opaque id Google knows the user by.
	AgentUserID string
	// Devices are the cameras the user chose to expose.
	Devices []access.DeviceID
}

// Links resolves bearer tokens to links and ends them.
type Links interface {
	// Resolve returns the live link of a bearer access token, or an error
	// wrapping ErrAuthExpired or ErrAuthFailure.
	Resolve(ctx context.Context, bearer string) (Link, error)
	// Disconnect ends the link: its tokens are revoked and its live
	// viewing ends (DISCONNECT, or the user unlinking).
	Disconnect(ctx context.Context, link Link) error
}

// Camera is a camera the link's user may see.
type Camera = smarthome.Camera

// Viewing is what the fulfillment needs of the rest of Vigil.
type Viewing interface {
	// Cameras lists the cameras user may see now (owned or shared).
	Cameras(ctx context.Context, user access.UserID) ([]Camera, error)
	// Online reports whether the camera's main stream is live.
	Online(device access.DeviceID) bool
	// StreamToken mints a stream token for a camera the link exposes,
	// after checking the store (a Grant), bound to the link, for audience
	// google. It returns the token and its expiry.
	StreamToken(ctx context.Context, link Link, device access.DeviceID) (string, time.Time, error)
}
