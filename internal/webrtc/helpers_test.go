package webrtc

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/sim"
	"vigil/internal/testkit"
	"vigil/internal/testkit/simcam"
)

var (
	issuer = access.NewIssuer()
	secret = []byte("webrtc test secret")
)

const (
	testW, testH = 160, 96
	testFPS      = 25
	testGOP      = 50 // two seconds: a viewer that waited for the next keyframe would wait ~1 s
)

func quiet() *slog.Logger {
	if testing.Verbose() {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

// publish feeds stamped H.264 (and G.711 silence when audio) of one
// simulated camera into a hub in real time, until the test ends.
func publish(t *testing.T, h *hub.Hub, id string, audio bool) *simcam.Feed {
	t.Helper()
	return publishCam(t, h, id, audio, simcam.Config{})
}

// publishCam is publish of a camera configured as cfg (its ID, secret,
// size and timing are the tests').
func publishCam(t *testing.T, h *hub.Hub, id string, audio bool, cfg simcam.Config) *simcam.Feed {
	t.Helper()
	cfg.ID, cfg.Secret, cfg.Width, cfg.Height, cfg.FPS, cfg.GOP = id, secret, testW, testH, testFPS, testGOP
	cam := simcam.New(t, cfg)
	var a *simcam.Audio
	if audio {
		a = &simcam.Audio{
			Track:  &media.Track{Kind: media.Audio, Format: &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}},
			Frames: [][]byte{bytes.Repeat([]byte{0xff}, 320)},
			Dur:    time.Second / testFPS, // one unit a video frame
		}
	}
	f := simcam.Publish(t, h, access.DeviceID(id), access.StreamMain, cam, a)
	for range testGOP / 2 { // a GOP half cached, so a viewer starts mid-GOP
		if err := f.Frame(); err != nil {
			t.Fatal(err)
		}
	}
	f.Live(t)
	return f
}

func grant(id string, lease *access.Lease) access.Grant {
	return issuer.MintLeased("u1", access.DeviceID(id), access.AudienceWeb, time.Hour, lease, time.Time{})
}

func read(t *testing.T, h *hub.Hub, g access.Grant) *hub.Reader {
	t.Helper()
	r, err := h.Read(g, access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newServer(t *testing.T, mutate func(*Config)) *Server {
	t.Helper()
	cfg := Config{Logger: quiet()}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func newViewer(t *testing.T, audio bool) *sim.WebRTCViewer {
	t.Helper()
	v, err := sim.NewWebRTCViewer(sim.StaticKeys(secret), sim.WebRTCOptions{Audio: audio})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func offerOf(t *testing.T, v *sim.WebRTCViewer) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sdp, err := v.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sdp
}

// connect negotiates a session of src for v and hands v the answer; it
// returns when the answer was accepted.
func connect(t *testing.T, s *Server, v *sim.WebRTCViewer, src Source, rec *record) (*Session, time.Time) {
	t.Helper()
	o := Offer{SDP: offerOf(t, v), Source: src, Remote: "192.0.2.7:5000"}
	if rec != nil {
		o.Record = rec.recorder()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ss, err := s.Negotiate(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Accept(ss.Answer()); err != nil {
		t.Fatal(err)
	}
	return ss, time.Now()
}

// ended waits for a session to end and returns why.
func ended(t *testing.T, ss *Session, within time.Duration) error {
	t.Helper()
	select {
	case <-ss.Done():
		return ss.Err()
	case <-time.After(within):
		t.Fatalf("session still running after %v", within)
		return nil
	}
}

// noLeaks records the goroutines and file descriptors (sockets among them)
// now, and checks when the test ends, after every other cleanup, that
// their counts came back.
func noLeaks(t *testing.T) {
	t.Helper()
	g0 := runtime.NumGoroutine()
	fd0, sock0 := fds(t)
	t.Cleanup(func() {
		testkit.WaitFor(t, 10*time.Second, "return to the goroutine and descriptor counts of the start", func() error {
			l := leak{g0: g0, fd0: fd0, sock0: sock0, g: runtime.NumGoroutine()}
			l.fd, l.sock = fds(t)
			if l.g <= g0 && l.fd <= fd0 && l.sock <= sock0 {
				return nil
			}
			return l
		})
	})
}

// leak is what noLeaks saw last: counts now and at the start.
type leak struct{ g, g0, fd, fd0, sock, sock0 int }

// Error reports the counts and every goroutine's stack; it is only called
// when the test fails, so the polls do not pay for the stacks.
func (l leak) Error() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return fmt.Sprintf("leak: %d goroutines (were %d), %d descriptors (were %d), %d sockets (were %d)\n%s",
		l.g, l.g0, l.fd, l.fd0, l.sock, l.sock0, buf)
}

// fds counts the process's open file descriptors, and the sockets among them.
func fds(t *testing.T) (all, sockets int) {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			sockets++
		}
	}
	return len(entries), sockets
}

// record is an access history (an audit.Store) of one session; fail,
// when set, fails its start.
type record struct {
	mu      sync.Mutex
	started int
	bytes   int
	ended   bool
	fail    error
}

func (r *record) StartAccess(context.Context, audit.Viewing) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return 0, r.fail
	}
	r.started++
	return int64(r.started), nil
}

func (r *record) EndAccess(_ context.Context, _ int64, _ time.Time, bytes int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bytes, r.ended = int(bytes), true
	return nil
}

// recorder is an audit.Recorder writing to r.
func (r *record) recorder() *audit.Recorder { return audit.New(r, quiet()) }

// state is the session's bytes and whether it ended.
func (r *record) state() (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes, r.ended
}

// starts counts the sessions recorded as started.
func (r *record) starts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started
}
