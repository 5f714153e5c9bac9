package webrtc

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/hub"
	"vigil/internal/sim"
	"vigil/internal/testkit/simcam"
)

// TestViewerGetsOnlyItsCamerasStamps: a pion viewer of cam-a, with cam-b
// publishing into the same hub, receives RTP that depacketizes to
// cam-a's stamped H.264 only, starting with a keyframe with its parameter
// sets (the cached GOP, not the camera's next keyframe), plus the G.711
// audio. Ending it (End) releases every goroutine and socket.
func TestViewerGetsOnlyItsCamerasStamps(t *testing.T) {
	noLeaks(t)
	h := hub.New(hub.Config{Logger: quiet()})
	publish(t, h, "cam-a", true)
	publish(t, h, "cam-b", false)
	s := newServer(t, nil)
	v := newViewer(t, true)
	rec := &record{}
	asked := time.Now()
	ss, answered := connect(t, s, v, read(t, h, grant("cam-a", nil)), rec)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitUnits(ctx, 2*testGOP); err != nil {
		t.Fatal(err)
	}
	st := v.Stats()
	t.Logf("answer to first keyframe %v; %d units, %d video packets, %d lost, max gap %v; %d %s packets",
		st.FirstUnit.Sub(answered).Round(time.Millisecond), st.Units, st.VideoPackets, st.Lost, st.MaxGap,
		st.AudioPackets, st.AudioCodec)
	if !st.FirstKey || !st.FirstParams {
		t.Fatalf("first unit: keyframe %v, SPS and PPS %v; want both", st.FirstKey, st.FirstParams)
	}
	// A first picture captured before the reader was asked for came from
	// the GOP cache, not the camera's next keyframe (about a second away).
	// The capture stamp says so however long a loaded machine takes to
	// connect (the bound was 500 ms after the answer).
	if first := v.Checker().Stats()["cam-a"].First; !first.Before(asked) {
		t.Fatalf("first keyframe captured %v after the reader was asked for: not the cached one", first.Sub(asked))
	}
	if err := v.Checker().Only("cam-a"); err != nil {
		t.Fatalf("stamps %v: %v", v.Checker().Counts(), err)
	}
	if st.AudioPackets == 0 || !strings.EqualFold(st.AudioCodec, "audio/PCMU") {
		t.Fatalf("audio: %d packets of %q, want PCMU", st.AudioPackets, st.AudioCodec)
	}

	if err := s.End(ctx, "u1", "cam-a", ss.ID()); err != nil {
		t.Fatal(err)
	}
	if err := ss.Err(); !errors.Is(err, ErrEnded) {
		t.Fatalf("ended with %v, want ErrEnded", err)
	}
	n, done := rec.state()
	if !done || n == 0 {
		t.Fatalf("access record: %d bytes, ended %v", n, done)
	}
	select {
	case <-v.Gone():
	case <-time.After(5 * time.Second):
		t.Fatal("the viewer's connection outlived the session")
	}
	if s.Sessions() != 0 || testutil.ToFloat64(s.cfg.Metrics.Sessions) != 0 {
		t.Fatalf("%d sessions left", s.Sessions())
	}
}

// TestUnrecordedViewerGetsNothing: a session whose access record cannot
// start ends once the peer connects, without sending a unit.
func TestUnrecordedViewerGetsNothing(t *testing.T) {
	noLeaks(t)
	h := hub.New(hub.Config{Logger: quiet()})
	publish(t, h, "cam-a", false)
	s := newServer(t, nil)
	v := newViewer(t, false)
	rec := &record{fail: errors.New("disk full")}
	ss, _ := connect(t, s, v, read(t, h, grant("cam-a", nil)), rec)
	if err := ended(t, ss, 10*time.Second); !errors.Is(err, audit.ErrUnrecorded) {
		t.Fatalf("ended with %v, want the access history's failure", err)
	}
	if st := v.Stats(); st.Units != 0 || st.VideoPackets != 0 {
		t.Fatalf("an unrecorded viewer got %d units, %d video packets", st.Units, st.VideoPackets)
	}
}

// TestEndOnlyOwnSession: End refuses, alike, an unknown id and a real one
// named with another user or camera; the session keeps running.
func TestEndOnlyOwnSession(t *testing.T) {
	noLeaks(t)
	h := hub.New(hub.Config{Logger: quiet()})
	publish(t, h, "cam-a", false)
	s := newServer(t, nil)
	v := newViewer(t, false)
	ss, _ := connect(t, s, v, read(t, h, grant("cam-a", nil)), nil)
	ctx := context.Background()
	for _, c := range []struct {
		user   access.UserID
		device access.DeviceID
		id     string
	}{{"u2", "cam-a", ss.ID()}, {"u1", "cam-b", ss.ID()}, {"u1", "cam-a", "no-such-session"}, {"u1", "cam-a", ""}} {
		if err := s.End(ctx, c.user, c.device, c.id); !errors.Is(err, ErrNoSession) {
			t.Fatalf("End(%s, %s, %q) = %v, want ErrNoSession", c.user, c.device, c.id, err)
		}
	}
	if ss.Err() != nil {
		t.Fatalf("session ended: %v", ss.Err())
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := v.WaitUnits(wctx, 10); err != nil {
		t.Fatal(err)
	}
}

// TestSessionEndings: each way a session ends stops the packets within
// the time allowed (a revoked share within a second), reports why, and
// releases every goroutine and socket.
func TestSessionEndings(t *testing.T) {
	cases := []struct {
		name   string
		end    func(s *Server, ss *Session, v *sim.WebRTCViewer, cam *simcam.Feed, lease *access.Lease)
		want   error
		within time.Duration
	}{
		{"revoked share", func(_ *Server, _ *Session, _ *sim.WebRTCViewer, _ *simcam.Feed, l *access.Lease) { l.Revoke() },
			access.ErrGrantRevoked, time.Second},
		{"viewer hangs up", func(_ *Server, _ *Session, v *sim.WebRTCViewer, _ *simcam.Feed, _ *access.Lease) { v.Close() },
			ErrPeerGone, 5 * time.Second},
		{"camera offline", func(_ *Server, _ *Session, _ *sim.WebRTCViewer, c *simcam.Feed, _ *access.Lease) { c.Pub.Close() },
			hub.ErrOffline, time.Second},
		{"session closed", func(_ *Server, ss *Session, _ *sim.WebRTCViewer, _ *simcam.Feed, _ *access.Lease) { ss.Close() },
			ErrEnded, time.Second},
		{"server closed", func(s *Server, _ *Session, _ *sim.WebRTCViewer, _ *simcam.Feed, _ *access.Lease) { go s.Close() },
			ErrServerClosed, 5 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			h := hub.New(hub.Config{Logger: quiet()})
			cam := publish(t, h, "cam-a", false)
			s := newServer(t, nil)
			v := newViewer(t, false)
			lease := access.NewLease()
			ss, _ := connect(t, s, v, read(t, h, grant("cam-a", lease)), nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := v.WaitUnits(ctx, testGOP/2+5); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			tc.end(s, ss, v, cam, lease)
			if err := ended(t, ss, tc.within); !errors.Is(err, tc.want) {
				t.Fatalf("ended with %v, want %v", err, tc.want)
			}
			took := time.Since(start)
			before := v.Stats().VideoPackets
			time.Sleep(200 * time.Millisecond)
			if after := v.Stats().VideoPackets; after != before {
				t.Fatalf("%d packets arrived after the session ended", after-before)
			}
			t.Logf("ended %v after the cause", took.Round(time.Millisecond))
		})
	}
}

// cuttable is a UDP socket that can be cut off the network: once cut, it
// drops what it sends and what it receives, as a viewer that lost its
// network or was killed would.
type cuttable struct {
	net.PacketConn
	cut atomic.Bool
}

func (c *cuttable) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

func (c *cuttable) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.cut.Load() {
			return n, addr, err
		}
	}
}

// TestSilentViewerTimesOut: a viewer that vanishes without a goodbye (no
// DTLS close, no RTCP, no ICE consent) ends its session after
// DisconnectedTimeout.
func TestSilentViewerTimesOut(t *testing.T) {
	noLeaks(t)
	h := hub.New(hub.Config{Logger: quiet()})
	publish(t, h, "cam-a", false)
	const timeout = time.Second
	s := newServer(t, func(c *Config) { c.DisconnectedTimeout = timeout })
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn := &cuttable{PacketConn: udp}
	t.Cleanup(func() { udp.Close() })
	v, err := sim.NewWebRTCViewer(sim.StaticKeys(secret), sim.WebRTCOptions{UDPConn: conn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	ss, _ := connect(t, s, v, read(t, h, grant("cam-a", nil)), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitUnits(ctx, testGOP/2+5); err != nil {
		t.Fatal(err)
	}
	conn.cut.Store(true)
	cutAt := time.Now()
	if err := ended(t, ss, 5*timeout); !errors.Is(err, ErrPeerGone) {
		t.Fatalf("ended with %v, want ErrPeerGone", err)
	}
	if took := time.Since(cutAt); took < timeout {
		t.Fatalf("ended %v after the viewer went silent, before DisconnectedTimeout", took)
	} else {
		t.Logf("ended %v after the viewer went silent", took.Round(time.Millisecond))
	}
}
