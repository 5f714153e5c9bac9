package simcam

import (
	"context"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/sim"
)

var secret = []byte("simcam test secret")

// TestFeedInterleavesStampedVideoAndAudio: a reader of the fed stream gets
// the camera's stamped frames on its clock, each followed by the audio up
// to that frame's end.
func TestFeedInterleavesStampedVideoAndAudio(t *testing.T) {
	h := hub.New(hub.Config{})
	cam := New(t, Config{ID: "cam-a", Secret: secret, Width: 64, Height: 48, FPS: 25, GOP: 25})
	audio := &Audio{
		Track:  &media.Track{Kind: media.Audio, Format: &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}},
		Frames: [][]byte{make([]byte, 160)},
		Dur:    20 * time.Millisecond,
	}
	f := Publish(t, h, "cam-a", access.StreamMain, cam, audio)
	r, err := h.Read(access.NewIssuer().Mint("u-test", "cam-a", access.AudienceWeb, time.Hour), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for range 5 {
		if err := f.Frame(); err != nil {
			t.Fatal(err)
		}
	}
	chk := sim.NewChecker(sim.StaticKeys(secret))
	var videoEnd, audioPTS time.Duration
	for i := range 15 { // 5 frames of 40 ms, 10 audio units of 20 ms
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		u, err := r.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("unit %d: %v", i, err)
		}
		switch u.Track {
		case 0:
			if want := videoEnd; u.PTS != want || u.Key != (want == 0) {
				t.Fatalf("unit %d: video at %v (key %v), want %v", i, u.PTS, u.Key, want)
			}
			videoEnd += 40 * time.Millisecond
			if err := chk.AccessUnit(u.Payload); err != nil {
				t.Fatal(err)
			}
		case 1:
			if u.PTS != audioPTS || u.PTS >= videoEnd {
				t.Fatalf("unit %d: audio at %v, want %v before the video's end %v", i, u.PTS, audioPTS, videoEnd)
			}
			audioPTS += 20 * time.Millisecond
		}
	}
	if err := chk.Only("cam-a"); err != nil || chk.Units() != 5 || chk.Unstamped() != 0 || cam.Frames() != 5 {
		t.Fatalf("stamps: %v; %d units, %d unstamped, %d frames made", err, chk.Units(), chk.Unstamped(), cam.Frames())
	}
	if audioPTS != 200*time.Millisecond {
		t.Fatalf("audio up to %v, want 200ms", audioPTS)
	}
}

// TestCameraWithoutSecret: no stamp, and the track may carry the
// parameter sets.
func TestCameraWithoutSecret(t *testing.T) {
	cam := New(t, Config{ID: "cam-b", Width: 64, Height: 48, FPS: 10, GOP: 10, ParamsInTrack: true})
	chk := sim.NewChecker(sim.StaticKeys(secret))
	if err := chk.AccessUnit(cam.Next().Payload); err != nil || chk.Unstamped() != 1 {
		t.Fatalf("an unstamped camera's frame: %v, %d unstamped", err, chk.Unstamped())
	}
	if f := cam.Track().Format.(*format.H264); len(f.SPS) == 0 || len(f.PPS) == 0 {
		t.Fatal("ParamsInTrack: the track has no parameter sets")
	}
	if f := H264Track().Format.(*format.H264); f.SPS != nil || f.PPS != nil {
		t.Fatal("H264Track carries parameter sets")
	}
}
