package app

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"vigil/internal/sim"
)

// gstStamps has GStreamer's rtspsrc, an independent client that resolves
// the SDP's relative track URLs against Content-Base per RFC 3986, play
// url over TCP, with a camera's video and audio each to its own
// depayloader, and returns a checker that has seen frames video frames.
func gstStamps(t *testing.T, url string, frames int) (*sim.Checker, error) {
	t.Helper()
	if _, err := exec.LookPath("gst-launch-1.0"); err != nil {
		t.Fatal("gst-launch-1.0 is missing: run `make test` (scripts/deps.sh installs GStreamer)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pipeline := fmt.Sprintf("rtspsrc location=%s protocols=tcp latency=0 name=src "+
		"src. ! queue ! rtph264depay ! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! "+
		"identity eos-after=%d ! fdsink fd=1 "+
		"src. ! queue ! rtppcmudepay ! fakesink", url, frames)
	var out, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "gst-launch-1.0", append([]string{"-q", "-e"}, strings.Fields(pipeline)...)...)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("gst-launch: %w: %s", err, stderr.String())
	}
	chk := sim.NewChecker(sim.StaticKeys(stampSecret))
	if err := chk.AnnexB(out.Bytes()); err != nil {
		return nil, fmt.Errorf("gst-launch output (%d bytes): %w; stderr %s", out.Len(), err, stderr.String())
	}
	return chk, nil
}

// TestGStreamerPlaysRTSPToken: GStreamer plays a camera with audio from
// the RTSP URL of a stream token. The token is in the URL's query, so the
// DESCRIBE's Content-Base must be one that RFC 3986 resolution of
// "trackID=N" keeps the camera in (rtsp://host/{id}/), and the SETUPs that
// resolution yields, which carry no token, are the connection's.
func TestGStreamerPlaysRTSPToken(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	cam.Audio = true
	a.run(t, cam)
	pw := a.addUser(t, "olga")
	claimFor(t, a, cam, "olga")
	m := a.mintWith(t, cam.ID, map[string]any{"audience": "rtsp"}, basicAuth("olga", pw))
	chk, err := gstStamps(t, m.URLs["rtsp"], 20)
	if err != nil {
		t.Fatal(err)
	}
	if err := chk.Only(cam.ID); err != nil {
		t.Fatalf("stamps: %v", err)
	}
	t.Logf("GStreamer read %v", chk.Counts())
}
