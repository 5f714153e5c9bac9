package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"vigil/internal/access"
	"vigil/internal/record"
	"vigil/internal/store"
	"vigil/internal/store/sqlrow"
)

var _ record.Index = (*Store)(nil)

// Epoch returns when the device's current ownership epoch started and its
// secret, read together: a recorder seals a segment under the secret and
// files it under the start, so the two must belong to one epoch.
func (s *Store) Epoch(ctx context.Context, id access.DeviceID) (time.Time, []byte, error) {
	var (
		started int64
		secret  []byte
	)
	err := s.q(ctx).QueryRow(ctx, `SELECT epoch_started, epoch_secret FROM devices WHERE id = $1`, string(id)).Scan(&started, &secret)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil, fmt.Errorf("epoch of device %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("epoch of device %s: %w", id, err)
	}
	if len(secret) != store.EpochSecretSize {
		return time.Time{}, nil, fmt.Errorf("epoch secret of device %s is %d bytes, want %d", id, len(secret), store.EpochSecretSize)
	}
	return sqlrow.FromNanos(started), secret, nil
}

// AddRecording files a recorded segment whose object is stored, and returns
// its id.
func (s *Store) AddRecording(ctx context.Context, r record.Recording) (int64, error) {
	var id int64
	err := s.q(ctx).QueryRow(ctx, `INSERT INTO recordings (device, stream, epoch, seg_id, start, duration, size, object, fragments)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`, sqlrow.RecordingArgs(r)...).Scan(&id)
	if isConstraint(err) {
		return 0, fmt.Errorf("add recording of %s: object %s: %w: %w", r.Device, r.Object, record.ErrIndexed, store.ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("add recording of %s: %w", r.Device, err)
	}
	return id, nil
}

// Recordings lists the device's recordings of stream made in the epoch
// that started at epoch and overlapping [from, to), by start.
func (s *Store) Recordings(ctx context.Context, device access.DeviceID, stream access.StreamID, epoch, from, to time.Time) ([]record.Recording, error) {
	out, err := s.recordings(ctx, `device = $1 AND epoch = $2 AND stream = $3 AND start < $4 AND start + duration > $5 ORDER BY start, id`,
		string(device), epoch.UnixNano(), string(stream), to.UnixNano(), from.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("recordings of %s: %w", device, err)
	}
	return out, nil
}

// Recording returns one recording by id.
func (s *Store) Recording(ctx context.Context, id int64) (record.Recording, error) {
	return byID(s.q(ctx).QueryRow(ctx, `SELECT `+sqlrow.RecordingColumns+` FROM recordings WHERE id = $1`, id), sqlrow.Recording, "recording", id)
}

// byID scans the row of one thing looked up by id: none is store.ErrNotFound.
func byID[T any](row pgx.Row, scan func(sqlrow.Scanner) (T, error), what string, id int64) (T, error) {
	v, err := scan(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, fmt.Errorf("%s %d: %w", what, id, store.ErrNotFound)
	}
	if err != nil {
		return v, fmt.Errorf("%s %d: %w", what, id, err)
	}
	return v, nil
}

// DeleteRecording removes a recording's row (its object is the caller's).
func (s *Store) DeleteRecording(ctx context.Context, id int64) error {
	if _, err := s.q(ctx).Exec(ctx, `DELETE FROM recordings WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete recording %d: %w", id, err)
	}
	return nil
}

// RecordingsAfter lists up to limit recordings of every device with ids
// above after, by id.
func (s *Store) RecordingsAfter(ctx context.Context, after int64, limit int) ([]record.Recording, error) {
	return s.recordings(ctx, `id > $1 ORDER BY id LIMIT $2`, after, limit)
}

// OldestRecordings lists up to limit of the device's recordings of every
// stream and epoch, oldest first.
func (s *Store) OldestRecordings(ctx context.Context, device access.DeviceID, limit int) ([]record.Recording, error) {
	return s.recordings(ctx, `device = $1 ORDER BY start, id LIMIT $2`, string(device), limit)
}

// RecordingBytes is the plaintext size of the device's recordings.
func (s *Store) RecordingBytes(ctx context.Context, device access.DeviceID) (int64, error) {
	var n int64
	err := s.q(ctx).QueryRow(ctx, `SELECT COALESCE(SUM(size), 0)::BIGINT FROM recordings WHERE device = $1`, string(device)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("recording bytes of %s: %w", device, err)
	}
	return n, nil
}

// recordings runs a query whose where clause is one of this file's constants.
func (s *Store) recordings(ctx context.Context, where string, args ...any) ([]record.Recording, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+sqlrow.RecordingColumns+` FROM recordings WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.Collect(rows, sqlrow.Recording)
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	return out, nil
}

// OldestRecordingsAfter lists up to limit of the device's recordings of
// every stream and epoch after (start, id), oldest first; id 0 starts at
// the oldest.
func (s *Store) OldestRecordingsAfter(ctx context.Context, device access.DeviceID, start time.Time, id int64, limit int) ([]record.Recording, error) {
	at, after := sqlrow.After(start, id)
	return s.recordings(ctx, `device = $1 AND (start > $2 OR start = $2 AND id > $3) ORDER BY start, id LIMIT $4`,
		string(device), at, after, limit)
}

// SetRetention sets the device's retention rule (zero fields: the
// server's default) with the rule in force before and when it changed.
func (s *Store) SetRetention(ctx context.Context, id access.DeviceID, r record.Retain) error {
	tag, err := s.q(ctx).Exec(ctx, `UPDATE devices SET (`+sqlrow.RetainColumns+`) = ($1, $2, $3, $4, $5, $6, $7) WHERE id = $8`,
		append(sqlrow.RetainArgs(r), string(id))...)
	return changedOne(tag, err, "set retention of device", id)
}

// Retention returns what SetRetention set for the device.
func (s *Store) Retention(ctx context.Context, id access.DeviceID) (record.Retain, error) {
	r, err := sqlrow.ScanRetain(s.q(ctx).QueryRow(ctx, `SELECT `+sqlrow.RetainColumns+` FROM devices WHERE id = $1`, string(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("retention of device %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("retention of device %s: %w", id, err)
	}
	return r, nil
}
