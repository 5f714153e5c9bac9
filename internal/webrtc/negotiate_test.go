package webrtc

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/sim"
)

// without removes the SDP lines matching pattern.
func without(sdp, pattern string) string {
	return regexp.MustCompile(`(?m)^`+pattern+`.*\r?\n`).ReplaceAllString(sdp, "")
}

// offerCase is an offer and the error it must get.
type offerCase struct {
	name, sdp string
	want      error
}

// badOffers are offers a server must refuse, made from a good one.
func badOffers(good string) []offerCase {
	h264 := regexp.MustCompile(`(?m)^a=rtpmap:(\d+) H264/90000`)
	return []offerCase{
		{"empty", "", ErrBadOffer},
		{"not SDP", "hello, camera", ErrBadOffer},
		{"JSON", `{"type":"offer","sdp":"v=0"}`, ErrBadOffer},
		{"no media", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", ErrBadOffer},
		{"no H.264", h264.ReplaceAllString(good, "a=rtpmap:$1 XYZ/90000"), ErrNoH264},
		{"packetization mode 0 only", strings.ReplaceAll(good, "packetization-mode=1", "packetization-mode=0"), ErrNoH264},
		{"unanswerable profiles", regexp.MustCompile(`profile-level-id=\w+`).ReplaceAllString(good, "profile-level-id=6e001f"), ErrNoH264},
		{"video inactive", strings.Replace(good, "a=recvonly", "a=inactive", 1), ErrNoH264},
		{"video sendonly", strings.Replace(good, "a=recvonly", "a=sendonly", 1), ErrNoH264},
		{"no ICE credentials", without(without(good, "a=ice-ufrag"), "a=ice-pwd"), ErrBadOffer},
		{"no DTLS fingerprint", without(good, "a=fingerprint"), ErrBadOffer},
	}
}

// FuzzParseOffer: no offer makes the parser panic, and one it accepts
// can receive H.264. Seeded with the bad offers and a good one.
func FuzzParseOffer(f *testing.F) {
	v, err := sim.NewWebRTCViewer(sim.StaticKeys(secret), sim.WebRTCOptions{Audio: true})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	good, err := v.Offer(ctx)
	cancel()
	v.Close()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	for _, c := range badOffers(good) {
		f.Add(c.sdp)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if o, err := parseOffer(s); err == nil && !o.h264 {
			t.Fatalf("accepted an offer that cannot receive H.264")
		}
	})
}

// TestBadOffersAreRefused: offers that are not SDP, that cannot receive
// H.264 in packetization mode 1, or that lack what ICE and DTLS need are
// refused with an error naming the problem, before any session exists;
// the reader handed over is closed and nothing leaks.
func TestBadOffersAreRefused(t *testing.T) {
	h := hub.New(hub.Config{Logger: quiet()})
	publish(t, h, "cam-a", false)
	cases := badOffers(offerOf(t, newViewer(t, false)))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			s := newServer(t, nil)
			r := read(t, h, grant("cam-a", nil))
			ss, err := s.Negotiate(context.Background(), Offer{SDP: tc.sdp, Source: r})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Negotiate = %v, %v; want %v", ss, err, tc.want)
			}
			t.Logf("%v", err)
			if _, err := r.Next(context.Background()); !errors.Is(err, hub.ErrClosed) {
				t.Fatalf("reader still open: Next = %v", err)
			}
			if s.Sessions() != 0 {
				t.Fatalf("%d sessions after a refusal", s.Sessions())
			}
		})
	}
}

// TestCameraCodecNotSupported: an H.265 camera cannot be passed through
// to WebRTC; the error says so.
func TestCameraCodecNotSupported(t *testing.T) {
	noLeaks(t)
	h := hub.New(hub.Config{Logger: quiet()})
	p, err := h.Publish("cam-h", access.StreamMain, []*media.Track{{Kind: media.Video, Format: &format.H265{PayloadTyp: 96}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := newServer(t, nil)
	_, err = s.Negotiate(context.Background(), Offer{SDP: offerOf(t, newViewer(t, false)), Source: read(t, h, grant("cam-h", nil))})
	if !errors.Is(err, ErrCodec) || !strings.Contains(err.Error(), "camera codec not supported by WebRTC") {
		t.Fatalf("Negotiate = %v, want ErrCodec", err)
	}
}

// TestSessionLimits: a user gets MaxSessionsPerUser sessions and the
// server MaxSessions; an ended session gives its place back.
func TestSessionLimits(t *testing.T) {
	noLeaks(t)
	h := hub.New(hub.Config{Logger: quiet()})
	publish(t, h, "cam-a", false)
	s := newServer(t, func(c *Config) { c.MaxSessions, c.MaxSessionsPerUser = 3, 2 })
	negotiate := func(user access.UserID) (*Session, error) {
		g := issuer.Mint(user, "cam-a", access.AudienceWeb, time.Hour)
		return s.Negotiate(context.Background(), Offer{SDP: offerOf(t, newViewer(t, false)), Source: read(t, h, g)})
	}
	var first *Session
	for i, c := range []struct {
		user access.UserID
		want error
	}{{"u1", nil}, {"u1", nil}, {"u1", ErrBusy}, {"u2", nil}, {"u3", ErrBusy}} {
		ss, err := negotiate(c.user)
		if !errors.Is(err, c.want) {
			t.Fatalf("session %d of %s: %v, want %v", i+1, c.user, err, c.want)
		}
		if first == nil {
			first = ss
		}
	}
	if err := s.End(context.Background(), "u1", "cam-a", first.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := negotiate("u3"); err != nil {
		t.Fatalf("after an End: %v", err)
	}
}

// TestAbandonedNegotiation: a peer that takes the answer and never
// connects is dropped after NegotiationTimeout; one that hangs up while
// the server gathers candidates gets nothing. Neither leaves a goroutine
// or a socket behind.
func TestAbandonedNegotiation(t *testing.T) {
	h := hub.New(hub.Config{Logger: quiet()})
	publish(t, h, "cam-a", false)
	t.Run("never connects", func(t *testing.T) {
		noLeaks(t)
		s := newServer(t, func(c *Config) { c.NegotiationTimeout = 300 * time.Millisecond })
		rec := &record{}
		o := Offer{SDP: offerOf(t, newViewer(t, false)), Source: read(t, h, grant("cam-a", nil)),
			Record: rec.recorder()}
		start := time.Now()
		ss, err := s.Negotiate(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if err := ended(t, ss, 2*time.Second); !errors.Is(err, ErrNegotiationTimeout) {
			t.Fatalf("ended with %v, want ErrNegotiationTimeout", err)
		}
		if _, done := rec.state(); done || rec.starts() != 0 {
			t.Fatal("a session that never connected was recorded as viewing")
		}
		t.Logf("dropped %v after the offer", time.Since(start).Round(time.Millisecond))
	})
	t.Run("hangs up while the server gathers", func(t *testing.T) {
		noLeaks(t)
		s := newServer(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := read(t, h, grant("cam-a", nil))
		if _, err := s.Negotiate(ctx, Offer{SDP: offerOf(t, newViewer(t, false)), Source: r}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Negotiate = %v, want context.Canceled", err)
		}
		if s.Sessions() != 0 {
			t.Fatalf("%d sessions", s.Sessions())
		}
	})
}

// TestOfferTrimmed: what pion reads of an offer is only the formats the
// server can answer — H.264 in packetization mode 1 and Opus or G.711 —
// with their attribute lines; the rest (VP8, VP9, AV1, H.265, RTX...)
// made SetRemoteDescription read the whole section once per format.
func TestOfferTrimmed(t *testing.T) {
	v := newViewer(t, true)
	good := offerOf(t, v)
	if !strings.Contains(good, "VP8/90000") {
		t.Fatal("the viewer's offer has no VP8: nothing to trim")
	}
	o, err := parseOffer(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"VP8/", "VP9/", "AV1/", "H265/", "rtx/", "G722/", "apt="} {
		if strings.Contains(o.sdp, gone) {
			t.Errorf("trimmed offer still has %q:\n%s", gone, o.sdp)
		}
	}
	again, err := parseOffer(o.sdp)
	if err != nil || !slices.Equal(again.h264Profiles, o.h264Profiles) || len(again.h264Profiles) == 0 || !again.audio["opus"] {
		t.Fatalf("trimmed offer reads %+v, %v; the offer read %+v", again, err, o)
	}
}
