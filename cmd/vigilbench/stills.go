package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log"
	"strings"
	"time"

	"vigil/internal/vigilproc"
)

// Targets of the stills.
const (
	stillCachedTarget = 5 * time.Millisecond
	stillFreshTarget  = 250 * time.Millisecond
)

// stills measures cached stills under load on the 1080p camera (2 s GOP),
// then stills of fresh keyframes on a camera with a 1 s GOP, each
// requested the moment a new keyframe reaches an RTSP viewer.
type stills struct {
	n     int // fresh keyframe stills measured
	ran   bool
	load  stillLoad
	fresh freshStills
}

func (s *stills) flags(fs *flag.FlagSet) {
	fs.IntVar(&s.n, "fresh", 0, "fresh keyframe stills measured (default 30; quick 8)")
}

func (s *stills) setDefaults(quick bool) error {
	s.n = cmp.Or(s.n, quickOr(quick, 8, 30))
	return nil
}

// cameras: the 1080p camera, and the second for fresh stills.
func (s *stills) cameras() int { return 2 }

func (s *stills) run(ctx context.Context, b *bench) error {
	log.Printf("  encoding a 1080p clip with a 1 s GOP")
	gop1s, err := gop1sClip(ctx, b.tmp)
	if err != nil {
		return err
	}
	v, d, stop, err := b.live(ctx, "stills", b.big, vigilproc.Config{})
	if err != nil {
		return err
	}
	defer stop()
	s.ran = true
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fd := b.devs[1]
	go b.camera(v, fd, gop1s).Run(cctx)
	log.Printf("  cached: %.0f req/s for %s", b.opts.stillRate, b.opts.stillWindow)
	if s.load, err = measureStills(ctx, v, v.apiURL(d, "still.jpg"), b.opts.stillRate, b.opts.stillWindow, b.profilePath("stills")); err != nil {
		return err
	}
	log.Printf("  %s", s.load.summary())
	log.Printf("  fresh: %d keyframes", s.n)
	s.fresh, err = freshRun(ctx, v, fd, s.n)
	return err
}

func (s *stills) section(b *strings.Builder, r *report) {
	if !s.ran {
		return
	}
	l := s.load
	b.WriteString("## Stills\n\n")
	fmt.Fprintf(b, "**Cached.** `GET /api/cameras/{id}/still.jpg` (full size, %.0f KiB JPEG) of the 1080p camera (GOP %s) "+
		"at %.0f requests/s for %s, open loop: a pacer hands request *i* out at t₀ + *i*/rate to %d client goroutines "+
		"sharing %d keep-alive connections (HTTP Basic auth on every request), and latency runs from each request's due time to "+
		"the end of its body, so time spent waiting for a free client counts. A request is a cache hit if an earlier request had "+
		"already received the same still (same `X-Still-Captured`); the others arrived after a new keyframe and waited for its "+
		"decode (Vigil decodes a keyframe on the first request for it, not when it arrives). Vigil's CPU does not include the "+
		"ffmpeg processes it runs for the decodes.\n\n",
		l.kib(), gopDuration(r.big), l.rate, l.window, stillWorkers, stillWorkers)
	b.WriteString("| asked req/s | achieved req/s | requests | errors | p50 | p95 | p99 | max | cache hits | hits p50 | hits p95 | hits p99 | waited for a decode | waited p50 | waited max | Vigil CPU % | generator CPU % |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| %.0f | %.0f | %d | %d | %s | %s | %s | %s | %d | %s | %s | %s | %d | %s | %s | %.0f | %.0f |\n\n",
		l.rate, l.achieved(), l.sent, l.errors, ms(percentile(l.all, 50)), ms(percentile(l.all, 95)),
		ms(percentile(l.all, 99)), ms(percentile(l.all, 100)), len(l.hits), ms(percentile(l.hits, 50)),
		ms(percentile(l.hits, 95)), ms(percentile(l.hits, 99)), len(l.waited), ms(percentile(l.waited, 50)),
		ms(percentile(l.waited, 100)), l.vigil.cpuPct, l.bench.cpuPct)
	if l.firstErr != "" {
		fmt.Fprintf(b, "First error: `%s`\n\n", truncate(l.firstErr, 200))
	}
	f := s.fresh.stats()
	fmt.Fprintf(b, "**Fresh keyframe.** A second camera publishes the 1080p clip re-encoded with a 1 s GOP. An RTSP viewer of it "+
		"watches for IDR access units; the moment one is complete, one `GET still.jpg` (full size, warm keep-alive "+
		"connection, nobody else asking) is timed to the end of its body. Vigil has not decoded that keyframe yet, so this is "+
		"the cost of a still of a new keyframe: ffmpeg started, fed the IDR, JPEG back. Stale counts responses whose "+
		"`X-Still-Captured` was not newer than the previous still's (Vigil served the older keyframe).\n\n")
	b.WriteString("| stills | failed | stale | p50 | p95 | max |\n|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| %d | %d | %d | %s | %s | %s |\n\n", len(s.fresh), f.failed, f.stale, ms(f.p50), ms(f.p95), ms(f.max))
}

func (s *stills) targets(b *strings.Builder, _ *report) {
	if !s.ran {
		return
	}
	l := s.load
	ok := l.errors == 0 && l.achieved() >= 0.95*l.rate && len(l.hits) > 0
	fmt.Fprintf(b, "- **Cached still p99 < 5 ms at 1,000 req/s**: %s — cache hits p99 %s (p50 %s) at %.0f req/s achieved of %.0f asked, %d errors. "+
		"Over every request, p99 is %s (%s): %d of %d requests came after a new keyframe and waited for its decode, up to %s.\n",
		verdict(ok && percentile(l.hits, 99) < stillCachedTarget), ms(percentile(l.hits, 99)), ms(percentile(l.hits, 50)),
		l.achieved(), l.rate, l.errors, ms(percentile(l.all, 99)),
		verdict(ok && percentile(l.all, 99) < stillCachedTarget), len(l.waited), len(l.all), ms(percentile(l.waited, 100)))
	f := s.fresh.stats()
	fmt.Fprintf(b, "- **Fresh keyframe still p95 < 250 ms**: %s — p50 %s, p95 %s, %d stale, %d failed of %d (go2rtc serves stills 1–2 s old, Scrypted up to 20 s).\n",
		verdict(len(s.fresh) > 0 && f.failed == 0 && f.stale == 0 && f.p95 < stillFreshTarget), ms(f.p50), ms(f.p95), f.stale, f.failed, len(s.fresh))
}

// freshStill is one still requested the moment a new keyframe reached an
// RTSP viewer of the camera.
type freshStill struct {
	latency  time.Duration // request start to the end of the JPEG
	stale    bool          // Vigil served the previous keyframe's still
	captured time.Time     // X-Still-Captured
	err      error
}

type freshStills []freshStill

// freshRun requests n fresh keyframe stills of d.
func freshRun(ctx context.Context, v *vigil, d device, n int) (freshStills, error) {
	keys, stop, err := watchKeyframes(v.readURL(d))
	if err != nil {
		return nil, err
	}
	defer stop()
	c := v.webClient(1)
	defer c.close()
	url := v.apiURL(d, "still.jpg")
	var out freshStills
	var last time.Time
	// The first keyframe is the GOP cache's replay: its still is not new.
	for len(out) < n+1 {
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(5 * time.Second):
			return out, fmt.Errorf("no keyframe in 5 s")
		case <-keys:
		}
		s := fetchFresh(ctx, c, url, last)
		if s.err != nil {
			log.Printf("  fresh still failed: %v", s.err)
		} else {
			last = s.captured
		}
		out = append(out, s)
	}
	return out[1:], nil
}

// fetchFresh gets one still and compares its capture time with the last.
func fetchFresh(ctx context.Context, c *webClient, url string, last time.Time) freshStill {
	t0 := time.Now()
	_, h, err := c.get(ctx, url)
	s := freshStill{latency: time.Since(t0), err: err}
	if err != nil {
		return s
	}
	if s.captured, err = time.Parse(time.RFC3339Nano, h.Get("X-Still-Captured")); err != nil {
		s.err = fmt.Errorf("X-Still-Captured: %w", err)
	}
	s.stale = !s.captured.After(last)
	return s
}

// freshStats summarises the fresh stills.
type freshStats struct {
	p50, p95, max time.Duration
	failed, stale int
}

func (fs freshStills) stats() freshStats {
	var s freshStats
	var lat []time.Duration
	for _, f := range fs {
		if f.err != nil {
			s.failed++
			continue
		}
		lat = append(lat, f.latency)
		s.stale += b2i(f.stale)
	}
	s.p50, s.p95, s.max = percentile(lat, 50), percentile(lat, 95), percentile(lat, 100)
	return s
}
