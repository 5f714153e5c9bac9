package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/household"
	"vigil/internal/httpapi"
	"vigil/internal/oauth"
	"vigil/internal/store"
	"vigil/internal/store/backend"
)

// AdminName is the admin principal's user name until accounts land.
const AdminName = "admin"

// pullSources lists the pull cameras of st and their source URLs.
func pullSources(st backend.Store) func(ctx context.Context) (map[access.DeviceID]string, error) {
	return func(ctx context.Context) (map[access.DeviceID]string, error) {
		devs, err := st.Devices(ctx)
		if err != nil {
			return nil, err
		}
		out := map[access.DeviceID]string{}
		for _, dev := range devs {
			if dev.Source != "" {
				out[dev.ID] = dev.Source.Reveal()
			}
		}
		return out, nil
	}
}

// accountStore is the store's side of changing accounts.
type accountStore struct{ backend.Store }

var _ auth.AccountStore = accountStore{}

func (s accountStore) DeleteAPIToken(ctx context.Context, user access.UserID, id string) error {
	err := s.Store.DeleteAPIToken(ctx, user, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", auth.ErrUnknown, err)
	}
	return err
}

func (s accountStore) Invitation(ctx context.Context, codeSHA256 string, now time.Time) error {
	return invitation(s.Store.Invitation(ctx, codeSHA256, now))
}

// SignUp creates the user, with no generated password (players use API
// tokens).
func (s accountStore) SignUp(ctx context.Context, id access.UserID, name, phc, invitationSHA256 string, now time.Time) error {
	err := s.Store.SignUp(ctx, store.User{ID: id, Name: name}, phc, invitationSHA256, now)
	if errors.Is(err, store.ErrExists) {
		return fmt.Errorf("%w: %w", auth.ErrNameTaken, err)
	}
	return invitation(err)
}

// invitation maps the store's "not found" to an invitation not live.
func invitation(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", auth.ErrInvitation, err)
	}
	return err
}

// ensureAdmin creates the admin principal on first start. A configured
// password is applied at every start; otherwise one is generated when the
// admin is created and returned, for the caller to show once (never to
// log).
func ensureAdmin(ctx context.Context, st backend.Store, password string) (generated string, err error) {
	_, err = st.UserByName(ctx, AdminName)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if exists && password == "" {
		return "", nil
	}
	if password == "" {
		if password, err = auth.NewPassword(); err != nil {
			return "", err
		}
		generated = password
	}
	err = st.UpsertUser(ctx, store.User{ID: "u-admin", Name: AdminName, Admin: true,
		Credential: auth.HashCredential(AdminName, password)})
	if err != nil {
		return "", fmt.Errorf("create admin: %w", err)
	}
	return generated, nil
}

// linkCameras lists what a user may expose on the account-linking consent
// page: the household's cameras (owned and shared), never the unclaimed
// ones an admin may see.
type linkCameras struct{ household.Views }

var _ oauth.Cameras = linkCameras{}

func (l linkCameras) Cameras(ctx context.Context, user access.UserID) ([]oauth.Camera, error) {
	cams, err := l.Household(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make([]oauth.Camera, 0, len(cams))
	for _, c := range cams {
		out = append(out, oauth.Camera{ID: c.ID, Name: c.Name, Shared: c.Role != auth.RoleOwner})
	}
	return out, nil
}

// cameraIDs lists every provisioned camera, for the operators' per-camera
// series (hub.Cameras).
func cameraIDs(st backend.Store) func(ctx context.Context) ([]access.DeviceID, error) {
	return func(ctx context.Context) ([]access.DeviceID, error) {
		devs, err := st.Devices(ctx)
		ids := make([]access.DeviceID, 0, len(devs))
		for _, dev := range devs {
			ids = append(ids, dev.ID)
		}
		return ids, err
	}
}

// cameraStatus is what the hub says of a camera for the API's listings.
func (a *App) cameraStatus(d access.DeviceID) httpapi.CameraStatus {
	last, seen := a.hub.LastFrame(d, access.StreamMain)
	if !seen {
		last = time.Time{}
	}
	return httpapi.CameraStatus{Online: a.hub.Online(d, access.StreamMain), Sub: a.hub.Online(d, access.StreamSub), LastFrame: last}
}
