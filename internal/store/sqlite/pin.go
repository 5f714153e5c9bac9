package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"vigil/internal/access"
	"vigil/internal/record"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

var _ record.PinIndex = (*Store)(nil)

// AddPin files a pin and returns its id.
func (s *Store) AddPin(ctx context.Context, p record.Pin) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO pins (device, epoch, pinner, start, end_at, event, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, sqlrow.PinArgs(p)...)
	if isForeignKey(err) {
		return 0, fmt.Errorf("add pin of %s: %w", p.Device, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("add pin of %s: %w", p.Device, err)
	}
	return res.LastInsertId()
}

// Pins lists the device's pins of every epoch, by start.
func (s *Store) Pins(ctx context.Context, device access.DeviceID) ([]record.Pin, error) {
	return queryAll(ctx, s.db, sqlrow.Pin, "pins of "+string(device),
		`SELECT `+sqlrow.PinColumns+` FROM pins WHERE device = ? ORDER BY start, id`, string(device))
}

// DeletePin removes a pin.
func (s *Store) DeletePin(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM pins WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete pin %d: %w", id, err)
	}
	return nil
}

// SetQuota sets the household's quota of footage (plaintext bytes, 0: the
// server's default); a household is its owner's account.
func (s *Store) SetQuota(ctx context.Context, user access.UserID, bytes int64) error {
	res, err := s.db.ExecContext(ctx, `UPDATE users SET quota_bytes = ? WHERE id = ?`, bytes, string(user))
	return changedOneUser(res, err, user)
}

// Quota returns what SetQuota set.
func (s *Store) Quota(ctx context.Context, user access.UserID) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT quota_bytes FROM users WHERE id = ?`, string(user)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("quota of %s: %w", user, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("quota of %s: %w", user, err)
	}
	return n, nil
}
