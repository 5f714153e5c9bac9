package main

import (
	"context"
	"log"
	"math/rand/v2"
	"time"

	"vigil/internal/sim"
)

// cameraRow is one step of the many-cameras scenario: n cameras of the
// small clip, one reader each.
type cameraRow struct {
	measurement
	cameras    int
	idealMbps  float64 // camera rate × cameras
	reconnects uint64  // camera sessions that failed and were retried, this step
}

// runCameras adds cameras step by step, each with one reader, keeping the
// earlier ones, and measures a window at each step. Camera starts are spread
// over one GOP so that their keyframes do not all coincide.
func (b *bench) runCameras(ctx context.Context) ([]cameraRow, error) {
	v, err := b.startVigil(ctx, "cameras")
	if err != nil {
		return nil, err
	}
	defer v.stop()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	devs := b.devs[1:]
	var cams []*sim.Camera
	var rs []*reader
	defer func() { closeAll(rs) }()
	var rows []cameraRow
	for _, n := range b.opts.cameras {
		since, reconnects0 := time.Now(), reconnects(cams)
		cams = append(cams, b.startCameras(cctx, v, devs[len(cams):n])...)
		var urls []string
		for _, d := range devs[len(rs):n] {
			urls = append(urls, v.readURL(d))
		}
		more, err := dialAll(ctx, urls)
		if err != nil {
			return rows, err
		}
		rs = append(rs, more...)
		missing := settle(ctx, rs, since, b.opts.warmup)
		m, err := measure(ctx, v, rs, b.opts.window)
		if err != nil {
			return rows, err
		}
		m.missing = missing
		rows = append(rows, cameraRow{measurement: m, cameras: n, idealMbps: b.small.mbps * float64(n),
			reconnects: reconnects(cams) - reconnects0})
		log.Printf("  cameras=%d %s", n, m.summary())
	}
	return rows, nil
}

// startCameras runs a camera per device, each after a random delay within
// one GOP (2 s).
func (b *bench) startCameras(ctx context.Context, v *vigil, devs []device) []*sim.Camera {
	var cams []*sim.Camera
	for _, d := range devs {
		cam := b.camera(v, d, b.small)
		cams = append(cams, cam)
		delay := rand.N(2 * time.Second)
		go func() {
			if sleep(ctx, delay) {
				cam.Run(ctx)
			}
		}()
	}
	return cams
}

func reconnects(cams []*sim.Camera) uint64 {
	var n uint64
	for _, c := range cams {
		n += c.Reconnects()
	}
	return n
}
