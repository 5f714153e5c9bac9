package sqlrow

import (
	"math"
	"time"

	"vigil/internal/access"
	"vigil/internal/record"
)

// PinColumns are the columns Pin scans, in order.
const PinColumns = `id, device, epoch, pinner, start, end_at, event, created_at`

// PinArgs are a pin's values for the columns of PinColumns after id.
func PinArgs(p record.Pin) []any {
	return []any{string(p.Device), p.Epoch.UnixNano(), string(p.User), p.Start.UnixNano(), p.End.UnixNano(), p.Event,
		Nanos(p.Created)}
}

// Pin scans PinColumns.
func Pin(r Scanner) (record.Pin, error) {
	var (
		p                          record.Pin
		device, user               string
		epoch, start, end, created int64
	)
	if err := r.Scan(&p.ID, &device, &epoch, &user, &start, &end, &p.Event, &created); err != nil {
		return p, err
	}
	p.Device, p.User = access.DeviceID(device), access.UserID(user)
	p.Epoch, p.Start, p.End, p.Created = FromNanos(epoch), FromNanos(start), FromNanos(end), FromNanos(created)
	return p, nil
}

// RetainColumns are the devices columns ScanRetain reads, in order; the
// same order as RetainArgs.
const RetainColumns = `retain_age, retain_event_age, retain_bytes, retain_prior_age, retain_prior_event_age, retain_prior_bytes, retain_changed_at`

// RetainArgs are r's values for RetainColumns.
func RetainArgs(r record.Retain) []any {
	var changed int64
	if !r.Changed.IsZero() {
		changed = r.Changed.UnixNano()
	}
	return []any{int64(r.Rule.Age), int64(r.Rule.EventAge), r.Rule.Bytes, int64(r.Prior.Age), int64(r.Prior.EventAge),
		r.Prior.Bytes, changed}
}

// ScanRetain scans RetainColumns.
func ScanRetain(s Scanner) (record.Retain, error) {
	var r record.Retain
	var age, eventAge, priorAge, priorEventAge, changed int64
	if err := s.Scan(&age, &eventAge, &r.Rule.Bytes, &priorAge, &priorEventAge, &r.Prior.Bytes, &changed); err != nil {
		return r, err
	}
	r.Rule.Age, r.Rule.EventAge = time.Duration(age), time.Duration(eventAge)
	r.Prior.Age, r.Prior.EventAge = time.Duration(priorAge), time.Duration(priorEventAge)
	r.Changed = OptionalTime(changed)
	return r, nil
}

// After is the (start, id) keyset position after which
// OldestRecordingsAfter lists: id 0 is before every row.
func After(start time.Time, id int64) (int64, int64) {
	if id == 0 {
		return math.MinInt64, 0
	}
	return start.UnixNano(), id
}
