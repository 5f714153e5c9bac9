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
}

var _ Accounts = (*auth.Service)(nil)

// errNotFound is the one answer for a camera that does not exist and one
// the requester may not see: no probing for camera ids.
var errNotFound = httpError(http.StatusNotFound, "no such camera", nil)

// viewerGrant authenticates the request's viewer — a stream token in
// `?token=` (for players that cannot send headers) or HTTP Basic — and mints
// a grant for the camera in the path. A token only names who asks: the
// grant is minted from the store as for any request, so a revoked share
// makes outstanding tokens useless.
func viewerGrant(au *Authenticator, acc Accounts, tokens *auth.Tokens, r *http.Request) (access.Grant, error) {
	device, err := access.ParseDeviceID(r.PathValue("id"))
	if err != nil {
		return access.Grant{}, errNotFound
	}
	if t := r.URL.Query().Get("token"); t != "" && tokens != nil {
		return tokenGrant(acc, tokens, r, device, t)
	}
	name, _, err := au.user(r)
	if err != nil {
		return access.Grant{}, err
	}
	g, err := acc.Grant(r.Context(), name, device, access.AudienceWeb)
	if err != nil {
		return access.Grant{}, &HTTPError{Code: errNotFound.Code, Msg: errNotFound.Msg, Err: err}
	}
	return g, nil
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

// streamParam reads ?stream=main|sub.
func streamParam(r *http.Request) (access.StreamID, error) {
	s, err := access.ParseStreamID(r.URL.Query().Get("stream"))
	if err != nil {
		return "", httpError(http.StatusBadRequest, err.Error(), nil)
	}
	return s, nil
}

// httpAudiences are the clients that fetch media over HTTP; an RTSP token
// opens nothing here.
var httpAudiences = map[access.Audience]bool{access.AudienceWeb: true, access.AudienceGoogle: true, access.AudienceAlexa: true}

func tokenGrant(acc Accounts, tokens *auth.Tokens, r *http.Request, device access.DeviceID, t string) (access.Grant, error) {
	tok, err := tokens.Verify(t)
	if err != nil {
		return access.Grant{}, httpError(http.StatusUnauthorized, "stream token invalid or expired", err)
	}
	device = tokenDevice(tok, device)
	if tok.Device != device || !tokenStreamMatches(r, tok.Stream) {
		return access.Grant{}, httpError(http.StatusForbidden, "stream token is for another camera or stream", nil)
	}
	if !httpAudiences[tok.Audience] {
		return access.Grant{}, httpError(http.StatusForbidden, "stream token is for another kind of client", nil)
	}
	g, err := acc.Grant(r.Context(), tok.User, device, tok.Audience)
	if err != nil {
		return access.Grant{}, &HTTPError{Code: errNotFound.Code, Msg: errNotFound.Msg, Err: err}
	}
	return g, nil
}

// tokenStreamMatches checks the stream a request asks for (path or ?stream)
// against the token's; the multivariant playlist lists both streams, so a
// request naming none is allowed.
func tokenStreamMatches(r *http.Request, want access.StreamID) bool {
	name := r.PathValue("stream")
	if name == "" {
		name = r.URL.Query().Get("stream")
	}
	if name == "" {
		return true
	}
	s, err := access.ParseStreamID(name)
	return err == nil && s == want
}
