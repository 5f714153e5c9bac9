package webrtc

import (
	"context"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/sim"
	"vigil/internal/testkit/simcam"
)

// BenchmarkNegotiate is the server's part of a WHEP POST: a pion viewer's
// offer in, a session with its answer (ICE candidates gathered) out, for a
// camera with a cached GOP. The session's teardown is not timed.
func BenchmarkNegotiate(b *testing.B) {
	h := hub.New(hub.Config{Logger: quiet()})
	cam := simcam.New(b, simcam.Config{ID: "cam-a", Secret: secret, Width: testW, Height: testH, FPS: testFPS, GOP: testGOP})
	f := simcam.Publish(b, h, "cam-a", access.StreamMain, cam, nil)
	for range testGOP / 2 {
		if err := f.Frame(); err != nil {
			b.Fatal(err)
		}
	}
	s, err := New(Config{Logger: quiet(), MaxSessions: 1 << 20, MaxSessionsPerUser: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	v, err := sim.NewWebRTCViewer(sim.StaticKeys(secret), sim.WebRTCOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sdp, err := v.Offer(ctx)
	if err != nil {
		b.Fatal(err)
	}
	g := grant("cam-a", nil)
	b.ReportAllocs()
	for b.Loop() {
		src, err := h.Read(g, access.StreamMain)
		if err != nil {
			b.Fatal(err)
		}
		ss, err := s.Negotiate(ctx, Offer{SDP: sdp, Source: src})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		ss.Close()
		<-ss.Done()
		b.StartTimer()
	}
}
