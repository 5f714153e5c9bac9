package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
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
	return auth.Principal{ID: u.ID, Admin: u.Admin, Disabled: u.Disabled, Credential: u.Credential}, err
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
