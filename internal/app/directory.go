package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/httpapi"
	"vigil/internal/oauth"
	"vigil/internal/store"
	"vigil/internal/store/sqlite"
)

// AdminName is the admin principal's user name until accounts land.
const AdminName = "admin"

// directory adapts the store to what auth and ingest read.
type directory struct {
	st *sqlite.Store
}

var _ auth.Directory = directory{}

func (d directory) DeviceCredential(ctx context.Context, id access.DeviceID) (auth.Credential, error) {
	dev, err := d.st.Device(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return auth.Credential{}, fmt.Errorf("%w: device %s", auth.ErrUnknown, id)
	}
	return dev.Credential, err
}

func (d directory) Principal(ctx context.Context, name string) (auth.Principal, error) {
	u, err := d.st.UserByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return auth.Principal{}, fmt.Errorf("%w: user %s", auth.ErrUnknown, name)
	}
	if err != nil {
		return auth.Principal{}, err
	}
	toks, err := d.st.APITokens(ctx, u.ID, time.Now())
	if err != nil {
		return auth.Principal{}, err
	}
	p := auth.Principal{ID: u.ID, Admin: u.Admin, Disabled: u.Disabled, Credential: u.Credential}
	for _, t := range toks {
		c := t.Credential
		c.User = u.Name // tokens' digests are made with the user's name
		p.Tokens = append(p.Tokens, auth.APIKey{ID: t.ID, Scope: t.Scope, Credential: c})
	}
	return p, nil
}

// Bound checks that what a stream token was minted in still stands: the
// sign-in session, the password as it was, or the account link.
func (d directory) Bound(ctx context.Context, p auth.Principal, session string) error {
	kind, id := session[:min(2, len(session))], session[min(2, len(session)):]
	switch kind {
	case auth.BoundSession:
		s, err := d.st.Session(ctx, id, time.Now())
		if err == nil && s.User != p.ID {
			err = errors.New("session of another user")
		}
		return err
	case auth.BoundPassword:
		if p.Credential.Usable() && id == auth.PasswordFingerprint(p.Credential.PassSHA256) {
			return nil
		}
		phc, err := d.st.PasswordHash(ctx, p.ID)
		if err != nil || (phc != "" && id == auth.PasswordFingerprint(phc)) {
			return err
		}
		return errors.New("password changed")
	case auth.BoundLink:
		l, err := d.st.Link(ctx, id)
		if err == nil && (!l.Live() || l.User != p.ID) {
			err = errors.New("account link ended")
		}
		return err
	}
	return fmt.Errorf("token bound to %q, which is nothing Vigil knows", kind)
}

func (d directory) Standing(ctx context.Context, user access.UserID, device access.DeviceID) (auth.Standing, error) {
	dev, err := d.st.Device(ctx, device)
	if errors.Is(err, store.ErrNotFound) {
		return auth.Standing{}, fmt.Errorf("%w: device %s", auth.ErrUnknown, device)
	}
	if err != nil {
		return auth.Standing{}, err
	}
	st := auth.Standing{DeviceDisabled: dev.Disabled, Claimed: dev.Owner != "", Owner: dev.Owner != "" && dev.Owner == user}
	sh, err := d.st.Share(ctx, device, user)
	switch {
	case err == nil:
		st.Shared, st.ShareUntil = true, sh.Until
	case !errors.Is(err, store.ErrNotFound):
		return auth.Standing{}, err
	}
	return st, nil
}

var _ auth.Households = directory{}

func (d directory) ClaimDevice(ctx context.Context, claimSHA256 string, owner access.UserID) (access.DeviceID, error) {
	dev, err := d.st.ClaimDevice(ctx, claimSHA256, owner)
	return dev.ID, unknown(err)
}

func (d directory) PutShare(ctx context.Context, device access.DeviceID, viewer access.UserID, until time.Time) error {
	return unknown(d.st.PutShare(ctx, store.Share{Device: device, Viewer: viewer, Until: until}))
}

func (d directory) DeleteShare(ctx context.Context, device access.DeviceID, viewer access.UserID) error {
	return unknown(d.st.DeleteShare(ctx, device, viewer))
}

func (d directory) ResetDevice(ctx context.Context, device access.DeviceID, claimSHA256 string) error {
	return unknown(d.st.ResetDevice(ctx, device, claimSHA256))
}

// unknown maps the store's "not found" to auth's.
func unknown(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", auth.ErrUnknown, err)
	}
	return err
}

func (d directory) pullSources(ctx context.Context) (map[access.DeviceID]string, error) {
	devs, err := d.st.Devices(ctx)
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

// ensureAdmin creates the admin principal on first start. A configured
// password is applied at every start; otherwise a generated one is logged
// once, when the admin is created.
func ensureAdmin(ctx context.Context, st *sqlite.Store, password string, log *slog.Logger) error {
	_, err := st.UserByName(ctx, AdminName)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if exists && password == "" {
		return nil
	}
	generated := password == ""
	if generated {
		if password, err = auth.NewPassword(); err != nil {
			return err
		}
	}
	err = st.UpsertUser(ctx, store.User{ID: "u-admin", Name: AdminName, Admin: true,
		Credential: auth.HashCredential(AdminName, password)})
	if err != nil {
		return fmt.Errorf("create admin: %w", err)
	}
	if generated {
		log.Warn("admin created; its password is shown only now (set admin_password to choose one)",
			"user", AdminName, "password", password)
	}
	return nil
}

// Cameras lists what user may see: owned cameras, cameras shared with them
// (live shares only) and, for admins, unclaimed cameras.
func (d directory) Cameras(ctx context.Context, user access.UserID, admin bool, now time.Time) ([]httpapi.Camera, error) {
	owned, err := d.st.DevicesOwnedBy(ctx, user)
	if err != nil {
		return nil, err
	}
	var out []httpapi.Camera
	for _, dev := range owned {
		out = append(out, httpapi.Camera{ID: dev.ID, Name: dev.Name, Role: "owner"})
	}
	shares, err := d.st.SharesWith(ctx, user)
	if err != nil {
		return nil, err
	}
	for _, sh := range shares {
		if !sh.Live(now) {
			continue
		}
		dev, err := d.st.Device(ctx, sh.Device)
		if err != nil {
			return nil, err
		}
		out = append(out, httpapi.Camera{ID: dev.ID, Name: dev.Name, Role: "viewer", Until: sh.Until})
	}
	if admin {
		unclaimed, err := d.st.DevicesOwnedBy(ctx, "")
		if err != nil {
			return nil, err
		}
		for _, dev := range unclaimed {
			out = append(out, httpapi.Camera{ID: dev.ID, Name: dev.Name, Role: "operator"})
		}
	}
	return out, nil
}

// Shares lists who device is shared with, by user name.
func (d directory) Shares(ctx context.Context, device access.DeviceID) ([]httpapi.ShareView, error) {
	shares, err := d.st.SharesOfDevice(ctx, device)
	if err != nil {
		return nil, err
	}
	out := make([]httpapi.ShareView, 0, len(shares))
	for _, sh := range shares {
		u, err := d.st.User(ctx, sh.Viewer)
		if err != nil {
			return nil, err
		}
		out = append(out, httpapi.ShareView{User: u.Name, Until: sh.Until, Created: sh.CreatedAt})
	}
	return out, nil
}

// History lists a device's viewing sessions with user names.
func (d directory) History(ctx context.Context, device access.DeviceID, limit int) ([]httpapi.AccessView, error) {
	rows, err := d.st.AccessOf(ctx, device, limit)
	if err != nil {
		return nil, err
	}
	names := map[access.UserID]string{}
	out := make([]httpapi.AccessView, 0, len(rows))
	for _, a := range rows {
		name, ok := names[a.Viewer]
		if !ok {
			if u, err := d.st.User(ctx, a.Viewer); err == nil {
				name = u.Name
			} else {
				name = string(a.Viewer) // a deleted user keeps its id in the history
			}
			names[a.Viewer] = name
		}
		out = append(out, httpapi.AccessView{User: name, Output: a.Output, Audience: a.Audience, Remote: a.Remote,
			Started: a.Started, Ended: a.Ended, Bytes: a.Bytes})
	}
	return out, nil
}

// linkCameras lists what a user may expose on the account-linking consent
// page: the household's cameras (owned and shared), never the unclaimed
// ones an admin may see.
type linkCameras struct{ d directory }

var _ oauth.Cameras = linkCameras{}

func (l linkCameras) Cameras(ctx context.Context, user access.UserID) ([]oauth.Camera, error) {
	cams, err := l.d.Cameras(ctx, user, false, time.Now())
	if err != nil {
		return nil, err
	}
	out := make([]oauth.Camera, 0, len(cams))
	for _, c := range cams {
		out = append(out, oauth.Camera{ID: c.ID, Name: c.Name, Shared: c.Role != "owner"})
	}
	return out, nil
}
