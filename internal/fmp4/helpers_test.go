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
	"vigil/internal/sim"
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

// camera makes stamped H.264 access units of one simulated camera.
type camera struct {
	id  string
	key []byte
	g   *sim.Generator
	seq uint64
}

func newCamera(t testing.TB, id string) *camera {
	t.Helper()
	g, err := sim.NewGenerator(testW, testH, testFPS, testGOP, sim.DrawPicture(id, testW, testH))
	if err != nil {
		t.Fatal(err)
	}
	return &camera{id: id, key: sim.CameraKey(secret, id), g: g}
}

// next returns the next access unit, its stamp first as the camera sends it.
func (c *camera) next() ([][]byte, bool) {
	au, key := c.g.Next()
	c.seq++
	stamp := sim.StampNALU(c.key, sim.Stamp{Camera: c.id, Seq: c.seq, Time: time.Now()})
	return append([][]byte{stamp}, au...), key
}

// frameUnit is video frame n of c as hub unit data.
func (c *camera) unitData(n int) hub.UnitData {
	au, key := c.next()
	return hub.UnitData{PTS: time.Duration(n) * time.Second / testFPS, Key: key, Payload: au}
}

func h264Track() *media.Track {
	return &media.Track{Kind: media.Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1}}
}

// audioSource makes the audio units of one test track.
type audioSource struct {
	track  *media.Track
	frames [][]byte      // played in a loop
	dur    time.Duration // of one frame
	codec  string        // as ffprobe names it
}

// opusSilence is a 20 ms CELT fullband mono Opus packet that decodes to
// silence (RFC 6716 §3.1: TOC config 31, one frame).
var opusSilence = []byte{0xf8, 0xff, 0xfe}

func opusSource() *audioSource {
	return &audioSource{
		track:  &media.Track{Kind: media.Audio, Format: &format.Opus{PayloadTyp: 111, ChannelCount: 2}},
		frames: [][]byte{opusSilence},
		dur:    20 * time.Millisecond,
		codec:  "opus",
	}
}

func g711Source() *audioSource {
	return &audioSource{
		track:  &media.Track{Kind: media.Audio, Format: &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}},
		frames: [][]byte{bytes.Repeat([]byte{0xff}, 160)},
		dur:    20 * time.Millisecond,
	}
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
		track:  &media.Track{Kind: media.Audio, Format: &format.MPEG4Audio{PayloadTyp: 97, Config: aacConfig, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3}},
		frames: aacFrames,
		dur:    time.Second * 1024 / time.Duration(aacConfig.SampleRate),
		codec:  "aac",
	}
}

// publisher feeds one camera (and optionally an audio track, index 1) into
// a hub on the session clock.
type publisher struct {
	t     testing.TB
	p     *hub.Publisher
	cam   *camera
	audio *audioSource
	n     int // next video frame
	an    int // next audio frame
}

func publish(t testing.TB, h *hub.Hub, id string, audio *audioSource) *publisher {
	t.Helper()
	tracks := []*media.Track{h264Track()}
	if audio != nil {
		tracks = append(tracks, audio.track)
	}
	p, err := h.Publish(access.DeviceID(id), access.StreamMain, tracks)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &publisher{t: t, p: p, cam: newCamera(t, id), audio: audio}
}

// frame publishes the next video frame, then the audio up to its end, as a
// camera interleaves them.
func (p *publisher) frame() {
	p.t.Helper()
	d := p.cam.unitData(p.n)
	p.n++
	if err := p.p.Write(0, d); err != nil {
		p.t.Fatal(err)
	}
	if p.audio == nil {
		return
	}
	end := time.Duration(p.n) * time.Second / testFPS
	for ; time.Duration(p.an)*p.audio.dur < end; p.an++ {
		f := p.audio.frames[p.an%len(p.audio.frames)]
		if err := p.p.Write(1, hub.UnitData{PTS: time.Duration(p.an) * p.audio.dur, Payload: [][]byte{f}}); err != nil {
			p.t.Fatal(err)
		}
	}
}

// live publishes frames in real time until ctx ends.
func (p *publisher) live(ctx context.Context) {
	tick := time.NewTicker(time.Second / testFPS)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			p.frame()
		}
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
