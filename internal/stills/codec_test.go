package stills

import (
	"bytes"
	"context"
	"image/png"
	"os/exec"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/sim"
)

// TestH265Keyframe decodes an H.265 keyframe made by libx265.
func TestH265Keyframe(t *testing.T) {
	e := newEnv(t)
	var pic bytes.Buffer
	if err := png.Encode(&pic, sim.DrawPicture(string(camA), picW, picH)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-hide_banner", "-v", "error",
		"-f", "png_pipe", "-i", "pipe:0", "-frames:v", "1", "-pix_fmt", "yuv420p",
		"-c:v", "libx265", "-x265-params", "log-level=error", "-f", "hevc", "pipe:1")
	cmd.Stdin = &pic
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("no libx265 encoder here: %v", err)
	}
	tracks := []*media.Track{{Kind: media.Video, Format: &format.H265{PayloadTyp: 96}}}
	pub, err := e.hub.Publish(camA, access.StreamMain, tracks)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Write(0, hub.UnitData{Key: true, Payload: sim.SplitAnnexB(out)}); err != nil {
		t.Fatal(err)
	}
	st, err := e.svc.Get(context.Background(), grant(camA), Request{Width: 160})
	if err != nil {
		t.Fatal(err)
	}
	checkPicture(t, st.JPEG, camA, 160, 120)
}

// TestKeyframeWithoutParameterSets: a keyframe that carries only its slice
// is decoded with the parameter sets the camera announced.
func TestKeyframeWithoutParameterSets(t *testing.T) {
	e := newEnv(t)
	g, err := sim.NewGenerator(picW, picH, 10, 10, sim.DrawPicture(string(camB), picW, picH))
	if err != nil {
		t.Fatal(err)
	}
	tracks := []*media.Track{{Kind: media.Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: g.SPS(), PPS: g.PPS()}}}
	pub, err := e.hub.Publish(camB, access.StreamMain, tracks)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	nalus, _ := g.Next()
	if err := pub.Write(0, hub.UnitData{Key: true, Payload: nalus[2:]}); err != nil {
		t.Fatal(err)
	}
	st, err := e.svc.Get(context.Background(), grant(camB), Request{})
	if err != nil {
		t.Fatal(err)
	}
	checkPicture(t, st.JPEG, camB, picW, picH)
}
