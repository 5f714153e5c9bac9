package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"strings"
	"time"

	"vigil/internal/fmp4read"
	"vigil/internal/sim"
	"vigil/internal/vigilproc"
)

// Targets of the HTTP joins.
const (
	mp4TTFFTarget = 100 * time.Millisecond
	llTTFFTarget  = 500 * time.Millisecond
)

// httpTTFF joins 1080p cameras over progressive fMP4 and LL-HLS, one
// viewer at a time.
type httpTTFF struct {
	joins  int        // per output, of the first camera
	cold   int        // cameras; each gets one cold LL-HLS join
	mp4    []httpJoin // GET live.mp4
	llWarm []httpJoin // LL-HLS, the camera's muxer already running
	llCold []httpJoin // LL-HLS, each the first viewer of its camera
	ran    bool
}

// httpJoin is one HTTP viewer's start, timed from before its first request
// (on a fresh client, so including the TCP connection).
type httpJoin struct {
	ttff     time.Duration // until the end of the first media holding a keyframe
	requests int           // HTTP requests made until then
	age      time.Duration // that keyframe's age on arrival: arrival − its stamp
	firstKey bool          // the first sample received was an IDR
	err      error
}

func (h *httpTTFF) flags(fs *flag.FlagSet) {
	fs.IntVar(&h.joins, "http-joins", 0, "joins measured per HTTP output (default 30; quick 10)")
	fs.IntVar(&h.cold, "cold", 0, "cameras of the HTTP joins, each joined cold once over LL-HLS (default 10; quick 3)")
}

func (h *httpTTFF) setDefaults(quick bool) error {
	h.joins = cmp.Or(h.joins, quickOr(quick, 10, 30))
	h.cold = cmp.Or(h.cold, quickOr(quick, 3, 10))
	return nil
}

func (h *httpTTFF) cameras() int { return h.cold }

// run publishes the 1080p clip (2 s GOP) from h.cold cameras and joins
// the first one over progressive fMP4 and LL-HLS, h.joins times each, one
// at a time after a random delay within one GOP. Every camera's first
// LL-HLS join is a cold one: it starts the muxer.
func (h *httpTTFF) run(ctx context.Context, b *bench) error {
	log.Printf("  %d joins per output, %d cameras", h.joins, h.cold)
	v, err := b.startVigil(ctx, "httpttff", vigilproc.Config{})
	if err != nil {
		return err
	}
	defer v.Stop()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	devs := b.devs[:h.cold]
	for _, d := range devs {
		go b.camera(v, d, b.big).Run(cctx)
	}
	if err := waitLive(ctx, v.readURL(devs[0])); err != nil {
		return err
	}
	h.ran = true
	keys := sim.StaticKeys(b.secret)
	join := func(list *[]httpJoin, d device, f func(context.Context, *vigil, device, sim.Keys) httpJoin) bool {
		if !sleep(ctx, rand.N(2*time.Second)) {
			return false
		}
		j := f(ctx, v, d, keys)
		if j.err != nil {
			log.Printf("  join failed: %v", j.err)
		}
		*list = append(*list, j)
		return true
	}
	for range h.joins {
		if !join(&h.mp4, devs[0], mp4Join) {
			return ctx.Err()
		}
	}
	for _, d := range devs {
		if !join(&h.llCold, d, llJoin) {
			return ctx.Err()
		}
	}
	for range h.joins {
		if !join(&h.llWarm, devs[0], llJoin) {
			return ctx.Err()
		}
	}
	return nil
}

// httpJoinLimit bounds one join.
const httpJoinLimit = 10 * time.Second

// mp4Join reads live.mp4 until the first complete fragment with an IDR.
func mp4Join(ctx context.Context, v *vigil, d device, keys sim.Keys) httpJoin {
	ctx, cancel := context.WithTimeout(ctx, httpJoinLimit)
	defer cancel()
	c := v.webClient(1)
	defer c.close()
	t0 := time.Now()
	res, err := c.open(ctx, v.apiURL(d, "live.mp4"))
	if err != nil {
		return httpJoin{err: err}
	}
	defer res.Body.Close()
	in, err := fmp4read.ReadInit(res.Body)
	if err != nil {
		return httpJoin{err: fmt.Errorf("live.mp4: %w", err)}
	}
	j := httpJoin{requests: 1}
	for n := 0; ; n++ {
		frag, err := fmp4read.ReadFragment(res.Body)
		if err != nil {
			return httpJoin{err: fmt.Errorf("live.mp4: %w", err)}
		}
		at := time.Now()
		samples, err := videoSamples(in, frag)
		if err != nil {
			return httpJoin{err: err}
		}
		if len(samples) == 0 {
			continue
		}
		if n == 0 {
			j.firstKey = samples[0].idr
		}
		if samples[0].idr {
			j.ttff, j.age = at.Sub(t0), stampAge(samples[0], keys, at)
			return j
		}
	}
}

var errNoDecodable = errors.New("media playlist lists nothing to start from")

// llJoin plays LL-HLS like a player that wants a picture soonest: the
// multivariant playlist, its first stream's media playlist, the init
// section and the newest independent part.
func llJoin(ctx context.Context, v *vigil, d device, keys sim.Keys) httpJoin {
	ctx, cancel := context.WithTimeout(ctx, httpJoinLimit)
	defer cancel()
	c := v.webClient(1)
	defer c.close()
	t0 := time.Now()
	mURL, err := firstMedia(ctx, c, v.apiURL(d, "hls/index.m3u8?variant=ll"))
	if err != nil {
		return httpJoin{err: err}
	}
	pl, err := fetchMedia(ctx, c, mURL)
	if err != nil {
		return httpJoin{err: err}
	}
	partURI, ok := newestDecodable(pl)
	if !ok || pl.Map == nil {
		return httpJoin{err: errNoDecodable}
	}
	in, err := fetchInit(ctx, c, mURL, pl)
	if err != nil {
		return httpJoin{err: err}
	}
	u, err := resolve(mURL, partURI)
	if err != nil {
		return httpJoin{err: err}
	}
	data, _, err := c.get(ctx, u)
	if err != nil {
		return httpJoin{err: err}
	}
	at := time.Now()
	samples, err := videoSamples(in, data)
	if err != nil || len(samples) == 0 {
		return httpJoin{err: fmt.Errorf("part %s: %d samples: %v", partURI, len(samples), err)}
	}
	return httpJoin{ttff: at.Sub(t0), requests: 4, firstKey: samples[0].idr, age: stampAge(samples[0], keys, at)}
}

// stampAge is how long before at the sample was captured, or -1 if it
// carries no stamp.
func stampAge(s videoSample, keys sim.Keys, at time.Time) time.Duration {
	st, ok := stampOf(s.nalus, keys)
	if !ok {
		return -1
	}
	return at.Sub(st.Time)
}

func (h *httpTTFF) section(b *strings.Builder, r *report) {
	if !h.ran {
		return
	}
	b.WriteString("## Time to first decodable frame over HTTP\n\n")
	fmt.Fprintf(b, "The 1080p camera (GOP %s), joined one viewer at a time, each after a random 0–2 s delay, each on a fresh "+
		"HTTP client (so the TCP connection is included). **Progressive fMP4**: from before `GET live.mp4` to the end of the "+
		"first complete moof+mdat whose first sample is an IDR. **LL-HLS**: like a player that wants a picture soonest, from "+
		"before the multivariant playlist (`hls/index.m3u8?variant=ll`) through the first stream's media playlist, its "+
		"EXT-X-MAP init section and the newest part marked INDEPENDENT (else the newest segment), all fetched one after "+
		"another, to the end of that part. *Warm* joins find the camera's muxer running; *cold* joins are each the first "+
		"HLS viewer of one of %d cameras, so their multivariant request starts the muxer. Keyframe age is the first "+
		"picture's age on arrival (arrival − the camera's capture stamp): how far behind live playback starts.\n\n",
		gopDuration(r.big), len(h.llCold))
	b.WriteString("| output | joins | failed | first sample not an IDR | TTFF p50 | p95 | max | requests/join | keyframe age p50 | age max |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range []struct {
		name  string
		joins []httpJoin
	}{{"progressive fMP4", h.mp4}, {"LL-HLS, warm", h.llWarm}, {"LL-HLS, cold", h.llCold}} {
		s := joinStats(row.joins)
		fmt.Fprintf(b, "| %s | %d | %d | %d | %s | %s | %s | %d | %s | %s |\n", row.name, len(row.joins), s.failed,
			s.notKey, ms(s.p50), ms(s.p95), ms(s.max), s.requests, ms(s.ageP50), ms(s.ageMax))
	}
	b.WriteString("\n")
}

func (h *httpTTFF) targets(b *strings.Builder, _ *report) {
	if !h.ran {
		return
	}
	m, w, c := joinStats(h.mp4), joinStats(h.llWarm), joinStats(h.llCold)
	fmt.Fprintf(b, "- **fMP4 TTFF p95 < 100 ms**: %s — p50 %s, p95 %s.\n", joinVerdict(h.mp4, m, mp4TTFFTarget), ms(m.p50), ms(m.p95))
	fmt.Fprintf(b, "- **LL-HLS TTFF p95 < 500 ms**: warm %s — p50 %s, p95 %s; cold (first viewer) %s — p50 %s, p95 %s.\n",
		joinVerdict(h.llWarm, w, llTTFFTarget), ms(w.p50), ms(w.p95), joinVerdict(h.llCold, c, llTTFFTarget), ms(c.p50), ms(c.p95))
}

// httpJoinStats summarises HTTP joins.
type httpJoinStats struct {
	p50, p95, max, ageP50, ageMax time.Duration
	failed, notKey, requests      int
}

func joinStats(joins []httpJoin) httpJoinStats {
	var s httpJoinStats
	var t, ages []time.Duration
	for _, j := range joins {
		if j.err != nil {
			s.failed++
			continue
		}
		t = append(t, j.ttff)
		if j.age >= 0 {
			ages = append(ages, j.age)
		}
		s.notKey += b2i(!j.firstKey)
		s.requests = max(s.requests, j.requests)
	}
	s.p50, s.p95, s.max = percentile(t, 50), percentile(t, 95), percentile(t, 100)
	s.ageP50, s.ageMax = percentile(ages, 50), percentile(ages, 100)
	return s
}

func joinVerdict(joins []httpJoin, s httpJoinStats, target time.Duration) string {
	return verdict(len(joins) > 0 && s.failed == 0 && s.notKey == 0 && s.p95 < target)
}
