package sim

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"vigil/internal/testkit"
)

// recSession is one publisher session seen by the test server.
type recSession struct {
	path     string
	ss       *gortsplib.ServerSession
	chk      *Checker
	feedErrs atomic.Int64
	audio    atomic.Int64
}

// testServer is an RTSP server that accepts any RECORD and checks the
// stamps of what each session publishes.
type testServer struct {
	srv      *gortsplib.Server
	addr     string
	onRecord func(*recSession) // optional

	mu       sync.Mutex
	sessions []*recSession // guarded by mu
}

var (
	_ gortsplib.ServerHandlerOnAnnounce = (*testServer)(nil)
	_ gortsplib.ServerHandlerOnSetup    = (*testServer)(nil)
	_ gortsplib.ServerHandlerOnRecord   = (*testServer)(nil)
)

func startServer(t *testing.T, udp bool, onRecord func(*recSession)) *testServer {
	t.Helper()
	s := &testServer{onRecord: onRecord}
	for attempt := 0; ; attempt++ {
		s.srv = &gortsplib.Server{Handler: s, RTSPAddress: "127.0.0.1:0"}
		if udp {
			rtpPort := freeUDPPair(t)
			s.srv.UDPRTPAddress = fmt.Sprintf("127.0.0.1:%d", rtpPort)
			s.srv.UDPRTCPAddress = fmt.Sprintf("127.0.0.1:%d", rtpPort+1)
		}
		err := s.srv.Start()
		if err == nil {
			break
		}
		if attempt == 5 {
			t.Fatal(err)
		}
	}
	t.Cleanup(s.srv.Close)
	s.addr = s.srv.NetListener().Addr().String()
	return s
}

// freeUDPPair returns an even port whose successor was free a moment ago.
func freeUDPPair(t *testing.T) int {
	for range 50 {
		a, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p%2 != 0 {
			a.Close()
			continue
		}
		b, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p+1))
		a.Close()
		if err == nil {
			b.Close()
			return p
		}
	}
	t.Fatal("no free UDP port pair")
	return 0
}

func (s *testServer) OnAnnounce(*gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (s *testServer) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil, nil
}

func (s *testServer) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	rec := &recSession{path: strings.TrimPrefix(ctx.Path, "/"), ss: ctx.Session, chk: NewChecker(testKeys)}
	feed := rec.chk.RTPFeed()
	ctx.Session.OnPacketRTPAny(func(_ *description.Media, f format.Format, pkt *rtp.Packet) {
		switch f.(type) {
		case *format.H264:
			if err := feed(pkt); err != nil {
				rec.feedErrs.Add(1)
			}
		case *format.G711:
			rec.audio.Add(1)
		}
	})
	s.mu.Lock()
	s.sessions = append(s.sessions, rec)
	s.mu.Unlock()
	if s.onRecord != nil {
		s.onRecord(rec)
	}
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (s *testServer) sessionsOf(path string) []*recSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*recSession
	for _, r := range s.sessions {
		if r.path == path {
			out = append(out, r)
		}
	}
	return out
}

// stamps returns the number of valid stamps a path received in all sessions.
func (s *testServer) stamps(path string) int {
	n := 0
	for _, r := range s.sessionsOf(path) {
		for _, c := range r.chk.Counts() {
			n += c
		}
	}
	return n
}

// atLeast checks, for testkit.WaitFor, that count has reached n.
func atLeast(n int, count func() int) func() error {
	return func() error {
		if got := count(); got < n {
			return fmt.Errorf("%d of %d", got, n)
		}
		return nil
	}
}

// stampsOf counts the stamped frames the server received on path.
func (s *testServer) stampsOf(path string) func() int {
	return func() int { return s.stamps(path) }
}

// runCamera runs cam until the test ends.
func runCamera(t *testing.T, cam *Camera) {
	t.Helper()
	if cam.Logger == nil {
		cam.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cam.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

func testCamera(addr, id string) *Camera {
	return &Camera{
		URL: fmt.Sprintf("rtsp://user:pass@%s/%s", addr, id),
		ID:  id, Key: testKey(id), FPS: 25, Width: 160, Height: 96,
	}
}

// checkOnly asserts that a session received only id's stamps, in order.
func checkOnly(t *testing.T, r *recSession, id string) CameraStats {
	t.Helper()
	if err := r.chk.Only(id); err != nil {
		t.Fatal(err)
	}
	st := r.chk.Stats()[id]
	if st.Reorders != 0 || st.Gaps != 0 || r.chk.Unstamped() != 0 || r.feedErrs.Load() != 0 {
		t.Fatalf("stats %+v, unstamped %d, RTP errors %d", st, r.chk.Unstamped(), r.feedErrs.Load())
	}
	return st
}

func TestCameraTCPAudio(t *testing.T) {
	t.Parallel()
	srv := startServer(t, false, nil)
	cam := testCamera(srv.addr, "cam-tcp")
	cam.Audio = true
	runCamera(t, cam)
	testkit.WaitFor(t, 10*time.Second, "20 stamped frames", atLeast(20, srv.stampsOf("cam-tcp")))
	r := srv.sessionsOf("cam-tcp")[0]
	st := checkOnly(t, r, "cam-tcp")
	if st.MaxSeq < 20 || r.audio.Load() == 0 {
		t.Fatalf("max seq %d, audio packets %d", st.MaxSeq, r.audio.Load())
	}
	if cam.FramesSent() < 20 || cam.Reconnects() != 0 {
		t.Fatalf("frames %d reconnects %d", cam.FramesSent(), cam.Reconnects())
	}
}

func TestCameraUDP(t *testing.T) {
	t.Parallel()
	srv := startServer(t, true, nil)
	cam := testCamera(srv.addr, "cam-udp")
	cam.UDP = true
	runCamera(t, cam)
	testkit.WaitFor(t, 10*time.Second, "20 stamped frames", atLeast(20, srv.stampsOf("cam-udp")))
	r := srv.sessionsOf("cam-udp")[0]
	if tr := r.ss.Transport(); tr == nil || tr.Protocol != gortsplib.ProtocolUDP {
		t.Fatalf("transport %v, want UDP", tr)
	}
	checkOnly(t, r, "cam-udp")
}

// TestCameraReconnect: the server drops the first session; the camera comes
// back and its stamp sequence carries on above the first session's.
func TestCameraReconnect(t *testing.T) {
	t.Parallel()
	var first atomic.Bool
	srv := startServer(t, false, func(r *recSession) {
		if first.CompareAndSwap(false, true) {
			go func() {
				testkit.WaitFor(t, 10*time.Second, "first session frames", atLeast(10, r.chk.Units))
				r.ss.Close()
			}()
		}
	})
	cam := testCamera(srv.addr, "cam-re")
	runCamera(t, cam)
	testkit.WaitFor(t, 15*time.Second, "a second session with 10 frames", func() error {
		s := srv.sessionsOf("cam-re")
		if len(s) < 2 {
			return fmt.Errorf("%d sessions", len(s))
		}
		return atLeast(10, s[1].chk.Units)()
	})
	s := srv.sessionsOf("cam-re")
	if err := s[0].chk.Only("cam-re"); err != nil {
		t.Fatal(err)
	}
	st1 := s[0].chk.Stats()["cam-re"]
	st2 := checkOnly(t, s[1], "cam-re")
	if min2 := st2.MaxSeq - uint64(st2.Count) + 1; min2 <= st1.MaxSeq {
		t.Fatalf("second session starts at seq %d, not above first's max %d", min2, st1.MaxSeq)
	}
	if cam.Reconnects() < 1 || cam.Sessions() < 2 {
		t.Fatalf("reconnects %d sessions %d", cam.Reconnects(), cam.Sessions())
	}
}

// TestCameraDownServer: with no server, Run keeps retrying with backoff and
// returns promptly when cancelled.
func TestCameraDownServer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cam := testCamera(addr, "cam-down")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := cam.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2500*time.Millisecond {
		t.Fatalf("Run took %v after its context ended", time.Since(start))
	}
	// 100, 200, 400, 800 ms backoff (each with up to half off): 3 to 8 tries.
	if n := cam.Reconnects(); n < 3 || n > 10 {
		t.Fatalf("%d reconnects in 1.5 s", n)
	}
	if err := (&Camera{ID: ""}).Run(ctx); err == nil {
		t.Fatal("Run accepted an empty camera id")
	}
}

func TestCameraClip(t *testing.T) {
	t.Parallel()
	clip, err := LoadClip("testdata/clips/small-320x240.h264")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, false, nil)
	cam := testCamera(srv.addr, "cam-clip")
	cam.Clip = clip
	runCamera(t, cam)
	testkit.WaitFor(t, 10*time.Second, "20 stamped frames", atLeast(20, srv.stampsOf("cam-clip")))
	checkOnly(t, srv.sessionsOf("cam-clip")[0], "cam-clip")
}

// TestRunMany publishes several cameras at once; every path receives only
// its own camera's stamps.
func TestRunMany(t *testing.T) {
	t.Parallel()
	srv := startServer(t, false, nil)
	var cams []*Camera
	for i := range 4 {
		cams = append(cams, testCamera(srv.addr, fmt.Sprintf("many-%d", i)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunMany(ctx, cams) }()
	for _, c := range cams {
		testkit.WaitFor(t, 10*time.Second, "10 stamped frames of "+c.ID, atLeast(10, srv.stampsOf(c.ID)))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, c := range cams {
		checkOnly(t, srv.sessionsOf(c.ID)[0], c.ID)
	}
}

func TestWithStamp(t *testing.T) {
	st := []byte{6, 1}
	aud := []byte{9, 0xf0}
	idr := []byte{0x65, 0x88}
	got := withStamp([][]byte{aud, idr}, st)
	if fmt.Sprint(got) != fmt.Sprint([][]byte{aud, st, idr}) {
		t.Fatalf("with AUD: %v", got)
	}
	got = withStamp([][]byte{idr}, st)
	if fmt.Sprint(got) != fmt.Sprint([][]byte{st, idr}) {
		t.Fatalf("without AUD: %v", got)
	}
}

// TestCamera1080p publishes full-HD I_PCM keyframes (3 MB each) over TCP.
func TestCamera1080p(t *testing.T) {
	t.Parallel()
	srv := startServer(t, false, nil)
	cam := testCamera(srv.addr, "cam-hd")
	cam.Width, cam.Height, cam.FPS, cam.GOP = 1920, 1080, 10, 5
	runCamera(t, cam)
	testkit.WaitFor(t, 15*time.Second, "two GOPs (11 stamped frames)", atLeast(11, srv.stampsOf("cam-hd")))
	checkOnly(t, srv.sessionsOf("cam-hd")[0], "cam-hd")
	if cam.Reconnects() != 0 {
		t.Fatalf("%d reconnects", cam.Reconnects())
	}
}

// TestCameraLabel: a camera with a Label draws the label's picture (its
// block code), not its id's, into the generated stream.
func TestCameraLabel(t *testing.T) {
	idr := func(c *Camera) []byte {
		src, _, err := c.newSource()
		if err != nil {
			t.Fatal(err)
		}
		nalus, key := src.next()
		if !key {
			t.Fatal("the first unit is not a keyframe")
		}
		return bytes.Join(nalus, nil)
	}
	g, err := NewGenerator(160, 120, 15, 30, DrawPicture("cam-a#1", 160, 120))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := g.Next()
	labelled := idr(&Camera{ID: "cam-a", Label: "cam-a#1", Width: 160, Height: 120, FPS: 15, GOP: 30})
	if !bytes.Equal(labelled, bytes.Join(want, nil)) {
		t.Error("the labelled camera's keyframe is not the label's picture")
	}
	if bytes.Equal(labelled, idr(&Camera{ID: "cam-a", Width: 160, Height: 120, FPS: 15, GOP: 30})) {
		t.Error("the label changed nothing")
	}
}
