package sqlrow

import (
	"vigil/internal/access"
	"vigil/internal/record"
)

// EventColumns are the columns Event scans, in order.
const EventColumns = `id, device, epoch, kind, start, end_at, score, thumb_id, thumb`

// EventArgs are an event's values for the columns of EventColumns after
// id, in order, as both drivers store them.
func EventArgs(e record.Event) []any {
	var end int64
	if !e.End.IsZero() {
		end = e.End.UnixNano()
	}
	return []any{string(e.Device), e.Epoch.UnixNano(), string(e.Kind), e.Start.UnixNano(), end, e.Score,
		int64(e.ThumbID), e.Thumb}
}

// Event scans EventColumns.
func Event(r Scanner) (record.Event, error) {
	var (
		e                          record.Event
		device, kind               string
		epoch, start, end, thumbID int64
	)
	if err := r.Scan(&e.ID, &device, &epoch, &kind, &start, &end, &e.Score, &thumbID, &e.Thumb); err != nil {
		return e, err
	}
	e.Device, e.Epoch, e.Kind, e.Start = access.DeviceID(device), FromNanos(epoch), record.EventKind(kind), FromNanos(start)
	if end != 0 {
		e.End = FromNanos(end)
	}
	e.ThumbID = uint64(thumbID)
	return e, nil
}

// ContinuousColumns are the columns AllContinuous scans, in order.
const ContinuousColumns = `id, record_main, record_sub`

// AllContinuous collects rows of ContinuousColumns into each device's
// continuous-recording flags.
func AllContinuous(rows Rows) (map[access.DeviceID]record.Continuous, error) {
	out := map[access.DeviceID]record.Continuous{}
	for rows.Next() {
		var (
			id string
			c  record.Continuous
		)
		if err := rows.Scan(&id, &c.Main, &c.Sub); err != nil {
			return nil, err
		}
		out[access.DeviceID(id)] = c
	}
	return out, rows.Err()
}
