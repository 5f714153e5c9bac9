package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

// CreateDevice stores a new device. A zero CreatedAt is stored as now; its
// first epoch starts at CreatedAt, with a new epoch secret. It returns an
// error wrapping store.ErrExists if the id is taken.
func (s *Store) CreateDevice(ctx context.Context, d store.Device) error {
	if err := store.CheckDeviceCredential(d.ID, d.Credential); err != nil {
		return fmt.Errorf("create device: %w", err)
	}
	secret, err := store.NewEpochSecret()
	if err != nil {
		return fmt.Errorf("create device: %w", err)
	}
	src, err := store.SealSource(s.secrets, d.ID, d.Source)
	if err != nil {
		return fmt.Errorf("create device: %w", err)
	}
	c := d.Credential
	created := sqlrow.Nanos(d.CreatedAt)
	_, err = s.q(ctx).Exec(ctx, `INSERT INTO devices (`+sqlrow.DeviceColumns+`, epoch_secret) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		string(d.ID), d.Name, src, c.User, c.HA1MD5, c.HA1SHA256, c.PassSHA256, created,
		string(d.Owner), d.ClaimSHA256, !d.Disabled, created, secret)
	if isConstraint(err) {
		return fmt.Errorf("create device %s: %w", d.ID, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create device %s: %w", d.ID, err)
	}
	return nil
}

// Device returns the device with id, or an error wrapping store.ErrNotFound.
func (s *Store) Device(ctx context.Context, id access.DeviceID) (store.Device, error) {
	row := s.q(ctx).QueryRow(ctx, `SELECT `+sqlrow.DeviceColumns+` FROM devices WHERE id = $1`, string(id))
	d, err := s.scanDevice(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Device{}, fmt.Errorf("device %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Device{}, fmt.Errorf("device %s: %w", id, err)
	}
	return d, nil
}

// Devices returns every device, oldest first.
func (s *Store) Devices(ctx context.Context) ([]store.Device, error) {
	return s.devices(ctx, `1 = 1`)
}

// devices runs a query whose where clause is one of the constants of this package.
func (s *Store) devices(ctx context.Context, where string, args ...any) ([]store.Device, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+sqlrow.DeviceColumns+` FROM devices WHERE `+where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	ds, err := sqlrow.Collect(rows, s.scanDevice)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return ds, nil
}

// DeleteDevice removes the device with id, or returns an error wrapping
// store.ErrNotFound.
func (s *Store) DeleteDevice(ctx context.Context, id access.DeviceID) error {
	res, err := s.q(ctx).Exec(ctx, `DELETE FROM devices WHERE id = $1`, string(id))
	return changedOne(res, err, "delete device", id)
}

// SetDeviceName renames the device, or returns an error wrapping
// store.ErrNotFound. The name is shown to people only: nothing keys on it.
func (s *Store) SetDeviceName(ctx context.Context, id access.DeviceID, name string) error {
	res, err := s.q(ctx).Exec(ctx, `UPDATE devices SET name = $1 WHERE id = $2`, name, string(id))
	return changedOne(res, err, "rename device", id)
}

// SetDeviceCredential replaces the device's credential, or returns an error
// wrapping store.ErrNotFound.
func (s *Store) SetDeviceCredential(ctx context.Context, id access.DeviceID, c auth.Credential) error {
	if err := store.CheckDeviceCredential(id, c); err != nil {
		return fmt.Errorf("set device credential: %w", err)
	}
	res, err := s.q(ctx).Exec(ctx, `UPDATE devices SET cred_user = $1, ha1_md5 = $2, ha1_sha256 = $3, pass_sha256 = $4 WHERE id = $5`,
		c.User, c.HA1MD5, c.HA1SHA256, c.PassSHA256, string(id))
	return changedOne(res, err, "set credential of device", id)
}

func (s *Store) scanDevice(r sqlrow.Scanner) (store.Device, error) {
	return sqlrow.Device(r, s.secrets)
}

// EpochSecret returns the secret of the device's current ownership epoch,
// which its data at rest is sealed under (see seal.Sealer), or an error
// wrapping store.ErrNotFound. The caller must not keep or log it: a new
// epoch overwrites it so that the old one's data no longer opens.
func (s *Store) EpochSecret(ctx context.Context, id access.DeviceID) ([]byte, error) {
	var secret []byte
	err := s.q(ctx).QueryRow(ctx, `SELECT epoch_secret FROM devices WHERE id = $1`, string(id)).Scan(&secret)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("epoch secret of device %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("epoch secret of device %s: %w", id, err)
	}
	if len(secret) != store.EpochSecretSize {
		return nil, fmt.Errorf("epoch secret of device %s is %d bytes, want %d", id, len(secret), store.EpochSecretSize)
	}
	return secret, nil
}
