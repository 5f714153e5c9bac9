// Package audit owns the access history: every viewing session — who, which
// camera, through what, from where, when, how many bytes — recorded when it
// starts, so the camera's owner sees it at once. Every output (RTSP, the
// HTTP outputs, HLS, WebRTC) records through one Recorder. It records; it
// never decides who may view. It writes through the small Store interface
// it declares, so that the outputs may use it without reaching storage.
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"vigil/internal/access"
)

// Viewing is what is known of a viewing session when it starts.
type Viewing struct {
	Viewer   access.UserID
	Device   access.DeviceID
	Output   string // rtsp, mp4, hls, still, mjpeg, webrtc
	Audience access.Audience
	Remote   string // client address
	Started  time.Time
}

// Store is where sessions are written; store/sqlite implements it.
type Store interface {
	// StartAccess writes the start of a session and returns its id.
	StartAccess(ctx context.Context, v Viewing) (int64, error)
	// EndAccess fills in a session's end and bytes.
	EndAccess(ctx context.Context, id int64, ended time.Time, bytes int64) error
}

// writeTimeout bounds one history write.
const writeTimeout = 2 * time.Second

// Recorder records viewing sessions. A nil *Recorder records nothing: its
// sessions are nil and their methods do nothing.
type Recorder struct {
	st  Store
	log *slog.Logger

	mu    sync.Mutex
	seen  map[viewer]time.Time // guarded by mu; when each sessionless viewer was last seen
	batch batch                // guarded by mu; writes grouped for a Batcher store
}

// New returns a recorder writing to st.
func New(st Store, log *slog.Logger) *Recorder {
	return &Recorder{st: st, log: log, seen: map[viewer]time.Time{}}
}

// Session is one recorded viewing session; a nil *Session records nothing.
type Session struct {
	r     *Recorder
	id    int64
	bytes atomic.Int64
	ended atomic.Bool
}

// Start records that the grant's holder started viewing through output
// from remote. Viewing must not start when recording fails: history the
// owner cannot see would be a blind spot. Errors: ErrUnrecorded.
func (r *Recorder) Start(g access.Grant, output, remote string) (*Session, error) {
	if r == nil {
		return nil, nil
	}
	v := Viewing{Viewer: g.User(), Device: g.Device(), Output: output, Audience: g.Audience(), Remote: remote, Started: time.Now()}
	var id int64
	var err error
	if b, ok := r.st.(Batcher); ok {
		id, err = r.grouped(b, &write{start: &v})
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		id, err = r.st.StartAccess(ctx, v)
		cancel()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnrecorded, err)
	}
	return &Session{r: r, id: id}, nil
}

// Add counts n bytes delivered.
func (s *Session) Add(n int) {
	if s != nil {
		s.bytes.Add(int64(n))
	}
}

// End records the end of the session and its bytes; later calls do nothing.
func (s *Session) End() {
	if s == nil || s.ended.Swap(true) {
		return
	}
	e := Ended{ID: s.id, At: time.Now(), Bytes: s.bytes.Load()}
	var err error
	if b, ok := s.r.st.(Batcher); ok {
		_, err = s.r.grouped(b, &write{end: e})
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		err = s.r.st.EndAccess(ctx, e.ID, e.At, e.Bytes)
		cancel()
	}
	if err != nil {
		s.r.log.Error("could not record the end of a viewing session", "session", s.id, "error", err)
	}
}
