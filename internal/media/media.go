// Package media holds the value types that flow from ingest through the hub to
// the outputs: tracks and access units. A Unit carries the device and stream
// of the camera session that produced it (invariant 1); the owner is set when
// the unit is made and cannot be changed afterwards.
//
// This package knows nothing of users, HTTP or storage.
package media

import (
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
)

// Owner is the camera session a unit came from.
type Owner struct {
	Device access.DeviceID
	Stream access.StreamID
	// Session numbers the publisher sessions of one stream; a reconnecting
	// camera gets a new one, so units of two sessions are never confused.
	Session uint64
}

// Kind says whether a track carries video or audio.
type Kind int

// Track kinds.
const (
	Video Kind = iota
	Audio
)

func (k Kind) String() string {
	if k == Video {
		return "video"
	}
	return "audio"
}

// Track is one elementary stream of a camera stream.
type Track struct {
	Kind Kind
	// Format is the RTP format as announced by the camera (codec parameters,
	// clock rate). It is shared read-only.
	Format format.Format
}

// Codec is the track's codec name as used in SDP (H264, H265, MPEG4-GENERIC...).
func (t *Track) Codec() string { return t.Format.Codec() }

// Unit is one access unit: a video picture (its NAL units, without start
// codes) or a group of audio frames. It is immutable once made: the hub hands
// the same Unit to every reader, so nobody may modify Payload.
type Unit struct {
	owner Owner
	// Seq numbers the units of one publisher session from 1, in arrival
	// order; with the owner it names a unit (a keyframe still, a segment).
	Seq uint64
	// Track is the index of the unit's track in the stream's track list.
	Track int
	// PTS is the presentation time on the stream's clock, which starts at
	// zero when the publisher session starts.
	PTS time.Duration
	// Key is true for a video unit that starts a GOP (an IDR picture that
	// carries its parameter sets).
	Key bool
	// Payload holds NAL units (video) or audio frames.
	Payload [][]byte
	size    int
	// captured is the wall-clock time ingest received the unit: egress
	// compares it with a grant's epoch (invariants 3 and 8).
	captured time.Time
}

// NewUnit returns a unit owned by owner, captured (received by ingest) at
// captured. Payload must not be modified after.
func NewUnit(owner Owner, seq uint64, track int, pts time.Duration, key bool, captured time.Time, payload [][]byte) *Unit {
	n := 0
	for _, p := range payload {
		n += len(p)
	}
	return &Unit{owner: owner, Seq: seq, Track: track, PTS: pts, Key: key, Payload: payload, size: n, captured: captured}
}

// Owner is the camera session that produced the unit.
func (u *Unit) Owner() Owner { return u.owner }

// Captured is when ingest received the unit, set once at ingest.
func (u *Unit) Captured() time.Time { return u.captured }

// Size is the number of payload bytes.
func (u *Unit) Size() int { return u.size }

// ClockToDuration converts a timestamp in clock units of rate Hz to a duration.
func ClockToDuration(v, rate int64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(v/rate)*time.Second + time.Duration(v%rate)*time.Second/time.Duration(rate)
}

// DurationToClock converts a duration to clock units of rate Hz, rounding to
// the nearest unit so that a round trip through ClockToDuration is exact.
func DurationToClock(d time.Duration, rate int64) int64 {
	frac := int64(d%time.Second) * rate
	half := int64(time.Second) / 2
	if frac < 0 {
		half = -half
	}
	return int64(d/time.Second)*rate + (frac+half)/int64(time.Second)
}
