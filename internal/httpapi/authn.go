package httpapi

import (
	"context"
	"errors"
	"net/http"

	"vigil/internal/access"
	"vigil/internal/auth"
)

// Accounts authenticates cameras and mints grants for callers.
type Accounts interface {
	CameraCredential(ctx context.Context, device access.DeviceID) (auth.Credential, error)
	Grant(ctx context.Context, c auth.Caller, use auth.Use) (access.Grant, error)
}

var _ Accounts = (*auth.Service)(nil)

// errNotFound is the one answer for a camera that does not exist and one
// the requester may not see: no probing for camera ids.
var errNotFound = httpError(http.StatusNotFound, "no such camera", nil)

// viewerGrant mints a grant for the request's caller (see the viewing
// middleware, Authenticator.viewing) to read the camera in the path. stream
// is the stream the output will serve, which a stream token must have been
// minted for; "" only where the output serves no one stream (the
// multivariant playlist, which then lists the streams the token opens;
// hanging up). The grant is minted from the store as for any request, so a revoked
// share makes outstanding tokens useless.
func viewerGrant(acc Accounts, r *http.Request, stream access.StreamID) (access.Grant, error) {
	device, err := access.ParseDeviceID(r.PathValue("id"))
	if err != nil {
		return access.Grant{}, errNotFound
	}
	c := callerOf(r)
	g, err := acc.Grant(r.Context(), c, viewUse(device, stream))
	if err != nil {
		return access.Grant{}, refusedGrant(c.Token != nil, err)
	}
	return g, nil
}

// viewUse is what an HTTP output asks to read.
func viewUse(device access.DeviceID, stream access.StreamID) auth.Use {
	return auth.Use{Device: device, Stream: stream, Audiences: httpAudiences}
}

// refusedGrant is what a caller (byToken: with a stream token) is told of
// a grant refused with err: a refused token says why (through the table);
// a disabled camera is refused as such only to those it is listed to
// (auth.RightsOf); to anyone else the camera does not exist.
func refusedGrant(byToken bool, err error) error {
	if byToken || errors.Is(err, auth.ErrDisabled) {
		return notFoundUnless(err)
	}
	return &HTTPError{Code: errNotFound.Code, Msg: errNotFound.Msg, Err: err}
}

// camera authenticates a camera uploading for the device in the path: its
// user must be that device and its password the device's own.
func camera(acc Accounts, r *http.Request) (access.DeviceID, error) {
	device, err := access.ParseDeviceID(r.PathValue("id"))
	if err != nil {
		return "", errNotFound
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", httpError(http.StatusUnauthorized, "camera credentials required", nil)
	}
	cred, err := acc.CameraCredential(r.Context(), device)
	if err != nil || user != string(device) || !cred.CheckPassword(pass) {
		if err == nil {
			err = errors.New("wrong camera credentials")
		}
		return "", httpError(http.StatusUnauthorized, "wrong camera credentials", err)
	}
	return device, nil
}

// streamParam reads ?stream=main|sub. Left out it means main, whoever
// asks: a stream token for sub must say ?stream=sub (it opens its own
// stream only, and a URL means the same for every credential).
func streamParam(r *http.Request) (access.StreamID, error) {
	s, err := access.ParseStreamID(r.URL.Query().Get("stream"))
	if err != nil {
		return "", httpError(http.StatusBadRequest, err.Error(), nil)
	}
	return s, nil
}

// httpAudiences are the clients that fetch media over HTTP; an RTSP token
// opens nothing here. A caller who signed in reads as the first.
var httpAudiences = []access.Audience{access.AudienceWeb, access.AudienceGoogle, access.AudienceAlexa}
