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

var _ record.EventIndex = (*Store)(nil)

// AddEvent files an event and returns its id.
func (s *Store) AddEvent(ctx context.Context, e record.Event) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO events (device, epoch, kind, start, end_at, score, thumb_id, thumb)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, sqlrow.EventArgs(e)...)
	if err != nil {
		return 0, fmt.Errorf("add event of %s: %w", e.Device, err)
	}
	return res.LastInsertId()
}

// Events lists up to limit of the device's events of the epoch that
// started at epoch with a start in [from, to), by start.
func (s *Store) Events(ctx context.Context, device access.DeviceID, epoch, from, to time.Time, limit int) ([]record.Event, error) {
	return s.events(ctx, `device = ? AND epoch = ? AND start >= ? AND start < ? ORDER BY start, id LIMIT ?`,
		string(device), epoch.UnixNano(), from.UnixNano(), to.UnixNano(), limit)
}

// OldestEvents lists up to limit of the device's events of every epoch,
// oldest first.
func (s *Store) OldestEvents(ctx context.Context, device access.DeviceID, limit int) ([]record.Event, error) {
	return s.events(ctx, `device = ? ORDER BY start, id LIMIT ?`, string(device), limit)
}

// DeleteEvent removes an event's row (its thumbnail is the caller's).
func (s *Store) DeleteEvent(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM events WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete event %d: %w", id, err)
	}
	return nil
}

// events runs a query whose where clause is one of this file's constants.
func (s *Store) events(ctx context.Context, where string, args ...any) ([]record.Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sqlrow.EventColumns+` FROM events WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.Event)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

// Event returns one event by id.
func (s *Store) Event(ctx context.Context, id int64) (record.Event, error) {
	return byID(s.db.QueryRowContext(ctx, `SELECT `+sqlrow.EventColumns+` FROM events WHERE id = ?`, id), sqlrow.Event, "event", id)
}

// SetContinuous sets which of the device's streams are recorded all the
// time.
func (s *Store) SetContinuous(ctx context.Context, id access.DeviceID, c record.Continuous) error {
	res, err := s.db.ExecContext(ctx, `UPDATE devices SET record_main = ?, record_sub = ? WHERE id = ?`, c.Main, c.Sub, string(id))
	return changedOne(res, err, "set continuous recording of device", id)
}

// Continuous returns what SetContinuous set for the device.
func (s *Store) Continuous(ctx context.Context, id access.DeviceID) (record.Continuous, error) {
	var c record.Continuous
	err := s.db.QueryRowContext(ctx, `SELECT record_main, record_sub FROM devices WHERE id = ?`, string(id)).Scan(&c.Main, &c.Sub)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("continuous recording of device %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("continuous recording of device %s: %w", id, err)
	}
	return c, nil
}

// AllContinuous is every device's continuous-recording flags.
func (s *Store) AllContinuous(ctx context.Context) (map[access.DeviceID]record.Continuous, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sqlrow.ContinuousColumns+` FROM devices`)
	if err != nil {
		return nil, fmt.Errorf("continuous recording of devices: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.AllContinuous(rows)
	if err != nil {
		return nil, fmt.Errorf("continuous recording of devices: %w", err)
	}
	return out, nil
}
