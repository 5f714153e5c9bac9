package sqlite

import (
	"context"
	"fmt"
	"time"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

var (
	_ audit.Store   = (*Store)(nil)
	_ audit.Batcher = (*Store)(nil)
)

// WriteAccess writes the starts and ends of viewing sessions in one
// transaction (one commit for many viewers: see audit.Batcher) and returns
// the starts' ids in order.
func (s *Store) WriteAccess(ctx context.Context, starts []audit.Viewing, ends []audit.Ended) ([]int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("record access: %w", err)
	}
	defer tx.Rollback()
	ids := make([]int64, 0, len(starts))
	for _, a := range starts {
		res, err := tx.ExecContext(ctx, insertAccess, string(a.Viewer), string(a.Device), a.Output, string(a.Audience), a.Remote,
			sqlrow.Nanos(a.Started))
		if err != nil {
			return nil, fmt.Errorf("record access to %s: %w", a.Device, err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, fmt.Errorf("record access to %s: %w", a.Device, err)
		}
		ids = append(ids, id)
	}
	for _, e := range ends {
		if _, err := tx.ExecContext(ctx, updateAccessEnd, sqlrow.Nanos(e.At), e.Bytes, e.ID); err != nil {
			return nil, fmt.Errorf("end access %d: %w", e.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("record access: %w", err)
	}
	return ids, nil
}

// The statements of StartAccess and EndAccess.
const (
	insertAccess = `INSERT INTO access_log (viewer, device, output, audience, remote, started)
		VALUES (?, ?, ?, ?, ?, ?)`
	updateAccessEnd = `UPDATE access_log SET ended = ?, bytes = ? WHERE id = ? AND ended = 0`
)

// StartAccess records the start of a viewing session and returns its id.
func (s *Store) StartAccess(ctx context.Context, a audit.Viewing) (int64, error) {
	res, err := s.db.ExecContext(ctx, insertAccess, string(a.Viewer), string(a.Device), a.Output, string(a.Audience), a.Remote, sqlrow.Nanos(a.Started))
	if err != nil {
		return 0, fmt.Errorf("record access to %s: %w", a.Device, err)
	}
	return res.LastInsertId()
}

// EndAccess fills in a session's end and bytes, once.
func (s *Store) EndAccess(ctx context.Context, id int64, ended time.Time, bytes int64) error {
	_, err := s.db.ExecContext(ctx, updateAccessEnd, sqlrow.Nanos(ended), bytes, id)
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
	rows, err := s.db.QueryContext(ctx, `SELECT `+sqlrow.AccessColumns+`
		FROM access_log WHERE device = ? AND started >= ? ORDER BY started DESC, id DESC LIMIT ?`,
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
