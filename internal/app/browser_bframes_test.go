package app

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/internal/sim"
)

// bFrameClip encodes the camera's picture as H.264 High profile with two
// B-frames between references (x264, fixed GOP of 30), as many real
// cameras send it, and loads it as a clip for a simulated camera.
func bFrameClip(t *testing.T, camera string) []sim.ClipUnit {
	t.Helper()
	needFFmpeg(t)
	dir := t.TempDir()
	pic, err := os.Create(filepath.Join(dir, "picture.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(pic, sim.DrawPicture(camera, 320, 240)); err != nil {
		t.Fatal(err)
	}
	pic.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := filepath.Join(dir, "clip.h264")
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-loop", "1", "-i", pic.Name(), "-frames:v", "60", "-r", "15",
		"-c:v", "libx264", "-profile:v", "high", "-pix_fmt", "yuv420p", "-bf", "2",
		"-x264-params", "keyint=30:min-keyint=30:scenecut=0:b-adapt=0", "-f", "h264", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, msg)
	}
	clip, err := sim.LoadClip(out)
	if err != nil {
		t.Fatal(err)
	}
	return clip
}

// TestWebPageFallsBackFromBFrames: a High-profile camera with B-frames is
// not sent over WebRTC (Chromium would show a slideshow of its keyframes):
// the owner's page falls back to MP4, plays the camera's picture and says
// why.
func TestWebPageFallsBackFromBFrames(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "Driveway")
	cam.Clip = bFrameClip(t, cam.ID)
	a.run(t, cam)
	pw := a.addUser(t, "olga")
	claimFor(t, a, cam, "olga")
	tab := startChromium(t)
	signIn(t, tab, a.url("/"), "olga", pw)
	gridIDs(t, tab, 1)

	code, ttff := play(t, tab, cam.ID)
	if code != sim.CodeFor(cam.ID) {
		t.Fatalf("the page showed block code %x, want %x", code, sim.CodeFor(cam.ID))
	}
	via, why := pageText(t, tab, "#via"), pageText(t, tab, "#why")
	t.Logf("click to first frame %v via %s%s", ttff, via, why)
	if via != "MP4" || !strings.Contains(why, "B-frames") {
		t.Fatalf("played via %q with reason %q, want MP4 and the reason (B-frames)", via, why)
	}
}
