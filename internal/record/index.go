package record

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"vigil/internal/access"
)

// Index files recordings (store/sqlite and store/postgres implement it). Rows are written
// once a segment's object is stored whole.
type Index interface {
	// Epoch returns when the device's current ownership epoch started and
	// its secret, read together.
	Epoch(ctx context.Context, device access.DeviceID) (time.Time, []byte, error)
	AddRecording(ctx context.Context, r Recording) (int64, error)
	// Recordings lists the device's recordings of stream made in the epoch
	// that started at epoch and overlapping [from, to), by start.
	Recordings(ctx context.Context, device access.DeviceID, stream access.StreamID, epoch, from, to time.Time) ([]Recording, error)
	// Recording returns one recording by id, or an error wrapping a
	// not-found error.
	Recording(ctx context.Context, id int64) (Recording, error)
	// DeleteRecording removes a row (its object is the caller's).
	DeleteRecording(ctx context.Context, id int64) error
	// RecordingsAfter lists up to limit rows of every device with ids
	// above after, by id (reconciliation walks them).
	RecordingsAfter(ctx context.Context, after int64, limit int) ([]Recording, error)
	// OldestRecordings lists up to limit of the device's rows of every
	// stream and epoch, oldest first (retention deletes from there).
	OldestRecordings(ctx context.Context, device access.DeviceID, limit int) ([]Recording, error)
	// RecordingBytes is the plaintext size of the device's recordings.
	RecordingBytes(ctx context.Context, device access.DeviceID) (int64, error)
}

// Recording is one recorded segment of a camera stream: a self-contained
// fMP4 file, sealed (seal.Segment) and kept as a blob object.
type Recording struct {
	ID     int64 // assigned by AddRecording
	Device access.DeviceID
	Stream access.StreamID
	// Epoch is the device's EpochStarted when it was recorded; the object
	// is sealed under that epoch's secret.
	Epoch time.Time
	// SegmentID and Start name the sealed segment (seal.Segment).
	SegmentID uint64
	// Start is the capture time of the first frame.
	Start    time.Time
	Duration time.Duration
	// Size is the fMP4 file's length (plaintext).
	Size int64
	// Object is the blob key of the sealed segment.
	Object string
	// Fragments are the file's fragments, in order: one per GOP.
	Fragments []Fragment
}

// End is when the recording's last frame ends.
func (r Recording) End() time.Time { return r.Start.Add(r.Duration) }

// Fragment is one moof+mdat of a recording.
type Fragment struct {
	Offset int64         // byte offset in the fMP4 file
	Time   time.Duration // from the recording's Start
	Key    bool          // starts with a keyframe
}

// fragmentSize is the encoded size of one Fragment.
const fragmentSize = 17

// ErrFragments means a stored fragment list is damaged.
var ErrFragments = errors.New("record: damaged fragment list")

// EncodeFragments packs fragments for storage: per fragment its offset and
// time (big-endian int64) and a flag byte (1: keyframe).
func EncodeFragments(fs []Fragment) []byte {
	b := make([]byte, 0, len(fs)*fragmentSize)
	for _, f := range fs {
		b = binary.BigEndian.AppendUint64(b, uint64(f.Offset))
		b = binary.BigEndian.AppendUint64(b, uint64(f.Time))
		if f.Key {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	return b
}

// DecodeFragments unpacks what EncodeFragments packed.
func DecodeFragments(b []byte) ([]Fragment, error) {
	if len(b)%fragmentSize != 0 {
		return nil, ErrFragments
	}
	fs := make([]Fragment, 0, len(b)/fragmentSize)
	for ; len(b) > 0; b = b[fragmentSize:] {
		f := Fragment{Offset: int64(binary.BigEndian.Uint64(b)), Time: time.Duration(binary.BigEndian.Uint64(b[8:])), Key: b[16] == 1}
		if f.Offset < 0 || b[16] > 1 {
			return nil, ErrFragments
		}
		fs = append(fs, f)
	}
	return fs, nil
}
