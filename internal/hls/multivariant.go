package hls

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/codecparams"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"vigil/internal/access"
	"vigil/internal/hub"
)

// containerOverhead scales the payload bit rate to what a segment weighs
// (fMP4 boxes, MPEG-TS packet and PES headers).
const containerOverhead = 1.1

// streamEntry is one EXT-X-STREAM-INF of our multivariant playlist.
type streamEntry struct {
	stream     access.StreamID
	bandwidth  int
	measured   bool
	codecs     []string
	resolution string // "WxH", empty without video
	frameRate  float64
	audio      string // the audio rendition's playlist, if separate
	// captions is set when the stream's keyframe carries the SEI messages
	// closed captions travel in (mayCarryCaptions).
	captions bool
}

// Multivariant writes our multivariant playlist (RFC 8216 §4.3.4) of the
// grant's device's live streams among streams in variant v, the lowest
// BANDWIDTH first (sortByBandwidth): BANDWIDTH is
// the peak segment bit rate, the higher of what a running muxer measured
// and the rate of the hub's GOP cache (never below the camera's measured
// rate), RESOLUTION and FRAME-RATE come from the SPS, CODECS
// are RFC 6381 strings, CLOSED-CAPTIONS=NONE is said unless a stream's
// keyframe carries caption SEI (mayCarryCaptions), and the URIs are "<stream>/<variant>/index.m3u8",
// relative to the multivariant playlist, with the request's query (a stream
// token) kept. It also starts the listed streams' muxers, so that the
// player's next request finds them primed. While the camera is online but
// has no keyframe the grant may see yet, it waits for one (describeWait). On
// an error nothing has been written to w: ErrNoFile (an invalid variant),
// ErrRefused, ErrOffline, ErrNotReady, r's context's.
func (m *Manager) Multivariant(w http.ResponseWriter, r *http.Request, g access.Grant, streams []access.StreamID, v Variant) error {
	if !v.valid() {
		return fmt.Errorf("%w: %w", ErrNoFile, ErrBadVariant)
	}
	entries, err := m.describeAll(r.Context(), g, streams, v)
	if err != nil {
		return err
	}
	for _, e := range entries {
		_, _ = m.muxer(g, muxerKey{device: g.Device(), stream: e.stream, variant: v.muxed()}, true)
	}
	sortByBandwidth(entries)
	body := multivariantPlaylist(entries, v, query(r.URL.RawQuery))
	h := w.Header()
	h.Set("Content-Type", "application/vnd.apple.mpegurl")
	h.Set("Cache-Control", "no-cache") // streams come and go
	w.WriteHeader(http.StatusOK)
	n, _ := w.Write(body)
	m.cfg.Metrics.Bytes.WithLabelValues(string(v)).Add(float64(n))
	return nil
}

// describeWait bounds how long a multivariant request waits for the
// camera's online streams to have a keyframe the grant may see: a holder
// whose epoch (a new share, a claim) is younger than the cached keyframes has
// nothing to be shown until each stream's next keyframe, at most a GOP away.
const describeWait = 5 * time.Second

// describePoll is how often describeAll looks again while it waits.
const describePoll = 50 * time.Millisecond

// describeAll describes the streams, waiting (up to describeWait, and no
// longer than ctx) while a stream is online but has no keyframe the grant
// may see, so that a new sharee's playlist lists what the owner's does. It
// returns what it could describe then: ErrOffline when no stream is online,
// ErrNotReady when none had a keyframe in time.
func (m *Manager) describeAll(ctx context.Context, g access.Grant, streams []access.StreamID, v Variant) ([]streamEntry, error) {
	deadline := time.Now().Add(describeWait)
	for {
		entries, waiting, err := m.describeNow(g, streams, v)
		expired := time.Now().After(deadline)
		switch {
		case err != nil:
			return nil, err
		case waiting == 0 && len(entries) == 0:
			return nil, fmt.Errorf("%w: %w", ErrOffline, hub.ErrOffline)
		case waiting == 0 || expired && len(entries) > 0:
			return entries, nil
		case expired:
			return nil, ErrNotReady
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(describePoll):
		}
	}
}

// describeNow describes the streams that have a keyframe the grant may see
// and counts those that are online without one.
func (m *Manager) describeNow(g access.Grant, streams []access.StreamID, v Variant) ([]streamEntry, int, error) {
	var entries []streamEntry
	waiting := 0
	for _, s := range streams {
		e, err := m.describe(g, s, v)
		switch {
		case err == nil:
			entries = append(entries, e)
		case errors.Is(err, hub.ErrOffline):
			if m.cfg.Hub.Online(g.Device(), s) {
				waiting++
			}
		case errors.Is(err, ErrUnsupported), errors.Is(err, ErrNoTracks):
		default:
			return nil, 0, readError(err)
		}
	}
	return entries, waiting, nil
}

// describe measures one stream for the multivariant playlist.
func (m *Manager) describe(g access.Grant, s access.StreamID, v Variant) (streamEntry, error) {
	kf, err := m.cfg.Hub.Keyframe(g, s) // runs the egress check
	if err != nil {
		return streamEntry{}, err
	}
	outs, lay, err := selectTracks(kf.Tracks, v, kf.Unit)
	if err != nil {
		return streamEntry{}, err
	}
	e := streamEntry{stream: s, audio: lay.audio}
	for _, t := range outs {
		if c := codecparams.Marshal(t.hls.Codec); c != "" {
			e.codecs = append(e.codecs, c)
		}
		if t.hls.Codec.IsVideo() && mayCarryCaptions(t.hls.Codec, kf.Unit.Payload) {
			e.captions = true
		}
		switch c := t.hls.Codec.(type) {
		case *codecs.H264:
			var sps h264.SPS
			if sps.Unmarshal(c.SPS) == nil {
				e.resolution = fmt.Sprintf("%dx%d", sps.Width(), sps.Height())
				e.frameRate = sps.FPS()
			}
		case *codecs.H265:
			var sps h265.SPS
			if sps.Unmarshal(c.SPS) == nil {
				e.resolution = fmt.Sprintf("%dx%d", sps.Width(), sps.Height())
				e.frameRate = sps.FPS()
			}
		}
	}
	e.bandwidth, e.measured = m.bandwidth(g, muxerKey{device: g.Device(), stream: s, variant: v.muxed()}, outs)
	return e, nil
}

// bandwidth returns the peak bit rate of the stream: the higher of what
// the key's muxer measured and what the hub's GOP cache holds, so that a
// player's first pick is not made on a guess below the camera's rate.
func (m *Manager) bandwidth(g access.Grant, key muxerKey, outs []outTrack) (int, bool) {
	m.mu.Lock()
	x := m.muxers[key]
	m.mu.Unlock()
	bps, measured := m.estimate(g, key.stream, outs)
	if x != nil {
		muxed, ok := x.rate.peak(m.cfg.SegmentDuration)
		bps, measured = max(bps, muxed), measured || ok
	}
	return max(int(float64(bps)*containerOverhead), 1000), measured
}

// estimate reads the hub's GOP cache from the previous keyframe (without
// waiting for live units) and rates it: the previous GOP is a whole window,
// the camera's measured rate; the current one alone, just begun, is mostly
// its keyframe. It reports whether a whole window was measured.
func (m *Manager) estimate(g access.Grant, s access.StreamID, outs []outTrack) (int, bool) {
	r, err := m.cfg.Hub.ReadBack(g, s)
	if err != nil {
		return 0, false
	}
	defer r.Close()
	carried := map[int]bool{}
	hasVideo := false
	for _, t := range outs {
		carried[t.index] = t.hls.Codec.IsVideo()
		hasVideo = hasVideo || t.hls.Codec.IsVideo()
	}
	var rm rateMeter
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Next still returns what is queued: the GOP cache
	for {
		u, err := r.Next(ctx)
		if err != nil {
			break
		}
		if video, ok := carried[u.Track]; ok {
			rm.add(u, video && u.Key, hasVideo)
		}
	}
	return rm.peak(m.cfg.SegmentDuration)
}

// sortByBandwidth orders the variants from the lowest BANDWIDTH up (a
// stable sort: equal rates keep the streams' order). The first variant
// listed is a player's start variant when it has no estimate of its link
// yet (hls.js falls back to it when none fits its default 500 kbit/s
// estimate; AVPlayer starts on it): on a poor network the lightest one
// plays at once, and a player on a good link steps up after a segment or
// two.
func sortByBandwidth(entries []streamEntry) {
	slices.SortStableFunc(entries, func(a, b streamEntry) int { return cmp.Compare(a.bandwidth, b.bandwidth) })
}

func multivariantPlaylist(entries []streamEntry, v Variant, rawQuery string) []byte {
	version := 10 // as gohlslib's media playlists
	if v == VariantTS {
		version = 3
	}
	uri := func(s access.StreamID, file string) string {
		u := string(s) + "/" + string(v) + "/" + file
		if rawQuery != "" {
			u += "?" + rawQuery
		}
		return u
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-INDEPENDENT-SEGMENTS\n", version)
	// CLOSED-CAPTIONS=NONE says no variant carries closed captions; it
	// must then be on every EXT-X-STREAM-INF (RFC 8216 §4.3.4.2).
	noCaptions := !slices.ContainsFunc(entries, func(e streamEntry) bool { return e.captions })
	for _, e := range entries {
		if e.audio != "" {
			fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"%s-audio\",NAME=\"audio\",AUTOSELECT=YES,DEFAULT=YES,URI=\"%s\"\n",
				e.stream, uri(e.stream, e.audio))
		}
	}
	for _, e := range entries {
		attrs := []string{"BANDWIDTH=" + strconv.Itoa(e.bandwidth)}
		if len(e.codecs) > 0 {
			attrs = append(attrs, `CODECS="`+strings.Join(e.codecs, ",")+`"`)
		}
		if e.resolution != "" {
			attrs = append(attrs, "RESOLUTION="+e.resolution)
		}
		if e.frameRate > 0 {
			attrs = append(attrs, "FRAME-RATE="+strconv.FormatFloat(e.frameRate, 'f', 3, 64))
		}
		if e.audio != "" {
			attrs = append(attrs, `AUDIO="`+string(e.stream)+`-audio"`)
		}
		if noCaptions {
			attrs = append(attrs, "CLOSED-CAPTIONS=NONE")
		}
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:%s\n%s\n", strings.Join(attrs, ","), uri(e.stream, "index.m3u8"))
	}
	return []byte(b.String())
}

// query re-encodes a request's query for URIs in a playlist: the _HLS_
// directives are dropped, and encoding leaves no character that could end
// a quoted attribute or a line.
func query(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return ""
	}
	for k := range q {
		if strings.HasPrefix(k, "_HLS_") {
			delete(q, k)
		}
	}
	return q.Encode()
}
