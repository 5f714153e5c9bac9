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
