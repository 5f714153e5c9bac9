package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/household"
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
	p := auth.Principal{ID: u.ID, Name: u.Name, Admin: u.Admin, Disabled: u.Disabled, Credential: u.Credential}
	for _, t := range toks {
		c := t.Credential
		c.User = u.Name // tokens' digests are made with the user's name
		p.Tokens = append(p.Tokens, auth.APIKey{ID: t.ID, Scope: t.Scope, Credential: c})
	}
	return p, nil
}

// Bound checks that what a stream token was minted in still stands: the
// sign-in session, the password as it was, or the account link.
func (d directory) Bound(ctx context.Context, p auth.Principal, b auth.Binding) error {
	id := b.ID
	switch b.Via {
	case auth.ViaSession:
		s, err := d.st.Session(ctx, id, time.Now())
		if err == nil && s.User != p.ID {
			err = errors.New("session of another user")
		}
		return err
	case auth.ViaPassword:
		if p.Credential.Usable() && id == auth.PasswordFingerprint(p.Credential.PassSHA256) {
			return nil
		}
		phc, err := d.st.PasswordHash(ctx, p.ID)
		if err != nil || (phc != "" && id == auth.PasswordFingerprint(phc)) {
			return err
		}
		return errors.New("password changed")
	case auth.ViaLink:
		l, err := d.st.Link(ctx, id)
		if err == nil && (!l.Live() || l.User != p.ID) {
			err = errors.New("account link ended")
		}
		return err
	}
	return fmt.Errorf("token bound to %q, which is nothing Vigil knows", b)
}

func (d directory) Standing(ctx context.Context, user access.UserID, device access.DeviceID) (auth.Standing, error) {
	return household.Views{Store: d.st}.Standing(ctx, user, device)
}

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

// sessions is the store's side of signing in.
type sessions struct{ *sqlite.Store }

var _ auth.SessionStore = sessions{}

// UserName is the name of the user id.
func (s sessions) UserName(ctx context.Context, id access.UserID) (string, error) {
	u, err := s.User(ctx, id)
	return u.Name, err
}

// accountStore is the store's side of changing accounts.
type accountStore struct{ *sqlite.Store }

var _ auth.AccountStore = accountStore{}

func (s accountStore) DeleteAPIToken(ctx context.Context, user access.UserID, id string) error {
	return unknown(s.Store.DeleteAPIToken(ctx, user, id))
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
