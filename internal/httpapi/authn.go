package httpapi

import (
	"context"
	"errors"
	"net/http"

	"vigil/internal/access"
	"vigil/internal/auth"
)

// Accounts authenticates people and cameras and mints grants.
type Accounts interface {
	CameraCredential(ctx context.Context, device access.DeviceID) (auth.Credential, error)
	Grant(ctx context.Context, name string, device access.DeviceID, aud access.Audience) (access.Grant, error)
	TokenGrant(ctx context.Context, raw string, use auth.TokenUse) (access.Grant, auth.Token, error)
}

var _ Accounts = (*auth.Service)(nil)

// errNotFound is the one answer for a camera that does not exist and one
// the requester may not see: no probing for camera ids.
var errNotFound = httpError(http.StatusNotFound, "no such camera", nil)

// viewerGrant authenticates the request's viewer — a stream token in
// `?token=` (for players that cannot send headers) or HTTP Basic — and mints
// a grant for the camera in the path. A token only names who asks: the
// grant is minted from the store as for any request, so a revoked share
// makes outstanding tokens useless. stream is the stream the output will
// serve, which a token must open; "" only where the output serves no one
// stream (the multivariant playlist, which then lists the streams the token
// opens; hanging up).
func viewerGrant(au *Authenticator, acc Accounts, r *http.Request, stream access.StreamID) (access.Grant, error) {
	g, _, err := viewer(au, acc, r, stream)
	return g, err
}

// viewer is viewerGrant that also returns the stream token used (zero when
// the viewer signed in).
func viewer(au *Authenticator, acc Accounts, r *http.Request, stream access.StreamID) (access.Grant, auth.Token, error) {
	device, err := access.ParseDeviceID(r.PathValue("id"))
	if err != nil {
		return access.Grant{}, auth.Token{}, errNotFound
	}
	if t := r.URL.Query().Get("token"); t != "" {
		return tokenGrant(acc, r, device, stream, t)
	}
	c, err := au.user(r, auth.ScopeView)
	if err != nil {
		return access.Grant{}, auth.Token{}, err
	}
	g, err := acc.Grant(r.Context(), c.Name, device, access.AudienceWeb)
	if err != nil {
		return access.Grant{}, auth.Token{}, &HTTPError{Code: errNotFound.Code, Msg: errNotFound.Msg, Err: err}
	}
	return g, auth.Token{}, nil
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
// opens nothing here.
var httpAudiences = []access.Audience{access.AudienceWeb, access.AudienceGoogle, access.AudienceAlexa}

func tokenGrant(acc Accounts, r *http.Request, device access.DeviceID, stream access.StreamID, t string) (access.Grant, auth.Token, error) {
	g, tok, err := acc.TokenGrant(r.Context(), t, auth.TokenUse{Device: device, Stream: stream, Audiences: httpAudiences})
	if err != nil {
		return access.Grant{}, auth.Token{}, notFoundUnless(err)
	}
	return g, tok, nil
}
