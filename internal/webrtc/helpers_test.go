package webrtc

import (
	"bytes"
	"context"
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

// camera publishes stamped H.264 (and G.711 silence when audio) of one
// simulated camera into a hub in real time, until the test ends.
type camera struct {
	id    string
	p     *hub.Publisher
	g     *sim.Generator
	key   []byte
	audio bool
	seq   uint64
	n     int
}

func publish(t *testing.T, h *hub.Hub, id string, audio bool) *camera {
	t.Helper()
	g, err := sim.NewGenerator(testW, testH, testFPS, testGOP, sim.DrawPicture(id, testW, testH))
	if err != nil {
		t.Fatal(err)
	}
	tracks := []*media.Track{{Kind: media.Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1}}}
	if audio {
		tracks = append(tracks, &media.Track{Kind: media.Audio,
			Format: &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}})
	}
	p, err := h.Publish(access.DeviceID(id), access.StreamMain, tracks)
	if err != nil {
		t.Fatal(err)
	}
	c := &camera{id: id, p: p, g: g, key: sim.CameraKey(secret, id), audio: audio}
	for range testGOP / 2 { // a GOP half cached, so a viewer starts mid-GOP
		c.frame()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second / testFPS)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				c.frame()
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done; p.Close() })
	return c
}

// frame publishes the next stamped video frame and 40 ms of audio.
func (c *camera) frame() {
	au, key := c.g.Next()
	c.seq++
	stamp := sim.StampNALU(c.key, sim.Stamp{Camera: c.id, Seq: c.seq, Time: time.Now()})
	pts := time.Duration(c.n) * time.Second / testFPS
	c.n++
	c.p.Write(0, hub.UnitData{PTS: pts, Key: key, Payload: append([][]byte{stamp}, au...)})
	if c.audio {
		c.p.Write(1, hub.UnitData{PTS: pts, Payload: [][]byte{bytes.Repeat([]byte{0xff}, 320)}})
	}
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
		deadline := time.Now().Add(10 * time.Second)
		for {
			g := runtime.NumGoroutine()
			fd, sock := fds(t)
			if g <= g0 && fd <= fd0 && sock <= sock0 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("leak: %d goroutines (were %d), %d descriptors (were %d), %d sockets (were %d)\n%s",
					g, g0, fd, fd0, sock, sock0, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
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
