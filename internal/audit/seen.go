package audit

import (
	"net"
	"time"

	"vigil/internal/access"
)

// SessionGap is how long a viewer of a sessionless output may be silent and
// still count as the same viewing session.
const SessionGap = time.Minute

// maxSeen bounds the viewers remembered; past it, those silent for longer
// than SessionGap are forgotten.
const maxSeen = 10000

// viewer names a viewer of a sessionless output: a user, a camera and a
// client host (not port: a player opens new connections as it goes), under
// one grant epoch — a new claim or share starts a new session, so the new
// ownership's history shows it (invariant 8).
type viewer struct {
	user   access.UserID
	device access.DeviceID
	epoch  int64 // the grant's epoch, Unix nanoseconds
	output string
	host   string
}

// Seen records a viewing session of an output that has no sessions (HLS,
// where each playlist is a request of its own; stills): a viewer — user, camera and
// client host, under the same grant epoch — seen within SessionGap of its last request is the same
// session and records nothing more. The session's bytes are not counted.
// Like Start, it fails when the session cannot be recorded, and then the
// viewer must not be served. Errors: ErrUnrecorded.
func (r *Recorder) Seen(g access.Grant, output, remote string) error {
	if r == nil {
		return nil
	}
	k, now := r.viewer(g, output, remote), time.Now()
	if !r.fresh(k, now) {
		return nil
	}
	s, err := r.Start(g, output, remote)
	if err != nil {
		r.forget(k, now) // the next request tries again, or is refused again
		return err
	}
	s.End()
	return nil
}

func (r *Recorder) viewer(g access.Grant, output, remote string) viewer {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	return viewer{user: g.User(), device: g.Device(), epoch: g.Epoch().UnixNano(), output: output, host: host}
}

// fresh notes k as seen at now and reports whether that starts a new
// session.
func (r *Recorder) fresh(k viewer, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	last, seen := r.seen[k]
	r.seen[k] = now
	if len(r.seen) > maxSeen {
		for v, t := range r.seen {
			if now.Sub(t) > SessionGap {
				delete(r.seen, v)
			}
		}
	}
	return !seen || now.Sub(last) >= SessionGap
}

// forget undoes fresh's note of k at now, unless a later request noted it.
func (r *Recorder) forget(k viewer, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[k].Equal(now) {
		delete(r.seen, k)
	}
}
