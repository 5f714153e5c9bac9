package main

import (
	"fmt"
	"strings"
	"time"
)

// Targets of the HTTP outputs.
const (
	stillCachedTarget = 5 * time.Millisecond
	stillFreshTarget  = 250 * time.Millisecond
	mp4TTFFTarget     = 100 * time.Millisecond
	llTTFFTarget      = 500 * time.Millisecond
	g2gTarget         = 1500 * time.Millisecond
)

func (r *report) stillsSection(b *strings.Builder) {
	s := r.stills
	if s == nil {
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
		kib(l), gopDuration(r.big), l.rate, l.window, stillWorkers, stillWorkers)
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

// kib is the mean still size in KiB.
func kib(l stillLoad) float64 {
	if len(l.all) == 0 {
		return 0
	}
	return float64(l.bytes) / float64(len(l.all)) / 1024
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

func (r *report) httpTTFFSection(b *strings.Builder) {
	h := r.httpTTFF
	if h == nil {
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

// joinStats summarises HTTP joins.
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

func (r *report) g2gSection(b *strings.Builder) {
	g := r.g2g
	if g == nil {
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
	secs := g.elapsed.Seconds()
	fmt.Fprintf(b, "| %s | %d | %d | %s | %d | %d | %s | %s | %s | %s | %s | %s |\n\n",
		g.elapsed.Round(100*time.Millisecond), g.parts, g.frames, rate(g.frames, secs), g.gaps, g.unstamped,
		rate(g.reloads, secs), ms(g.partTarget), ms(percentile(g.latencies, 50)), ms(percentile(g.latencies, 95)),
		ms(percentile(g.latencies, 99)), ms(percentile(g.latencies, 100)))
}

func rate(n int, secs float64) string {
	if secs <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", float64(n)/secs)
}

// httpTargets are the target lines of the HTTP outputs.
func (r *report) httpTargets() string {
	var out strings.Builder
	if s := r.stills; s != nil {
		l := s.load
		ok := l.errors == 0 && l.achieved() >= 0.95*l.rate && len(l.hits) > 0
		fmt.Fprintf(&out, "- **Cached still p99 < 5 ms at 1,000 req/s**: %s — cache hits p99 %s (p50 %s) at %.0f req/s achieved of %.0f asked, %d errors. "+
			"Over every request, p99 is %s (%s): %d of %d requests came after a new keyframe and waited for its decode, up to %s.\n",
			verdict(ok && percentile(l.hits, 99) < stillCachedTarget), ms(percentile(l.hits, 99)), ms(percentile(l.hits, 50)),
			l.achieved(), l.rate, l.errors, ms(percentile(l.all, 99)),
			verdict(ok && percentile(l.all, 99) < stillCachedTarget), len(l.waited), len(l.all), ms(percentile(l.waited, 100)))
		f := s.fresh.stats()
		fmt.Fprintf(&out, "- **Fresh keyframe still p95 < 250 ms**: %s — p50 %s, p95 %s, %d stale, %d failed of %d (go2rtc serves stills 1–2 s old, Scrypted up to 20 s).\n",
			verdict(len(s.fresh) > 0 && f.failed == 0 && f.stale == 0 && f.p95 < stillFreshTarget), ms(f.p50), ms(f.p95), f.stale, f.failed, len(s.fresh))
	}
	if h := r.httpTTFF; h != nil {
		m, w, c := joinStats(h.mp4), joinStats(h.llWarm), joinStats(h.llCold)
		fmt.Fprintf(&out, "- **fMP4 TTFF p95 < 100 ms**: %s — p50 %s, p95 %s.\n", joinVerdict(h.mp4, m, mp4TTFFTarget), ms(m.p50), ms(m.p95))
		fmt.Fprintf(&out, "- **LL-HLS TTFF p95 < 500 ms**: warm %s — p50 %s, p95 %s; cold (first viewer) %s — p50 %s, p95 %s.\n",
			joinVerdict(h.llWarm, w, llTTFFTarget), ms(w.p50), ms(w.p95), joinVerdict(h.llCold, c, llTTFFTarget), ms(c.p50), ms(c.p95))
	}
	if g := r.g2g; g != nil {
		p95 := percentile(g.latencies, 95)
		fmt.Fprintf(&out, "- **LL-HLS glass-to-glass p95 < 1.5 s**: %s — p50 %s, p95 %s over %d frames, %d missing.\n",
			verdict(len(g.latencies) > 0 && g.gaps == 0 && p95 < g2gTarget), ms(percentile(g.latencies, 50)), ms(p95), len(g.latencies), g.gaps)
	}
	return out.String()
}

func joinVerdict(joins []httpJoin, s httpJoinStats, target time.Duration) string {
	return verdict(len(joins) > 0 && s.failed == 0 && s.notKey == 0 && s.p95 < target)
}
