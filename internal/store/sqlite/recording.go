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

var _ record.Index = (*Store)(nil)

// Epoch returns when the device's current ownership epoch started and its
// secret, read together: a recorder seals a segment under the secret and
// files it under the start, so the two must belong to one epoch.
func (s *Store) Epoch(ctx context.Context, id access.DeviceID) (time.Time, []byte, error) {
	var (
		started int64
		secret  []byte
	)
	err := s.db.QueryRowContext(ctx, `SELECT epoch_started, epoch_secret FROM devices WHERE id = ?`, string(id)).Scan(&started, &secret)
	if errors.Is(err, sql.ErrNoRows) {
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

const recordingColumns = `id, device, stream, epoch, seg_id, start, duration, size, object, fragments`

// AddRecording files a recorded segment whose object is stored, and returns
// its id.
func (s *Store) AddRecording(ctx context.Context, r record.Recording) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO recordings (device, stream, epoch, seg_id, start, duration, size, object, fragments)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, string(r.Device), string(r.Stream), r.Epoch.UnixNano(), int64(r.SegmentID),
		r.Start.UnixNano(), int64(r.Duration), r.Size, r.Object, record.EncodeFragments(r.Fragments))
	if err != nil {
		return 0, fmt.Errorf("add recording of %s: %w", r.Device, err)
	}
	return res.LastInsertId()
}

// Recordings lists the device's recordings of stream made in the epoch
// that started at epoch and overlapping [from, to), by start.
func (s *Store) Recordings(ctx context.Context, device access.DeviceID, stream access.StreamID, epoch, from, to time.Time) ([]record.Recording, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+recordingColumns+` FROM recordings
		WHERE device = ? AND epoch = ? AND stream = ? AND start < ? AND start + duration > ? ORDER BY start, id`,
		string(device), epoch.UnixNano(), string(stream), to.UnixNano(), from.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("recordings of %s: %w", device, err)
	}
	defer rows.Close()
	var out []record.Recording
	for rows.Next() {
		r, err := scanRecording(rows)
		if err != nil {
			return nil, fmt.Errorf("recordings of %s: %w", device, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Recording returns one recording by id.
func (s *Store) Recording(ctx context.Context, id int64) (record.Recording, error) {
	r, err := scanRecording(s.db.QueryRowContext(ctx, `SELECT `+recordingColumns+` FROM recordings WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("recording %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("recording %d: %w", id, err)
	}
	return r, nil
}

// DeleteRecording removes a recording's row (its object is the caller's).
func (s *Store) DeleteRecording(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM recordings WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete recording %d: %w", id, err)
	}
	return nil
}

func scanRecording(r sqlrow.Scanner) (record.Recording, error) {
	var (
		rec                      record.Recording
		device, stream           string
		epoch, segID, start, dur int64
		frags                    []byte
	)
	if err := r.Scan(&rec.ID, &device, &stream, &epoch, &segID, &start, &dur, &rec.Size, &rec.Object, &frags); err != nil {
		return rec, err
	}
	fs, err := record.DecodeFragments(frags)
	if err != nil {
		return rec, err
	}
	rec.Device, rec.Stream, rec.Epoch, rec.SegmentID = access.DeviceID(device), access.StreamID(stream), sqlrow.FromNanos(epoch), uint64(segID)
	rec.Start, rec.Duration, rec.Fragments = sqlrow.FromNanos(start), time.Duration(dur), fs
	return rec, nil
}
