package fmp4

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/testkit/simcam"
)

var (
	issuer = access.NewIssuer()
	secret = []byte("fmp4 test secret")
)

const (
	testW, testH = 320, 180 // not a multiple of 16: the SPS crops
	testFPS      = 25
	testGOP      = 25
)

func grant(d access.DeviceID) access.Grant {
	return issuer.Mint("u1", d, access.AudienceWeb, time.Hour)
}

func h264Track() *media.Track { return simcam.H264Track() }

// audioSource makes the audio units of one test track.
type audioSource struct {
	simcam.Audio
	codec string // as ffprobe names it
}

// opusSilence is a 20 ms CELT fullband mono Opus packet that decodes to
// silence (RFC 6716 §3.1: TOC config 31, one frame).
var opusSilence = []byte{0xf8, 0xff, 0xfe}

func opusSource() *audioSource {
	return &audioSource{
		Audio: simcam.Audio{
			Track:  &media.Track{Kind: media.Audio, Format: &format.Opus{PayloadTyp: 111, ChannelCount: 2}},
			Frames: [][]byte{opusSilence},
			Dur:    20 * time.Millisecond,
		},
		codec: "opus",
	}
}

func g711Source() *audioSource {
	return &audioSource{Audio: simcam.Audio{
		Track:  &media.Track{Kind: media.Audio, Format: &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}},
		Frames: [][]byte{bytes.Repeat([]byte{0xff}, 160)},
		Dur:    20 * time.Millisecond,
	}}
}

var (
	aacOnce   sync.Once
	aacFrames [][]byte
	aacConfig *mpeg4audio.AudioSpecificConfig
	aacErr    error
)

// aacSource encodes a 440 Hz tone with ffmpeg (once per test binary) and
// splits its ADTS stream into raw AAC frames.
func aacSource(t testing.TB) *audioSource {
	t.Helper()
	aacOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fmp4-aac")
		if err != nil {
			aacErr = err
			return
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "tone.aac")
		out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
			"-t", "2", "-ac", "1", "-c:a", "aac", "-b:a", "64k", "-f", "adts", path).CombinedOutput()
		if err != nil {
			aacErr = err
			t.Logf("ffmpeg: %s", out)
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			aacErr = err
			return
		}
		var pkts mpeg4audio.ADTSPackets
		if aacErr = pkts.Unmarshal(b); aacErr != nil {
			return
		}
		for _, p := range pkts {
			aacFrames = append(aacFrames, p.AU)
		}
		p := pkts[0]
		aacConfig = &mpeg4audio.AudioSpecificConfig{Type: p.Type, SampleRate: p.SampleRate, ChannelConfig: p.ChannelConfig, ChannelCount: p.ChannelCount}
	})
	if aacErr != nil {
		t.Fatalf("making AAC frames: %v", aacErr)
	}
	return &audioSource{
		Audio: simcam.Audio{
			Track:  &media.Track{Kind: media.Audio, Format: &format.MPEG4Audio{PayloadTyp: 97, Config: aacConfig, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}},
			Frames: aacFrames,
			Dur:    time.Second * 1024 / time.Duration(aacConfig.SampleRate),
		},
		codec: "aac",
	}
}

// publisher feeds one stamped camera (and optionally an audio track, index
// 1) into a hub on the session clock, failing the test if a write fails.
type publisher struct {
	t testing.TB
	*simcam.Feed
}

func publish(t testing.TB, h *hub.Hub, id string, audio *audioSource) *publisher {
	t.Helper()
	cam := simcam.New(t, simcam.Config{ID: id, Secret: secret, Width: testW, Height: testH, FPS: testFPS, GOP: testGOP})
	var a *simcam.Audio
	if audio != nil {
		a = &audio.Audio
	}
	return &publisher{t: t, Feed: simcam.Publish(t, h, access.DeviceID(id), access.StreamMain, cam, a)}
}

// frame publishes the next video frame, then the audio up to its end.
func (p *publisher) frame() {
	p.t.Helper()
	if err := p.Frame(); err != nil {
		p.t.Fatal(err)
	}
}

func next(t testing.TB, r *hub.Reader) *media.Unit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	u, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// countWriter records what was written, write by write.
type countWriter struct {
	mu     sync.Mutex
	writes [][]byte
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, bytes.Clone(p))
	return len(p), nil
}

func (w *countWriter) state() (writes, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range w.writes {
		n += len(b)
	}
	return len(w.writes), n
}

func (w *countWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Join(w.writes, nil)
}
