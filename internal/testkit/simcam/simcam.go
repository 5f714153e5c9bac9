// Package simcam feeds a hub from simulated cameras: stamped H.264 of each
// camera's own picture, and audio, timed on the camera's clock. Only
// _test.go files may import it.
package simcam

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/sim"
)

// Config describes one simulated camera.
type Config struct {
	ID            string
	Secret        []byte // stamps are keyed by sim.CameraKey(Secret, ID); nil sends none
	Width, Height int
	FPS, GOP      int
	ParamsInTrack bool // the track announces SPS and PPS too, as an SDP may
	Main          bool // H.264 Main profile in the SPS, as the canary's cameras may declare
}

// Camera makes the video of one simulated camera: H.264 access units of
// its own picture (sim.DrawPicture, so a decoded frame shows its code),
// timed on its own clock, each led by a stamp when it has a secret.
type Camera struct {
	cfg Config
	gen *sim.Generator
	key []byte // nil: frames go unstamped
	seq uint64 // stamps sent
	n   int    // frames made
}

// New makes the camera cfg describes.
func New(t testing.TB, cfg Config) *Camera {
	t.Helper()
	g, err := sim.NewGenerator(cfg.Width, cfg.Height, cfg.FPS, cfg.GOP, sim.DrawPicture(cfg.ID, cfg.Width, cfg.Height))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Main {
		g.SetMainProfile()
	}
	c := &Camera{cfg: cfg, gen: g}
	if cfg.Secret != nil {
		c.key = sim.CameraKey(cfg.Secret, cfg.ID)
	}
	return c
}

// H264Track is an H.264 track with its parameter sets in band only, as
// the simulated cameras announce it.
func H264Track() *media.Track {
	return &media.Track{Kind: media.Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1}}
}

// Track is the camera's H.264 track.
func (c *Camera) Track() *media.Track {
	t := H264Track()
	if c.cfg.ParamsInTrack {
		f := t.Format.(*format.H264)
		f.SPS, f.PPS = c.gen.SPS(), c.gen.PPS()
	}
	return t
}

// Frames is how many frames the camera has made.
func (c *Camera) Frames() int { return c.n }

// Next is the camera's next frame as hub unit data: frame n at n/FPS, its
// stamp (if any) first, as the camera sends it.
func (c *Camera) Next() hub.UnitData {
	au, key := c.gen.Next()
	pts := time.Duration(c.n) * time.Second / time.Duration(c.cfg.FPS)
	c.n++
	if c.key != nil {
		c.seq++
		stamp := sim.StampNALU(c.key, sim.Stamp{Camera: c.cfg.ID, Seq: c.seq, Time: time.Now()})
		au = append([][]byte{stamp}, au...)
	}
	return hub.UnitData{PTS: pts, Key: key, Payload: au}
}

// Audio is an audio track whose frames play in a loop, each Dur long.
type Audio struct {
	Track  *media.Track
	Frames [][]byte
	Dur    time.Duration
}

// Feed publishes one camera, and optionally an audio track (index 1), into
// a hub.
type Feed struct {
	Pub   *hub.Publisher
	Cam   *Camera
	audio *Audio
	an    int // next audio frame
}

// Publish opens device's stream on h with cam's track (and audio's), and
// closes it when the test ends.
func Publish(t testing.TB, h *hub.Hub, device access.DeviceID, stream access.StreamID, cam *Camera, audio *Audio) *Feed {
	t.Helper()
	tracks := []*media.Track{cam.Track()}
	if audio != nil {
		tracks = append(tracks, audio.Track)
	}
	p, err := h.Publish(device, stream, tracks)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &Feed{Pub: p, Cam: cam, audio: audio}
}

// Frame publishes the camera's next frame, then the audio up to that
// frame's end, as a camera interleaves them.
func (f *Feed) Frame() error {
	if err := f.Pub.Write(0, f.Cam.Next()); err != nil {
		return err
	}
	if f.audio == nil {
		return nil
	}
	end := time.Duration(f.Cam.n) * time.Second / time.Duration(f.Cam.cfg.FPS)
	for ; time.Duration(f.an)*f.audio.Dur < end; f.an++ {
		u := hub.UnitData{PTS: time.Duration(f.an) * f.audio.Dur, Payload: [][]byte{f.audio.Frames[f.an%len(f.audio.Frames)]}}
		if err := f.Pub.Write(1, u); err != nil {
			return err
		}
	}
	return nil
}

// Live publishes frames in real time, on the camera's clock from now, until
// the test ends or a write fails (the publisher was replaced or closed).
// The test's cleanup waits for it to stop.
func (f *Feed) Live(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(start.Add(time.Duration(n) * time.Second / time.Duration(f.Cam.cfg.FPS)))):
			}
			if f.Frame() != nil {
				return
			}
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}
