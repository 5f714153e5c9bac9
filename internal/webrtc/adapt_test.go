package webrtc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/loopback/udppath"
	"vigil/internal/sim"
	"vigil/internal/testkit"
	"vigil/internal/testkit/simcam"
)

// The link of issue 17: 800 kbit/s and 150 ms, with a queue of about 0.7 s.
var poorLink = udppath.Shape{RateKB: 100, Latency: 150 * time.Millisecond, Queue: 48}

// quickAdapt is the adaptation with shorter holds and backoffs, so that a
// test sees a probe fail and one succeed in seconds.
func quickAdapt() adaptConfig {
	c := defaultAdapt()
	c.upHold, c.probeMin, c.probeMax, c.probeWindow = 2*time.Second, 2*time.Second, 6*time.Second, 5*time.Second
	return c
}

// publishPair publishes a camera's main stream (480×272, about 1.6 Mbit/s
// of I_PCM keyframes once a second: more than the poor link carries) and
// its sub stream (160×96, about 0.2 Mbit/s), both stamped as the camera.
func publishPair(t *testing.T, h *hub.Hub, id string) {
	t.Helper()
	for _, s := range []struct {
		stream access.StreamID
		w, h   int
	}{{access.StreamMain, 480, 272}, {access.StreamSub, 160, 96}} {
		cam := simcam.New(t, simcam.Config{ID: id, Secret: secret, Width: s.w, Height: s.h, FPS: testFPS, GOP: testFPS})
		f := simcam.Publish(t, h, access.DeviceID(id), s.stream, cam, nil)
		for range testFPS / 2 {
			if err := f.Frame(); err != nil {
				t.Fatal(err)
			}
		}
		f.Live(t)
	}
}

// poorViewer is a viewer receiving through a shaped link.
func poorViewer(t *testing.T) (*sim.WebRTCViewer, *udppath.Conn) {
	t.Helper()
	conn, err := udppath.Listen(poorLink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	v, err := sim.NewWebRTCViewer(sim.StaticKeys(secret), sim.WebRTCOptions{UDPConn: conn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v, conn
}

// poorRun is a session of a camera with main and sub streams, for a
// viewer behind the poor link.
type poorRun struct {
	h    *hub.Hub
	g    access.Grant
	m    *Metrics
	v    *sim.WebRTCViewer
	link *udppath.Conn
	ss   *Session
}

// startPoor negotiates the session from main; open(r, stream) opens the
// other stream when the session asks.
func startPoor(t *testing.T, open func(r *poorRun, st access.StreamID) (Source, error)) *poorRun {
	t.Helper()
	r := &poorRun{h: hub.New(hub.Config{Logger: quiet()}), g: grant("cam-a", nil), m: NewMetrics(prometheus.NewRegistry())}
	publishPair(t, r.h, "cam-a")
	s := newServer(t, func(c *Config) { c.adapt, c.Metrics = quickAdapt(), r.m })
	r.v, r.link = poorViewer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ss, err := s.Negotiate(ctx, Offer{SDP: offerOf(t, r.v), Source: read(t, r.h, r.g), Stream: access.StreamMain,
		Open: func(st access.StreamID) (Source, error) { return open(r, st) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.v.Accept(ss.Answer()); err != nil {
		t.Fatal(err)
	}
	r.ss = ss
	return r
}

// units waits for n more units at the viewer, within ten seconds.
func units(t *testing.T, v *sim.WebRTCViewer, n int, what string) {
	t.Helper()
	had := v.Stats().Units
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitUnits(ctx, had+n); err != nil {
		t.Fatalf("%d units %s: %v (had %d)", n, what, err, had)
	}
}

func waitMode(t *testing.T, ss *Session, want Mode, within time.Duration) {
	t.Helper()
	testkit.WaitFor(t, within, "session in mode "+want.String(), func() error {
		if m := ss.Mode(); m != want {
			return errors.New("mode " + m.String())
		}
		return nil
	})
}

// TestPoorPathSwitchesToSubAndBack: a viewer behind 800 kbit/s + 150 ms
// is moved from main to the sub stream (counted), keeps receiving units
// with good stamps, and is moved back to main once the cap is lifted.
func TestPoorPathSwitchesToSubAndBack(t *testing.T) {
	opened := 0
	r := startPoor(t, func(r *poorRun, st access.StreamID) (Source, error) {
		opened++
		return r.h.Read(r.g, st)
	})
	ss, m, v, link := r.ss, r.m, r.v, r.link
	waitMode(t, ss, ModeSub, 20*time.Second)
	if n := testutil.ToFloat64(m.Switches.WithLabelValues("sub")); n < 1 {
		t.Fatalf("switches to sub counted %v", n)
	}
	units(t, v, 2*testFPS, "after the switch to sub")
	if m := ss.Mode(); m != ModeSub {
		t.Fatalf("mode %v while the link is capped, want sub", m)
	}
	link.Lift()
	waitMode(t, ss, ModeMain, 30*time.Second)
	units(t, v, 2*testFPS, "after the switch back to main")
	if bad := v.Checker().Bad(); bad != 0 {
		t.Fatalf("%d bad stamps", bad)
	}
	if err := v.Checker().Only("cam-a"); err != nil {
		t.Fatal(err)
	}
	t.Logf("opened the other stream %d times; %d datagrams dropped at the link; viewer %+v", opened, link.Dropped(), v.Stats())
}

// TestOneStreamViewerNeverSwitches: when the other stream cannot be
// opened (a token minted for main only), the session stays on main and
// comes down to its keyframes instead.
func TestOneStreamViewerNeverSwitches(t *testing.T) {
	refused := 0
	r := startPoor(t, func(*poorRun, access.StreamID) (Source, error) {
		refused++
		return nil, access.ErrNoGrant
	})
	ss, m, v := r.ss, r.m, r.v
	waitMode(t, ss, ModeKeyframes, 20*time.Second)
	if n := testutil.ToFloat64(m.Switches.WithLabelValues("sub")); n != 0 {
		t.Fatalf("switches to sub counted %v", n)
	}
	if refused == 0 {
		t.Fatal("the sub stream was never asked for: the grant was not re-checked")
	}
	units(t, v, 2, "keyframes after the switch")
	if bad := v.Checker().Bad(); bad != 0 {
		t.Fatalf("%d bad stamps", bad)
	}
}

// TestPoorPathLeavesMainAtOnce: on a camera whose GOPs are three seconds
// long on main (about 2 Mbit/s of I_PCM keyframes) and twelve on sub
// (0.1 Mbit/s, so that its cached GOP is young enough to replay), a viewer behind the poor link that joins early in main's GOP is on
// the sub stream well before main's next keyframe, and plays it: the
// session knows main's rate from the GOP before the cached one (its
// reader opened one GOP back), judges the path from the first reports,
// and starts sub from sub's cached keyframe instead of waiting for sub's
// next. Before, it waited for main's next keyframe to measure main, then
// for sub's next keyframe: over three seconds here.
func TestPoorPathLeavesMainAtOnce(t *testing.T) {
	const gop = 3 * testFPS
	h := hub.New(hub.Config{Logger: quiet()})
	g := grant("cam-a", nil)
	for _, s := range []struct {
		stream access.StreamID
		w, h   int
		gop    int
	}{{access.StreamMain, 960, 544, gop}, {access.StreamSub, 160, 96, 4 * gop}} {
		// Sub's GOP is long: young enough to replay at the switch.
		cam := simcam.New(t, simcam.Config{ID: "cam-a", Secret: secret, Width: s.w, Height: s.h, FPS: testFPS, GOP: s.gop})
		f := simcam.Publish(t, h, "cam-a", s.stream, cam, nil)
		for range s.gop + testFPS/5 { // a whole GOP cached before the current one
			if err := f.Frame(); err != nil {
				t.Fatal(err)
			}
		}
		f.Live(t)
	}
	readBack := func(st access.StreamID) (Source, error) { return h.ReadBack(g, st) }
	m := NewMetrics(prometheus.NewRegistry())
	s := newServer(t, func(c *Config) { c.adapt, c.Metrics = quickAdapt(), m })
	v, _ := poorViewer(t)
	src, err := readBack(access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ss, err := s.Negotiate(ctx, Offer{SDP: offerOf(t, v), Source: src, Stream: access.StreamMain, Open: readBack})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := v.Accept(ss.Answer()); err != nil {
		t.Fatal(err)
	}
	waitMode(t, ss, ModeSub, 10*time.Second)
	onSub := time.Since(start)
	units(t, v, 2*testFPS, "after the switch to sub")
	t.Logf("on sub %v after the answer; viewer %+v", onSub.Round(time.Millisecond), v.Stats())
	if onSub > 2500*time.Millisecond {
		t.Fatalf("on sub %v after the answer: waited for a keyframe (GOP %v)", onSub.Round(time.Millisecond), gop*time.Second/testFPS)
	}
	if bad := v.Checker().Bad(); bad != 0 {
		t.Fatalf("%d bad stamps", bad)
	}
}
