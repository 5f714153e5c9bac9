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
	ViewerCredential(ctx context.Context, name string) (auth.Credential, error)
	CameraCredential(ctx context.Context, device access.DeviceID) (auth.Credential, error)
	Grant(ctx context.Context, name string, device access.DeviceID, aud access.Audience) (access.Grant, error)
}

var _ Accounts = (*auth.Service)(nil)

// errNotFound is the one answer for a camera that does not exist and one
// the requester may not see: no probing for camera ids.
var errNotFound = httpError(http.StatusNotFound, "no such camera", nil)

// viewerGrant authenticates the request's viewer (HTTP Basic for now; the
// accounts issue brings sessions and stream tokens) and mints a grant for
// the camera in the path.
func viewerGrant(acc Accounts, r *http.Request) (access.Grant, error) {
	device, err := access.ParseDeviceID(r.PathValue("id"))
	if err != nil {
		return access.Grant{}, errNotFound
	}
	name, pass, ok := r.BasicAuth()
	if !ok {
		return access.Grant{}, httpError(http.StatusUnauthorized, "credentials required", nil)
	}
	cred, err := acc.ViewerCredential(r.Context(), name)
	if err != nil || !cred.CheckPassword(pass) {
		return access.Grant{}, httpError(http.StatusUnauthorized, "wrong user or password", err)
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
