package fmp4read

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// TestFFmpegStream reads what an independent muxer wrote: ffmpeg's
// fragmented MP4 of 50 frames at 25 fps with a keyframe every 10. Every
// frame must come back, at its time, with the sync flag on exactly the
// keyframes, and the flag must agree with the NAL units.
func TestFFmpegStream(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is missing: run `make test`, which installs it")
	}
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2",
		"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
		"-g", "10", "-keyint_min", "10", "-sc_threshold", "0", "-bf", "0",
		"-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4", "pipe:1").Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	r := bytes.NewReader(out)
	in, err := ReadInit(r)
	if err != nil {
		t.Fatal(err)
	}
	video, ok := in.H264()
	if !ok {
		t.Fatalf("no H.264 track in %+v", in)
	}
	var frames []Sample
	for {
		frag, err := ReadFragment(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		samples, err := Samples(frag)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range samples {
			if s.Track == video.ID {
				frames = append(frames, s)
			}
		}
	}
	if len(frames) != 50 {
		t.Fatalf("%d frames, want 50", len(frames))
	}
	for i, s := range frames {
		at, ok := in.Time(s)
		if !ok || at != time.Duration(i)*40*time.Millisecond {
			t.Errorf("frame %d at %v (%v), want %v", i, at, ok, time.Duration(i)*40*time.Millisecond)
		}
		if s.Sync != (i%10 == 0) {
			t.Errorf("frame %d: sync %v, want %v", i, s.Sync, i%10 == 0)
		}
		au, err := s.H264()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if h264.IsRandomAccess(au) != s.Sync {
			t.Errorf("frame %d: IDR %v but sync flag %v", i, h264.IsRandomAccess(au), s.Sync)
		}
	}
}
