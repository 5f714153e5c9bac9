package main

import (
	"context"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"vigil/internal/sim"
)

// g2gResult is the LL-HLS glass-to-glass scenario: what a player-like loop
// received, each frame timed from its capture (the camera's stamp) to the
// end of the part that carried it.
type g2gResult struct {
	latencies  []time.Duration // per frame
	frames     int
	parts      int
	reloads    int // blocking playlist reloads
	gaps       int // frames missing between stamps (seq jumps)
	unstamped  int
	elapsed    time.Duration
	partTarget time.Duration // EXT-X-PART-INF:PART-TARGET
}

// runLLHLS publishes the 1080p clip and plays its LL-HLS stream for
// opts.g2g.
func (b *bench) runLLHLS(ctx context.Context) (g2gResult, error) {
	v, d, stop, err := b.liveBig(ctx, "llhls")
	if err != nil {
		return g2gResult{}, err
	}
	defer stop()
	c := v.webClient(2)
	defer c.close()
	mvURL := v.apiURL(d, "hls/index.m3u8?variant=ll")
	body, _, err := c.get(ctx, mvURL)
	if err != nil {
		return g2gResult{}, err
	}
	uri, err := firstVariant(body)
	if err != nil {
		return g2gResult{}, err
	}
	mURL, err := resolve(mvURL, uri)
	if err != nil {
		return g2gResult{}, err
	}
	p := &player{c: c, url: mURL, keys: sim.StaticKeys(b.secret)}
	return p.play(ctx, b.opts.g2g)
}

// player follows an LL-HLS media playlist with blocking reloads and loads
// every new part as soon as the playlist announces it, as hls.js does in
// low-latency mode (without its hold-back: it loads the newest part).
type player struct {
	c    *webClient
	url  string
	keys sim.Keys
	res  g2gResult
	seq  uint64 // last stamp seq seen
}

func (p *player) play(ctx context.Context, d time.Duration) (g2gResult, error) {
	pl, err := fetchMedia(ctx, p.c, p.url)
	if err != nil {
		return p.res, err
	}
	if pl.PartInf != nil {
		p.res.partTarget = pl.PartInf.PartTarget
	}
	seen := partSet(pl) // the player starts at the next part
	start := time.Now()
	for time.Since(start) < d {
		msn, part := nextPart(pl)
		u, err := blockingURL(p.url, msn, part)
		if err == nil {
			pl, err = fetchMedia(ctx, p.c, u)
		}
		if err != nil {
			return p.res, err
		}
		p.res.reloads++
		for _, part := range allParts(pl) {
			if seen[part.URI] {
				continue
			}
			if err := p.load(ctx, part.URI); err != nil {
				return p.res, err
			}
		}
		seen = partSet(pl)
	}
	p.res.elapsed = time.Since(start)
	return p.res, nil
}

// load fetches one part and times each of its frames.
func (p *player) load(ctx context.Context, ref string) error {
	u, err := resolve(p.url, ref)
	if err != nil {
		return err
	}
	data, _, err := p.c.get(ctx, u)
	if err != nil {
		return err
	}
	at := time.Now()
	samples, err := videoSamples(data)
	if err != nil {
		return err
	}
	p.res.parts++
	for _, s := range samples {
		p.res.frames++
		st, ok := stampOf(s.nalus, p.keys)
		if !ok {
			p.res.unstamped++
			continue
		}
		if p.seq != 0 && st.Seq > p.seq+1 {
			p.res.gaps += int(st.Seq - p.seq - 1)
		}
		p.seq = max(p.seq, st.Seq)
		p.res.latencies = append(p.res.latencies, at.Sub(st.Time))
	}
	return nil
}

// partSet is the set of a playlist's part URIs.
func partSet(pl *playlist.Media) map[string]bool {
	m := map[string]bool{}
	for _, p := range allParts(pl) {
		m[p.URI] = true
	}
	return m
}
