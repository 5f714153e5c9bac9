package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"vigil/internal/fmp4read"
	"vigil/internal/sim"
	"vigil/internal/vigilproc"
)

// g2gTarget is the LL-HLS glass-to-glass target.
const g2gTarget = 1500 * time.Millisecond

// llhls plays the 1080p camera's LL-HLS stream like a player and times
// each frame from its capture (the camera's stamp) to the end of the part
// that carried it.
type llhls struct {
	oneCamera
	playFor    time.Duration
	ran        bool
	latencies  []time.Duration // per frame
	frames     int
	parts      int
	reloads    int // blocking playlist reloads
	gaps       int // frames missing between stamps (seq jumps)
	unstamped  int
	elapsed    time.Duration
	partTarget time.Duration // EXT-X-PART-INF:PART-TARGET
}

func (l *llhls) flags(fs *flag.FlagSet) {
	fs.DurationVar(&l.playFor, "g2g", 0, "LL-HLS glass-to-glass playing time (default 20s; quick 8s)")
}

func (l *llhls) setDefaults(quick bool) error {
	l.playFor = cmp.Or(l.playFor, quickOr(quick, 8*time.Second, 20*time.Second))
	return nil
}

// run publishes the 1080p clip and plays its LL-HLS stream for l.playFor.
func (l *llhls) run(ctx context.Context, b *bench) error {
	v, d, stop, err := b.live(ctx, "llhls", b.big, vigilproc.Config{})
	if err != nil {
		return err
	}
	defer stop()
	l.ran = true
	c := v.webClient(2)
	defer c.close()
	mURL, err := firstMedia(ctx, c, v.apiURL(d, "hls/index.m3u8?variant=ll"))
	if err != nil {
		return err
	}
	p := &player{c: c, url: mURL, keys: sim.StaticKeys(b.secret), res: l}
	return p.play(ctx, l.playFor)
}

// player follows an LL-HLS media playlist with blocking reloads and loads
// every new part as soon as the playlist announces it, as hls.js does in
// low-latency mode (without its hold-back: it loads the newest part).
type player struct {
	c    *webClient
	url  string
	keys sim.Keys
	init fmp4read.Init
	res  *llhls
	seq  uint64 // last stamp seq seen
}

func (p *player) play(ctx context.Context, d time.Duration) error {
	pl, err := fetchMedia(ctx, p.c, p.url)
	if err != nil {
		return err
	}
	if pl.PartInf != nil {
		p.res.partTarget = pl.PartInf.PartTarget
	}
	if p.init, err = fetchInit(ctx, p.c, p.url, pl); err != nil {
		return err
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
			return err
		}
		p.res.reloads++
		for _, part := range allParts(pl) {
			if seen[part.URI] {
				continue
			}
			if err := p.load(ctx, part.URI); err != nil {
				return err
			}
		}
		seen = partSet(pl)
	}
	p.res.elapsed = time.Since(start)
	return nil
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
	samples, err := videoSamples(p.init, data)
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

func (l *llhls) section(b *strings.Builder, _ *report) {
	if !l.ran {
		return
	}
	b.WriteString("## LL-HLS glass-to-glass latency\n\n")
	fmt.Fprintf(b, "A player-like loop on the 1080p camera's LL-HLS media playlist: each reload blocks "+
		"(`_HLS_msn`/`_HLS_part`) until the next part exists, then every part the playlist newly lists is fetched at once "+
		"over one keep-alive connection and demuxed (fMP4, AVCC NAL units). For every frame, latency = the end of its part's "+
		"body − the capture time in the camera's SEI stamp; camera and player share the clock. Parts hold several frames, so "+
		"a part's first frame waits for the rest: p50 is about half a part above the floor.\n\n")
	b.WriteString("| played | parts | frames | frames/s | missing frames | unstamped | reloads/s | part target | latency p50 | p95 | p99 | max |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	secs := l.elapsed.Seconds()
	fmt.Fprintf(b, "| %s | %d | %d | %s | %d | %d | %s | %s | %s | %s | %s | %s |\n\n",
		l.elapsed.Round(100*time.Millisecond), l.parts, l.frames, rate(l.frames, secs), l.gaps, l.unstamped,
		rate(l.reloads, secs), ms(l.partTarget), ms(percentile(l.latencies, 50)), ms(percentile(l.latencies, 95)),
		ms(percentile(l.latencies, 99)), ms(percentile(l.latencies, 100)))
}

func (l *llhls) targets(b *strings.Builder, _ *report) {
	if !l.ran {
		return
	}
	p95 := percentile(l.latencies, 95)
	fmt.Fprintf(b, "- **LL-HLS glass-to-glass p95 < 1.5 s**: %s — p50 %s, p95 %s over %d frames, %d missing.\n",
		verdict(len(l.latencies) > 0 && l.gaps == 0 && p95 < g2gTarget), ms(percentile(l.latencies, 50)), ms(p95), len(l.latencies), l.gaps)
}

func rate(n int, secs float64) string {
	if secs <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", float64(n)/secs)
}
