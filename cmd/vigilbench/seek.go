package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"vigil/internal/fmp4read"
	"vigil/internal/sim"
	"vigil/internal/vigilproc"
)

// seekTarget is issue 15's aim for a seek from local disk.
const seekTarget = 150 * time.Millisecond

// seek records the 1080p camera (sealed, on local disk) and requests its
// recordings from random points, as a player seeking in the timeline does.
type seek struct {
	record time.Duration // how much is recorded before the seeks
	seeks  int
	joins  []seekJoin
	ran    bool
}

// seekJoin is one seek: from before its request (a fresh client, so the
// TCP connection is included) to the end of the first complete fragment
// (moof+mdat) of the joined recordings, whose first sample is an IDR.
type seekJoin struct {
	ttff     time.Duration
	firstKey bool
	// before is how long before the asked point that first frame was
	// captured (the file starts at the keyframe at or before it).
	before time.Duration
	err    error
}

func (s *seek) flags(fs *flag.FlagSet) {
	fs.DurationVar(&s.record, "seek-record", 0, "recording made before the seeks (default 2m; quick 30s)")
	fs.IntVar(&s.seeks, "seeks", 0, "seeks measured (default 200; quick 40)")
}

func (s *seek) setDefaults(quick bool) error {
	s.record = cmp.Or(s.record, quickOr(quick, 30*time.Second, 2*time.Minute))
	s.seeks = cmp.Or(s.seeks, quickOr(quick, 40, 200))
	return nil
}

func (s *seek) cameras() int { return 1 }

// run records the 1080p camera in 10 s segments for s.record, then makes
// s.seeks requests of clip.mp4 from random points of it, one at a time.
func (s *seek) run(ctx context.Context, b *bench) error {
	log.Printf("  recording %v, then %d seeks", s.record, s.seeks)
	v, d, stop, err := b.live(ctx, "seek", b.big, vigilproc.Config{Env: []string{"VIGIL_RECORD=true", "VIGIL_RECORD_SEGMENT=10s"}})
	if err != nil {
		return err
	}
	defer stop()
	if !sleep(ctx, s.record) {
		return ctx.Err()
	}
	from, to, err := recordedSpan(ctx, v, d)
	if err != nil {
		return err
	}
	s.ran = true
	keys := sim.StaticKeys(b.secret)
	for range s.seeks {
		at := from.Add(rand.N(to.Sub(from) - 2*time.Second))
		j := seekOnce(ctx, v, d, keys, at)
		if j.err != nil {
			log.Printf("  seek failed: %v", j.err)
		}
		s.joins = append(s.joins, j)
	}
	return ctx.Err()
}

// recordedSpan is when the camera's recordings start and end.
func recordedSpan(ctx context.Context, v *vigil, d device) (time.Time, time.Time, error) {
	c := v.webClient(1)
	defer c.close()
	res, err := c.open(ctx, v.apiURL(d, "recordings?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"))
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	defer res.Body.Close()
	var out struct {
		Spans []struct{ Start, End time.Time }
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if len(out.Spans) < 2 {
		return time.Time{}, time.Time{}, fmt.Errorf("%d recordings: too few to seek in", len(out.Spans))
	}
	return out.Spans[0].Start, out.Spans[len(out.Spans)-1].End, nil
}

// seekOnce requests clip.mp4 from at and reads it to its first complete
// fragment.
func seekOnce(ctx context.Context, v *vigil, d device, keys sim.Keys, at time.Time) seekJoin {
	ctx, cancel := context.WithTimeout(ctx, httpJoinLimit)
	defer cancel()
	c := v.webClient(1)
	defer c.close()
	q := url.Values{"from": {at.UTC().Format(time.RFC3339Nano)}, "to": {at.Add(time.Minute).UTC().Format(time.RFC3339Nano)}}
	t0 := time.Now()
	res, err := c.open(ctx, v.apiURL(d, "recordings/clip.mp4?"+q.Encode()))
	if err != nil {
		return seekJoin{err: err}
	}
	defer res.Body.Close()
	in, err := fmp4read.ReadInit(res.Body)
	if err != nil {
		return seekJoin{err: fmt.Errorf("clip.mp4: %w", err)}
	}
	frag, err := fmp4read.ReadFragment(res.Body)
	if err != nil {
		return seekJoin{err: fmt.Errorf("clip.mp4: %w", err)}
	}
	arrived := time.Now()
	samples, err := videoSamples(in, frag)
	if err != nil {
		return seekJoin{err: err}
	}
	if len(samples) == 0 {
		return seekJoin{err: errors.New("clip.mp4: a first fragment without video")}
	}
	j := seekJoin{ttff: arrived.Sub(t0), firstKey: samples[0].idr, before: -1}
	if age := stampAge(samples[0], keys, arrived); age >= 0 {
		j.before = at.Sub(arrived.Add(-age))
	}
	return j
}

func (s *seek) section(b *strings.Builder, r *report) {
	if !s.ran {
		return
	}
	st := s.stats()
	b.WriteString("## Seek in recordings\n\n")
	fmt.Fprintf(b, "The 1080p camera (GOP %s) recorded for %v in 10 s segments, sealed (AES-256-GCM, 64 KiB chunks) on the "+
		"data directory's disk; then %d seeks, one at a time, each `GET recordings/clip.mp4?from=T` at a random T on a "+
		"fresh HTTP client (TCP connection included), timed to the end of the first complete moof+mdat (the whole GOP "+
		"from the keyframe at or before T, so an upper bound on the first decodable frame). *Before T* is how long "+
		"before T that first frame was captured (its stamp).\n\n", gopDuration(r.big), s.record, len(s.joins))
	b.WriteString("| seeks | failed | first sample not an IDR | p50 | p95 | max | before T, p50 | max |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| %d | %d | %d | %s | %s | %s | %s | %s |\n\n", len(s.joins), st.failed, st.notKey, ms(st.p50), ms(st.p95),
		ms(st.max), ms(st.beforeP50), ms(st.beforeMax))
}

func (s *seek) targets(b *strings.Builder, _ *report) {
	if !s.ran {
		return
	}
	st := s.stats()
	ok := len(s.joins) > 0 && st.failed == 0 && st.notKey == 0 && st.p95 < seekTarget
	fmt.Fprintf(b, "- **Seek in a recording p95 < 150 ms** (local disk): %s — p50 %s, p95 %s.\n", verdict(ok), ms(st.p50), ms(st.p95))
}

type seekStats struct {
	p50, p95, max, beforeP50, beforeMax time.Duration
	failed, notKey                      int
}

func (s *seek) stats() seekStats {
	var st seekStats
	var t, before []time.Duration
	for _, j := range s.joins {
		if j.err != nil {
			st.failed++
			continue
		}
		t = append(t, j.ttff)
		if j.before >= 0 {
			before = append(before, j.before)
		}
		st.notKey += b2i(!j.firstKey)
	}
	st.p50, st.p95, st.max = percentile(t, 50), percentile(t, 95), percentile(t, 100)
	st.beforeP50, st.beforeMax = percentile(before, 50), percentile(before, 100)
	return st
}
