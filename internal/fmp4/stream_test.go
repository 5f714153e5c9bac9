package fmp4

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mfmp4 "github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/sim"
)

func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, p := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is missing: run `make test`, which installs it", p)
		}
	}
}

// TestStreamPlaysInFFmpeg publishes two stamped cameras into a hub, joins
// one mid-GOP and streams it to a file for about two seconds; ffprobe and
// ffmpeg must read it, and only that camera's stamps may be in it.
func TestStreamPlaysInFFmpeg(t *testing.T) {
	needFFmpeg(t)
	cases := []struct {
		name  string
		audio func(testing.TB) *audioSource
	}{
		{"video only", nil},
		{"aac", aacSource},
		{"opus", func(testing.TB) *audioSource { return opusSource() }},
		{"g711 left out", func(testing.TB) *audioSource { return g711Source() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var audio *audioSource
			if tc.audio != nil {
				audio = tc.audio(t)
			}
			path, flushes := streamToFile(t, audio)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			frames := checkLayout(t, data, audio)
			if n := fragments(t, data); flushes != n {
				t.Errorf("flush called %d times for %d fragments", flushes, n)
			}

			wantCodecs := []string{"h264"}
			if audio != nil && audio.codec != "" {
				wantCodecs = append(wantCodecs, audio.codec)
			}
			checkProbe(t, path, wantCodecs)
			checkDecodes(t, path)

			// An independent client's view of the samples: ffmpeg's Annex-B copy.
			out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-map", "0:v", "-c", "copy", "-f", "h264", "-").Output()
			if err != nil {
				t.Fatalf("ffmpeg copy: %v", err)
			}
			c := sim.NewChecker(sim.StaticKeys(secret))
			if err := c.AnnexB(out); err != nil {
				t.Fatal(err)
			}
			if err := c.Only("cam-a"); err != nil {
				t.Fatal(err)
			}
			st := c.Stats()["cam-a"]
			if st.Count < 40 || st.Count != frames || c.Unstamped() != 0 {
				t.Fatalf("ffmpeg found %d stamped frames (%d unstamped), the fragments hold %d; want >= 40 and equal",
					st.Count, c.Unstamped(), frames)
			}
			if st.Gaps != 0 || st.Reorders != 0 {
				t.Fatalf("stamps out of order: %+v", st)
			}
		})
	}
}

// streamToFile runs Stream for cam-a, joined mid-GOP while cam-b publishes
// into the same hub, for about two seconds.
func streamToFile(t *testing.T, audio *audioSource) (path string, flushes int) {
	h := hub.New(hub.Config{})
	a := publish(t, h, "cam-a", audio)
	b := publish(t, h, "cam-b", audio)
	for range testGOP + testGOP/2 { // a GOP and a half: join mid-GOP
		a.frame()
		b.frame()
	}
	r, err := h.Read(grant("cam-a"), access.StreamMain)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	path = filepath.Join(t.TempDir(), "out.mp4")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	pubCtx, stopPub := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second / testFPS)
		defer tick.Stop()
		for {
			select {
			case <-pubCtx.Done():
				return
			case <-tick.C:
				a.frame()
				b.frame()
			}
		}
	}()
	var n atomic.Int32
	err = Stream(ctx, f, func() { n.Add(1) }, r)
	stopPub()
	<-done
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stream returned %v, want the context's error", err)
	}
	return path, int(n.Load())
}

func fragments(t *testing.T, data []byte) int {
	var parts mfmp4.Parts
	if err := parts.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	return len(parts)
}

// checkLayout decodes the output with mediacommon and checks the timeline:
// the init segment, then fragments numbered from 1, one video frame each,
// the first a keyframe at decode time 0, decode times continuous per track,
// every sample stamped by cam-a. It returns the number of video frames.
func checkLayout(t *testing.T, data []byte, audio *audioSource) int {
	t.Helper()
	var init mfmp4.Init
	if err := init.Unmarshal(bytes.NewReader(data)); err != nil {
		t.Fatalf("init segment: %v", err)
	}
	wantTracks := 1
	if audio != nil && audio.codec != "" {
		wantTracks = 2
	}
	if len(init.Tracks) != wantTracks {
		t.Fatalf("init has %d tracks, want %d", len(init.Tracks), wantTracks)
	}
	var parts mfmp4.Parts
	if err := parts.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	c := sim.NewChecker(sim.StaticKeys(secret))
	next := map[int]uint64{}
	frames := 0
	for i, p := range parts {
		if p.SequenceNumber != uint32(i+1) {
			t.Fatalf("fragment %d has sequence number %d", i, p.SequenceNumber)
		}
		for _, tr := range p.Tracks {
			if want, ok := next[tr.ID]; ok && tr.BaseTime != want || !ok && tr.ID == 1 && tr.BaseTime != 0 {
				t.Fatalf("fragment %d track %d: base time %d, want %d (continuous from 0)", i, tr.ID, tr.BaseTime, want)
			}
			next[tr.ID] = tr.BaseTime
			for _, s := range tr.Samples {
				next[tr.ID] += uint64(s.Duration)
			}
			if tr.ID != 1 {
				continue
			}
			if len(tr.Samples) != 1 {
				t.Fatalf("fragment %d has %d video samples, want 1", i, len(tr.Samples))
			}
			s := tr.Samples[0]
			if i == 0 && s.IsNonSyncSample {
				t.Fatal("the first sample is not a keyframe")
			}
			if s.Duration != videoClockRate/testFPS {
				t.Fatalf("fragment %d: video duration %d, want %d", i, s.Duration, videoClockRate/testFPS)
			}
			if err := c.AVCC(s.Payload); err != nil {
				t.Fatal(err)
			}
			frames++
		}
		if i == 0 && (len(p.Tracks) == 0 || p.Tracks[0].ID != 1) {
			t.Fatal("the first fragment does not start with video")
		}
	}
	if err := c.Only("cam-a"); err != nil {
		t.Fatal(err)
	}
	// The first frame is the cached GOP's keyframe: frame testGOP, whose
	// stamp has seq testGOP+1; then every frame in order.
	if st := c.Stats()["cam-a"]; st.Count != frames || st.MaxSeq != uint64(testGOP+frames) || st.Gaps+st.Reorders != 0 {
		t.Fatalf("stamps %+v in %d frames: want seq %d..%d in order", st, frames, testGOP+1, testGOP+frames)
	}
	if wantTracks == 2 {
		aud := next[2] * videoClockRate / uint64(init.Tracks[1].TimeScale)
		if vid := next[1]; aud+videoClockRate/5 < vid || aud > vid+videoClockRate/5 {
			t.Fatalf("audio ends at %d, video at %d (90 kHz): out of sync", aud, vid)
		}
	}
	return frames
}

func checkProbe(t *testing.T, path string, want []string) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
		"-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var probe struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
			Width     int    `json:"width"`
			Height    int    `json:"height"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range probe.Streams {
		got = append(got, s.CodecName)
		if s.CodecName == "h264" && (s.Width != testW || s.Height != testH) {
			t.Errorf("ffprobe: h264 %dx%d, want %dx%d", s.Width, s.Height, testW, testH)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("ffprobe streams %v, want %v", got, want)
	}
}

func checkDecodes(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() != 0 {
		t.Fatalf("ffmpeg decode: %v: %s", err, stderr.String())
	}
}
