package sqlrow

import (
	"time"

	"vigil/internal/access"
	"vigil/internal/record"
)

// RecordingColumns are the columns Recording scans, in order.
const RecordingColumns = `id, device, stream, epoch, seg_id, start, duration, size, object, fragments`

// RecordingArgs are a recording's values for the columns of
// RecordingColumns after id, in order, as both drivers store them.
func RecordingArgs(r record.Recording) []any {
	return []any{string(r.Device), string(r.Stream), r.Epoch.UnixNano(), int64(r.SegmentID),
		r.Start.UnixNano(), int64(r.Duration), r.Size, r.Object, record.EncodeFragments(r.Fragments)}
}

// Recording scans RecordingColumns.
func Recording(r Scanner) (record.Recording, error) {
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
	rec.Device, rec.Stream, rec.Epoch, rec.SegmentID = access.DeviceID(device), access.StreamID(stream), FromNanos(epoch), uint64(segID)
	rec.Start, rec.Duration, rec.Fragments = FromNanos(start), time.Duration(dur), fs
	return rec, nil
}
