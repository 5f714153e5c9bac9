package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"time"

	"vigil/internal/sim"
)

// httpJoin is one HTTP viewer's start, timed from before its first request
// (on a fresh client, so including the TCP connection).
type httpJoin struct {
	ttff     time.Duration // until the end of the first media holding a keyframe
	requests int           // HTTP requests made until then
	age      time.Duration // that keyframe's age on arrival: arrival − its stamp
	firstKey bool          // the first sample received was an IDR
	err      error
}

// httpTTFFResult is the HTTP time-to-first-frame scenario.
type httpTTFFResult struct {
	mp4    []httpJoin // GET live.mp4
	llWarm []httpJoin // LL-HLS, the camera's muxer already running
	llCold []httpJoin // LL-HLS, each the first viewer of its camera
}

// runHTTPTTFF publishes the 1080p clip (2 s GOP) from opts.coldCameras
// cameras and joins the first one over progressive fMP4 and LL-HLS,
// opts.httpJoins times each, one at a time after a random delay within one GOP.
// Every camera's first LL-HLS join is a cold one: it starts the muxer.
func (b *bench) runHTTPTTFF(ctx context.Context) (httpTTFFResult, error) {
	var res httpTTFFResult
	v, err := b.startVigil(ctx, "httpttff")
	if err != nil {
		return res, err
	}
	defer v.stop()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	devs := b.devs[:b.opts.coldCameras]
	for _, d := range devs {
		go b.camera(v, d, b.big).Run(cctx)
	}
	if err := waitLive(ctx, v.readURL(devs[0])); err != nil {
		return res, err
	}
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
	for range b.opts.httpJoins {
		if !join(&res.mp4, devs[0], mp4Join) {
			return res, ctx.Err()
		}
	}
	for _, d := range devs {
		if !join(&res.llCold, d, llJoin) {
			return res, ctx.Err()
		}
	}
	for range b.opts.httpJoins {
		if !join(&res.llWarm, devs[0], llJoin) {
			return res, ctx.Err()
		}
	}
	return res, nil
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
	j := httpJoin{requests: 1}
	for n := 0; ; n++ {
		frag, err := readFragment(res.Body)
		if err != nil {
			return httpJoin{err: fmt.Errorf("live.mp4: %w", err)}
		}
		at := time.Now()
		samples, err := videoSamples(frag)
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
	mvURL := v.apiURL(d, "hls/index.m3u8?variant=ll")
	body, _, err := c.get(ctx, mvURL)
	if err != nil {
		return httpJoin{err: err}
	}
	uri, err := firstVariant(body)
	if err != nil {
		return httpJoin{err: err}
	}
	mURL, err := resolve(mvURL, uri)
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
	var data []byte
	for _, ref := range []string{pl.Map.URI, partURI} {
		u, err := resolve(mURL, ref)
		if err == nil {
			data, _, err = c.get(ctx, u)
		}
		if err != nil {
			return httpJoin{err: err}
		}
	}
	at := time.Now()
	samples, err := videoSamples(data)
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
