package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"vigil/internal/access"
	"vigil/internal/record"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

// ClaimDevice gives the unclaimed device whose claim code hashes to
// claimSHA256 to owner, and spends the code. The claim starts a new
// ownership epoch (now, with a new epoch secret). It returns an error
// wrapping store.ErrNotFound for an unknown or spent code.
func (s *Store) ClaimDevice(ctx context.Context, claimSHA256 string, owner access.UserID) (store.Device, error) {
	if claimSHA256 == "" {
		return store.Device{}, fmt.Errorf("claim: %w", store.ErrNotFound)
	}
	secret, err := store.NewEpochSecret()
	if err != nil {
		return store.Device{}, fmt.Errorf("claim: %w", err)
	}
	row := s.db.QueryRowContext(ctx, `UPDATE devices SET owner = ?, claim_sha256 = '', epoch_started = ?, epoch_secret = ?
		WHERE claim_sha256 = ? AND owner = '' RETURNING `+sqlrow.DeviceColumns, string(owner), sqlrow.Nanos(time.Time{}), secret, claimSHA256)
	d, err := s.scanDevice(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Device{}, fmt.Errorf("claim: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Device{}, fmt.Errorf("claim: %w", err)
	}
	return d, nil
}

// ResetDevice drops every binding of a device — its owner, all its shares
// and its place in linked assistants — and sets a new claim code, in one transaction: a resold camera
// keeps nothing of its old household. It starts a new ownership epoch (now,
// with a new epoch secret that overwrites the old one).
func (s *Store) ResetDevice(ctx context.Context, id access.DeviceID, claimSHA256 string) error {
	_, err := s.reset(ctx, id, claimSHA256, time.Time{})
	return err
}

// ResetDeviceKeeping is ResetDevice for a release that keeps its
// household's footage until deadline: in the same transaction the ended
// epoch's secret moves to a new export of the device's owner (the only
// copy left), whose id it returns. An unclaimed device has no household
// to keep for: an error wrapping store.ErrNotFound, and nothing changes.
func (s *Store) ResetDeviceKeeping(ctx context.Context, id access.DeviceID, claimSHA256 string, deadline time.Time) (int64, error) {
	e, err := s.reset(ctx, id, claimSHA256, deadline)
	return e.ID, err
}

// reset is ResetDevice, keeping an export until deadline unless it is zero.
func (s *Store) reset(ctx context.Context, id access.DeviceID, claimSHA256 string, deadline time.Time) (record.Export, error) {
	secret, err := store.NewEpochSecret()
	if err != nil {
		return record.Export{}, fmt.Errorf("reset device %s: %w", id, err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return record.Export{}, fmt.Errorf("reset device %s: %w", id, err)
	}
	defer tx.Rollback()
	now := sqlrow.Nanos(time.Time{})
	var e record.Export
	if !deadline.IsZero() {
		row := tx.QueryRowContext(ctx, `INSERT INTO exports (device, epoch, household, name, released_at, deadline, epoch_secret)
			SELECT id, epoch_started, owner, name, ?, ?, epoch_secret FROM devices WHERE id = ? AND owner != ''
			RETURNING `+sqlrow.ExportColumns, now, sqlrow.Nanos(deadline), string(id))
		if e, err = sqlrow.Export(row); errors.Is(err, sql.ErrNoRows) {
			return e, fmt.Errorf("keep the footage of device %s: no owner: %w", id, store.ErrNotFound)
		} else if err != nil {
			return e, fmt.Errorf("keep the footage of device %s: %w", id, err)
		}
	}
	res, err := tx.ExecContext(ctx, `UPDATE devices SET owner = '', claim_sha256 = ?, epoch_started = ?, epoch_secret = ? WHERE id = ?`,
		claimSHA256, now, secret, string(id))
	if err := changedOne(res, err, "reset device", id); err != nil {
		return record.Export{}, err
	}
	for _, q := range []string{`DELETE FROM shares WHERE device = ?`, `DELETE FROM oauth_link_devices WHERE device = ?`} {
		if _, err := tx.ExecContext(ctx, q, string(id)); err != nil {
			return record.Export{}, fmt.Errorf("reset device %s: %w", id, err)
		}
	}
	return e, tx.Commit()
}

// PutShare creates or replaces a share. Changing the end of a live share
// keeps its creation time (its epoch); granting again a share that had
// ended starts it anew, as one revoked and granted again does.
func (s *Store) PutShare(ctx context.Context, sh store.Share) error {
	var until int64
	if !sh.Until.IsZero() {
		until = sqlrow.Nanos(sh.Until)
	}
	created := sqlrow.Nanos(sh.CreatedAt)
	_, err := s.db.ExecContext(ctx, `INSERT INTO shares (device, viewer, until, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (device, viewer) DO UPDATE SET until = excluded.until,
			created_at = CASE WHEN shares.until != 0 AND shares.until <= ? THEN excluded.created_at ELSE shares.created_at END`,
		string(sh.Device), string(sh.Viewer), until, created, sqlrow.Nanos(time.Time{}))
	if isForeignKey(err) {
		return fmt.Errorf("share %s with %s: %w", sh.Device, sh.Viewer, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("share %s with %s: %w", sh.Device, sh.Viewer, err)
	}
	return nil
}

// DeleteShare revokes a share, or returns an error wrapping store.ErrNotFound.
func (s *Store) DeleteShare(ctx context.Context, device access.DeviceID, viewer access.UserID) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM shares WHERE device = ? AND viewer = ?`, string(device), string(viewer))
	return changedOne(res, err, "unshare device", device)
}

// Share returns the share of device with viewer, or an error wrapping store.ErrNotFound.
func (s *Store) Share(ctx context.Context, device access.DeviceID, viewer access.UserID) (store.Share, error) {
	shares, err := s.shares(ctx, `device = ? AND viewer = ?`, string(device), string(viewer))
	if err == nil && len(shares) == 0 {
		err = fmt.Errorf("share of %s with %s: %w", device, viewer, store.ErrNotFound)
	}
	if err != nil {
		return store.Share{}, err
	}
	return shares[0], nil
}

// SharesOfDevice lists who a device is shared with.
func (s *Store) SharesOfDevice(ctx context.Context, device access.DeviceID) ([]store.Share, error) {
	return s.shares(ctx, `device = ?`, string(device))
}

// SharesWith lists the shares a viewer has.
func (s *Store) SharesWith(ctx context.Context, viewer access.UserID) ([]store.Share, error) {
	return s.shares(ctx, `viewer = ?`, string(viewer))
}

// shares runs a query whose where clause is one of the constants above.
func (s *Store) shares(ctx context.Context, where string, args ...any) ([]store.Share, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sqlrow.ShareColumns+` FROM shares WHERE `+where+` ORDER BY created_at`, args...)
	if err != nil {
		return nil, fmt.Errorf("list shares: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.Share)
	if err != nil {
		return nil, fmt.Errorf("list shares: %w", err)
	}
	return out, nil
}

// DevicesOwnedBy lists the devices a user owns.
func (s *Store) DevicesOwnedBy(ctx context.Context, owner access.UserID) ([]store.Device, error) {
	return s.devices(ctx, `owner = ?`, string(owner))
}
