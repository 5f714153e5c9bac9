package rtsp

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/testkit"
)

// TestCodecsPassThrough has ffmpeg publish each supported codec pair (on the
// main or the sub stream) and ffprobe/ffmpeg read it back and decode it.
func TestCodecsPassThrough(t *testing.T) {
	needFFmpeg(t)
	tests := []struct {
		name, path, video, audio string
		wantCodecs               string
	}{
		{"h265-aac", "cam-hevc", "libx265", "aac", "hevc,aac"},
		{"h264-opus-sub", "cam-opus/sub", "libx264", "libopus", "h264,opus"},
		{"h264-alaw", "cam-alaw", "libx264", "pcm_alaw", "h264,pcm_alaw"},
	}
	e := start(t, "cam-hevc", "cam-opus", "cam-alaw")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dev := strings.Split(tt.path, "/")[0]
			rate := "48000"
			if strings.HasPrefix(tt.audio, "pcm_") {
				rate = "8000"
			}
			args := []string{"-v", "error", "-re",
				"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
				"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=" + rate,
				"-c:v", tt.video, "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"}
			if tt.video == "libx265" {
				// Open GOPs with RASL pictures after each CRA: a reader that joins or
				// resumes at a CRA must not get them (the hub leaves them out).
				args = append(args, "-x265-params", "log-level=error:bframes=4:b-adapt=0:scenecut=0:keyint=25:min-keyint=25")
			}
			args = append(args, "-c:a", tt.audio, "-f", "rtsp", "-rtsp_transport", "tcp",
				"rtsp://"+dev+":pw-"+dev+"@"+e.addr+"/"+tt.path)
			pub := exec.CommandContext(ctx, "ffmpeg", args...)
			var stderr syncBuffer
			pub.Stderr = &stderr
			if err := pub.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cancel(); pub.Wait() }()
			stream, _ := access.ParseStreamID(strings.TrimPrefix(strings.TrimPrefix(tt.path, dev), "/"))
			testkit.WaitFor(t, 20*time.Second, dev+" online", func() error {
				if !e.hub.Online(access.DeviceID(dev), stream) {
					return fmt.Errorf("offline; publisher said: %s", stderr.String())
				}
				return nil
			})
			url := "rtsp://admin:secret@" + e.addr + "/" + tt.path
			out, err := exec.Command("ffprobe", "-v", "error", "-rtsp_transport", "tcp",
				"-show_entries", "stream=codec_name", "-of", "csv=p=0", url).CombinedOutput()
			if err != nil {
				t.Fatalf("ffprobe: %v %s", err, out)
			}
			if got := strings.Join(strings.Fields(string(out)), ","); got != tt.wantCodecs {
				t.Fatalf("codecs %q, want %q", got, tt.wantCodecs)
			}
			if out := probeFrames(t, url, "tcp", 20); strings.TrimSpace(out) != "" {
				t.Fatalf("decode errors:\n%s", out)
			}
		})
	}
}
