package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
)

const deviceColumns = `id, name, source, cred_user, ha1_md5, ha1_sha256, pass_sha256, created_at, owner, claim_sha256, enabled, epoch_started`

// checkDeviceCredential keeps a device's credential bound to its id: a
// camera signs in as its own id and nothing else.
func checkDeviceCredential(id access.DeviceID, c auth.Credential) error {
	if _, err := access.ParseDeviceID(string(id)); err != nil {
		return err
	}
	if c.User != string(id) {
		return fmt.Errorf("device %s: credential user %q must be the device id", id, c.User)
	}
	return nil
}

// CreateDevice stores a new device. A zero CreatedAt is stored as now; its
// first epoch starts at CreatedAt, with a new epoch secret. It returns an
// error wrapping store.ErrExists if the id is taken.
func (s *Store) CreateDevice(ctx context.Context, d store.Device) error {
	if err := checkDeviceCredential(d.ID, d.Credential); err != nil {
		return fmt.Errorf("create device: %w", err)
	}
	secret, err := newEpochSecret()
	if err != nil {
		return fmt.Errorf("create device: %w", err)
	}
	src, err := store.SealSource(s.secrets, d.ID, d.Source)
	if err != nil {
		return fmt.Errorf("create device: %w", err)
	}
	c := d.Credential
	created := nanos(d.CreatedAt)
	_, err = s.q(ctx).Exec(ctx, `INSERT INTO devices (`+deviceColumns+`, epoch_secret) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
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
	row := s.q(ctx).QueryRow(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = $1`, string(id))
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
	rows, err := s.q(ctx).Query(ctx, `SELECT `+deviceColumns+` FROM devices WHERE `+where+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	var ds []store.Device
	for rows.Next() {
		d, err := s.scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
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

// SetDeviceCredential replaces the device's credential, or returns an error
// wrapping store.ErrNotFound.
func (s *Store) SetDeviceCredential(ctx context.Context, id access.DeviceID, c auth.Credential) error {
	if err := checkDeviceCredential(id, c); err != nil {
		return fmt.Errorf("set device credential: %w", err)
	}
	res, err := s.q(ctx).Exec(ctx, `UPDATE devices SET cred_user = $1, ha1_md5 = $2, ha1_sha256 = $3, pass_sha256 = $4 WHERE id = $5`,
		c.User, c.HA1MD5, c.HA1SHA256, c.PassSHA256, string(id))
	return changedOne(res, err, "set credential of device", id)
}

type scanner interface{ Scan(dest ...any) error }

func (s *Store) scanDevice(r scanner) (store.Device, error) {
	var (
		d              store.Device
		id, src, owner string
		created, epoch int64
		enabled        bool
	)
	c := &d.Credential
	if err := r.Scan(&id, &d.Name, &src, &c.User, &c.HA1MD5, &c.HA1SHA256, &c.PassSHA256, &created,
		&owner, &d.ClaimSHA256, &enabled, &epoch); err != nil {
		return store.Device{}, err
	}
	d.ID, d.CreatedAt, d.EpochStarted = access.DeviceID(id), fromNanos(created), fromNanos(epoch)
	d.Owner, d.Disabled = access.UserID(owner), !enabled
	var err error
	d.Source, err = store.OpenSource(s.secrets, d.ID, src)
	return d, err
}

// epochSecretSize is the length of an epoch secret in bytes.
const epochSecretSize = 32

// newEpochSecret returns a fresh epoch secret from crypto/rand.
func newEpochSecret() ([]byte, error) {
	b := make([]byte, epochSecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("new epoch secret: %w", err)
	}
	return b, nil
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
	if len(secret) != epochSecretSize {
		return nil, fmt.Errorf("epoch secret of device %s is %d bytes, want %d", id, len(secret), epochSecretSize)
	}
	return secret, nil
}
