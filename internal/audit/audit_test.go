package audit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
)

// memory is a Store in memory; fail, when set, fails every start.
type memory struct {
	mu   sync.Mutex
	rows []Viewing
	ends map[int64]int64 // id (index+1) to bytes
	fail error
}

func (m *memory) StartAccess(_ context.Context, v Viewing) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return 0, m.fail
	}
	m.rows = append(m.rows, v)
	return int64(len(m.rows)), nil
}

func (m *memory) EndAccess(_ context.Context, id int64, _ time.Time, bytes int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ends == nil {
		m.ends = map[int64]int64{}
	}
	m.ends[id] = bytes
	return nil
}

func (m *memory) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rows)
}

func grant(user access.UserID, device access.DeviceID) access.Grant {
	return access.NewIssuer().Mint(user, device, access.AudienceWeb, time.Hour)
}

func TestFailedStartIsAnError(t *testing.T) {
	st := &memory{fail: errors.New("disk full")}
	r := New(st, slog.Default())
	if s, err := r.Start(grant("u-vera", "cam-a"), "mp4", "192.0.2.7:5000"); !errors.Is(err, ErrUnrecorded) || s != nil {
		t.Fatalf("Start on a failing store = %v, %v; want an error and no session", s, err)
	}
	if err := r.Seen(grant("u-vera", "cam-a"), "hls", "192.0.2.7:5000"); !errors.Is(err, ErrUnrecorded) {
		t.Fatal("Seen on a failing store succeeded: the viewer would be served unrecorded")
	}
	// A failed record is not remembered: the next request is refused too
	// (or recorded, once the store is back), never served unrecorded.
	if err := r.Seen(grant("u-vera", "cam-a"), "hls", "192.0.2.7:5001"); err == nil {
		t.Fatal("a second request after a failed record was let through unrecorded")
	}
	st.fail = nil
	if err := r.Seen(grant("u-vera", "cam-a"), "hls", "192.0.2.7:5002"); err != nil || st.count() != 1 {
		t.Fatalf("after the store came back: %v, %d rows", err, st.count())
	}
}

func TestNilRecorderRecordsNothing(t *testing.T) {
	var r *Recorder
	s, err := r.Start(grant("u-vera", "cam-a"), "rtsp", "192.0.2.7:5000")
	if err != nil || s != nil {
		t.Fatalf("nil recorder: %v, %v", s, err)
	}
	s.Add(10)
	s.End()
	if err := r.Seen(grant("u-vera", "cam-a"), "hls", "192.0.2.7:5000"); err != nil {
		t.Fatal(err)
	}
}

// TestSeenIsOneSessionPerViewerPerGap: a sessionless output's viewer is a
// user, a camera and a client host; requests within SessionGap of the last
// are one session, whatever the client port.
func TestSeenIsOneSessionPerViewerPerGap(t *testing.T) {
	st := &memory{}
	r := New(st, slog.Default())
	vera := grant("u-vera", "cam-a")
	seen := func(g access.Grant, remote string) {
		t.Helper()
		if err := r.Seen(g, "hls", remote); err != nil {
			t.Fatal(err)
		}
	}
	seen(vera, "192.0.2.7:5000")
	seen(vera, "192.0.2.7:5001") // a new connection of the same player
	if st.count() != 1 || st.rows[0].Output != "hls" || st.rows[0].Remote != "192.0.2.7:5000" || st.ends[1] != 0 {
		t.Fatalf("one viewer: %+v, ends %v", st.rows, st.ends)
	}
	seen(vera, "192.0.2.8:5000")                     // another host
	seen(grant("u-olga", "cam-a"), "192.0.2.7:5000") // another user
	seen(grant("u-vera", "cam-b"), "192.0.2.7:5000") // another camera
	// The same user under a new claim or share: the new ownership's
	// history must show it.
	seen(access.NewIssuer().MintLeased("u-vera", "cam-a", access.AudienceWeb, time.Hour, nil, time.Now()), "192.0.2.7:5000")
	if st.count() != 5 {
		t.Fatalf("four more viewers made %d rows, want 5 in all", st.count())
	}
	if len(st.ends) != 5 {
		t.Fatalf("%d of 5 sessionless sessions were ended", len(st.ends))
	}
	// Silent for the gap: the next request is a new session.
	k := r.viewer(vera, "hls", "192.0.2.7:5000")
	r.mu.Lock()
	r.seen[k] = r.seen[k].Add(-SessionGap)
	r.mu.Unlock()
	seen(vera, "192.0.2.7:5003")
	if st.count() != 6 {
		t.Fatalf("after the gap: %d rows, want 6", st.count())
	}
}

func TestSeenForgetsSilentViewersPastTheBound(t *testing.T) {
	r := New(&memory{}, slog.Default())
	old := time.Now().Add(-2 * SessionGap)
	for i := range maxSeen {
		r.seen[viewer{user: access.UserID("u-" + string(rune('a'+i%26))), host: string(rune(i))}] = old
	}
	if err := r.Seen(grant("u-vera", "cam-a"), "hls", "192.0.2.7:5000"); err != nil {
		t.Fatal(err)
	}
	if len(r.seen) != 1 {
		t.Fatalf("%d viewers remembered, want the one just seen", len(r.seen))
	}
}
