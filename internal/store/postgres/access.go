package postgres

import (
	"context"
	"fmt"
	"time"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

var _ audit.Store = (*Store)(nil)

// StartAccess records the start of a viewing session and returns its id.
func (s *Store) StartAccess(ctx context.Context, a audit.Viewing) (int64, error) {
	var id int64
	err := s.q(ctx).QueryRow(ctx, `INSERT INTO access_log (viewer, device, output, audience, remote, started)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, string(a.Viewer), string(a.Device), a.Output, string(a.Audience), a.Remote,
		sqlrow.Nanos(a.Started)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record access to %s: %w", a.Device, err)
	}
	return id, nil
}

// EndAccess fills in a session's end and bytes, once.
func (s *Store) EndAccess(ctx context.Context, id int64, ended time.Time, bytes int64) error {
	_, err := s.q(ctx).Exec(ctx, `UPDATE access_log SET ended = $1, bytes = $2 WHERE id = $3 AND ended = 0`,
		sqlrow.Nanos(ended), bytes, id)
	if err != nil {
		return fmt.Errorf("end access %d: %w", id, err)
	}
	return nil
}

// AccessOf lists a device's viewing sessions that started at or after since,
// newest first, at most limit. An owner is shown only their own epoch's
// (since: the device's EpochStarted); older rows stay for the operator.
func (s *Store) AccessOf(ctx context.Context, device access.DeviceID, since time.Time, limit int) ([]store.Access, error) {
	var from int64 // zero since: every row
	if !since.IsZero() {
		from = since.UnixNano()
	}
	rows, err := s.q(ctx).Query(ctx, `SELECT `+sqlrow.AccessColumns+`
		FROM access_log WHERE device = $1 AND started >= $2 ORDER BY started DESC, id DESC LIMIT $3`,
		string(device), from, limit)
	if err != nil {
		return nil, fmt.Errorf("access history of %s: %w", device, err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.Access)
	if err != nil {
		return nil, fmt.Errorf("access history of %s: %w", device, err)
	}
	return out, nil
}
