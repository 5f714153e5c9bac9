package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"slices"

	"golang.org/x/sync/errgroup"
)

// stillsResult is the stills scenario.
type stillsResult struct {
	load  stillLoad
	fresh freshStills
}

// runStills measures cached stills under load on the 1080p camera (2 s
// GOP), then fresh keyframe stills on a camera with a 1 s GOP, each
// requested the moment a new keyframe reaches an RTSP viewer.
func (b *bench) runStills(ctx context.Context) (stillsResult, error) {
	var res stillsResult
	v, err := b.startVigil(ctx, "stills")
	if err != nil {
		return res, err
	}
	defer v.stop()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d, fd := b.devs[0], b.devs[1]
	go b.camera(v, d, b.big).Run(cctx)
	go b.camera(v, fd, b.gop1s).Run(cctx)
	if err := waitLive(ctx, v.readURL(d)); err != nil {
		return res, err
	}
	log.Printf("  cached: %.0f req/s for %s", b.opts.stillRate, b.opts.stillWindow)
	if res.load, err = b.stillLoad(ctx, v, d); err != nil {
		return res, err
	}
	log.Printf("  %s", res.load.summary())
	log.Printf("  fresh: %d keyframes", b.opts.freshStills)
	res.fresh, err = freshRun(ctx, v, fd, b.opts.freshStills)
	return res, err
}

// stillLoad runs the cached-still load and samples Vigil's CPU over it.
func (b *bench) stillLoad(ctx context.Context, v *vigil, d device) (stillLoad, error) {
	c := v.webClient(stillWorkers)
	defer c.close()
	url := v.apiURL(d, "still.jpg")
	primed, err := primeStills(ctx, c, url)
	if err != nil {
		return stillLoad{}, err
	}
	p0, err := sampleProc(v.pid)
	if err != nil {
		return stillLoad{}, err
	}
	b0, _ := sampleProc(os.Getpid())
	l := loadStills(ctx, c, url, primed, b.opts.stillRate, b.opts.stillWindow)
	p1, err := sampleProc(v.pid)
	if err != nil {
		return stillLoad{}, err
	}
	b1, _ := sampleProc(os.Getpid())
	l.vigil, l.bench = usageBetween(p0, p1), usageBetween(b0, b1)
	return l, ctx.Err()
}

// primeStills fills Vigil's cache and opens the client's connections with
// stillWorkers concurrent requests; it returns the still's capture time.
func primeStills(ctx context.Context, c *webClient, url string) (string, error) {
	var g errgroup.Group
	captured := make([]string, stillWorkers)
	for i := range stillWorkers {
		g.Go(func() error {
			_, h, err := c.get(ctx, url)
			if err == nil {
				captured[i] = h.Get("X-Still-Captured")
			}
			return err
		})
	}
	err := g.Wait()
	return slices.Max(captured), err
}

// summary is a one-line progress note.
func (l stillLoad) summary() string {
	return fmt.Sprintf("asked %.0f/s achieved %.0f/s errors=%d p50=%s p99=%s hits p99=%s waited=%d vigil_cpu=%.0f%%",
		l.rate, l.achieved(), l.errors, ms(percentile(l.all, 50)), ms(percentile(l.all, 99)),
		ms(percentile(l.hits, 99)), len(l.waited), l.vigil.cpuPct)
}
