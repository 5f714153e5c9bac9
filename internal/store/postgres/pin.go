package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"vigil/internal/access"
	"vigil/internal/record"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

var _ record.PinIndex = (*Store)(nil)

// AddPin files a pin and returns its id.
func (s *Store) AddPin(ctx context.Context, p record.Pin) (int64, error) {
	var id int64
	err := s.q(ctx).QueryRow(ctx, `INSERT INTO pins (device, epoch, pinner, start, end_at, event, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, sqlrow.PinArgs(p)...).Scan(&id)
	if isForeignKey(err) {
		return 0, fmt.Errorf("add pin of %s: %w", p.Device, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("add pin of %s: %w", p.Device, err)
	}
	return id, nil
}

// Pins lists the device's pins of every epoch, by start.
func (s *Store) Pins(ctx context.Context, device access.DeviceID) ([]record.Pin, error) {
	return queryAll(ctx, s.q(ctx), sqlrow.Pin, "pins of "+string(device),
		`SELECT `+sqlrow.PinColumns+` FROM pins WHERE device = $1 ORDER BY start, id`, string(device))
}

// DeletePin removes a pin.
func (s *Store) DeletePin(ctx context.Context, id int64) error {
	if _, err := s.q(ctx).Exec(ctx, `DELETE FROM pins WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete pin %d: %w", id, err)
	}
	return nil
}

// SetQuota sets the household's quota of footage (plaintext bytes, 0: the
// server's default); a household is its owner's account.
func (s *Store) SetQuota(ctx context.Context, user access.UserID, bytes int64) error {
	tag, err := s.q(ctx).Exec(ctx, `UPDATE users SET quota_bytes = $1 WHERE id = $2`, bytes, string(user))
	return changedOneUser(tag, err, user)
}

// Quota returns what SetQuota set.
func (s *Store) Quota(ctx context.Context, user access.UserID) (int64, error) {
	var n int64
	err := s.q(ctx).QueryRow(ctx, `SELECT quota_bytes FROM users WHERE id = $1`, string(user)).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("quota of %s: %w", user, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("quota of %s: %w", user, err)
	}
	return n, nil
}
