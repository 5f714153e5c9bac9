package main

import (
	"context"
	"fmt"
	"log"
	"os/exec"
	"path/filepath"
	"strconv"

	"vigil/internal/sim"
)

// clip is a looped test clip and what it costs on the wire.
type clip struct {
	name  string
	units []sim.ClipUnit
	fps   int
	mbps  float64 // H.264 payload bit rate
	gop   int     // frames between the first two keyframes
}

func loadClip(path string, fps int) (clip, error) {
	units, err := sim.LoadClip(path)
	if err != nil {
		return clip{}, err
	}
	c := clip{name: filepath.Base(path), units: units, fps: fps}
	bytes := 0
	for i, u := range units {
		for _, n := range u.NALUs {
			bytes += len(n)
		}
		if u.Key && i > 0 && c.gop == 0 {
			c.gop = i
		}
	}
	c.mbps = float64(bytes) * 8 * float64(fps) / float64(len(units)) / 1e6
	return c, nil
}

// smallClip loads the committed small clip if its bit rate is near
// 0.5 Mbit/s, and otherwise encodes a 640×360 0.5 Mbit/s one into dir with
// ffmpeg, with the settings of scripts/make-clips.sh.
func smallClip(ctx context.Context, committed, dir string) (clip, error) {
	c, err := loadClip(committed, 25)
	if err == nil && c.mbps > 0.35 && c.mbps < 0.7 {
		return c, nil
	}
	if err == nil {
		log.Printf("%s is %.2f Mbit/s; encoding a 640x360 0.5 Mbit/s clip", c.name, c.mbps)
	}
	out := filepath.Join(dir, "bench-640x360-0.5mbps.h264")
	if err := encodeClip(ctx, out, "640x360", 25, 50, 10, "500k"); err != nil {
		return clip{}, err
	}
	return loadClip(out, 25)
}

// gop1sClip encodes the 1080p ~4 Mbit/s clip again with a keyframe every
// second, for fresh keyframe stills.
func gop1sClip(ctx context.Context, dir string) (clip, error) {
	out := filepath.Join(dir, "bench-1920x1080-4mbps-gop1s.h264")
	if err := encodeClip(ctx, out, "1920x1080", 25, 25, 6, "4M"); err != nil {
		return clip{}, err
	}
	return loadClip(out, 25)
}

// encodeClip encodes secs of ffmpeg's testsrc2 with a keyframe every gop frames.
func encodeClip(ctx context.Context, out, size string, fps, gopFrames, secs int, rate string) error {
	gop := strconv.Itoa(gopFrames)
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d:duration=%d", size, fps, secs),
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
		"-g", gop, "-keyint_min", gop, "-sc_threshold", "0", "-bf", "0",
		"-x264-params", "aud=0:repeat-headers=1",
		"-b:v", rate, "-maxrate", rate, "-bufsize", rate,
		"-bsf:v", "h264_mp4toannexb", "-f", "h264", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg: %w: %s", err, b)
	}
	return nil
}
