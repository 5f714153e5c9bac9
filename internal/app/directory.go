package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

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
	return auth.Principal{ID: u.ID, Admin: u.Admin, Credential: u.Credential}, err
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
