// Package audit owns the access history: every viewing session — who, which
// camera, through what, from where, when, how many bytes — recorded when it
// starts, so the camera's owner sees it at once. It records; it never
// decides who may view.
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"vigil/internal/access"
	"vigil/internal/store"
)

// Store is where sessions are written.
type Store interface {
	StartAccess(ctx context.Context, a store.Access) (int64, error)
	EndAccess(ctx context.Context, id int64, ended time.Time, bytes int64) error
}

// writeTimeout bounds one history write.
const writeTimeout = 2 * time.Second

// Recorder records viewing sessions.
type Recorder struct {
	st  Store
	log *slog.Logger
}

// New returns a recorder writing to st.
func New(st Store, log *slog.Logger) *Recorder { return &Recorder{st: st, log: log} }

// Session is one recorded viewing session.
type Session struct {
	r     *Recorder
	id    int64
	bytes atomic.Int64
	ended atomic.Bool
}

// Start records that the grant's holder started viewing through output
// from remote. Viewing must not start when recording fails: history the
// owner cannot see would be a blind spot.
func (r *Recorder) Start(g access.Grant, output, remote string) (*Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	id, err := r.st.StartAccess(ctx, store.Access{Viewer: g.User(), Device: g.Device(), Output: output,
		Audience: g.Audience(), Remote: remote, Started: time.Now()})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Session{r: r, id: id}, nil
}

// Add counts n bytes delivered.
func (s *Session) Add(n int) { s.bytes.Add(int64(n)) }

// End records the end of the session and its bytes; later calls do nothing.
func (s *Session) End() {
	if s.ended.Swap(true) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := s.r.st.EndAccess(ctx, s.id, time.Now(), s.bytes.Load()); err != nil {
		s.r.log.Error("could not record the end of a viewing session", "session", s.id, "error", err)
	}
}
