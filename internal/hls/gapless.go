package hls

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"vigil/internal/access"
)

// initialGaps is how many EXT-X-GAP segments gohlslib v2.4.3 puts before
// the first segment of a Low-Latency muxer (for iOS; Muxer.Start and
// muxerStream.rotateSegments). They take media sequence numbers 0 to
// initialGaps-1; TestNoGapSegments fails if an upgrade changes that.
const initialGaps = 7

// minSegments is how many segments a media playlist has before it is
// served to a player that is starting (a request without _HLS_msn): RFC
// 8216 §6.3.3 has a client start no less than three target durations from
// the end, and a shorter playlist leaves it nothing between its start and
// the live edge. Shaka stalls there; Chromium's own player, having fetched
// every segment while autoplay was pending, resumes a segment's duration
// past what it loaded and gives up on a playlist of one or two segments
// ("Segment queue never had any data").
const minSegments = 3

// startWait bounds how long a starting player waits for minSegments: with
// 2-second GOPs the playlist fills in 2 to 4 s (the hub's previous GOP is
// the first segment); a camera with longer GOPs gets what there is when no
// further segment can close before startWait (keyframeBefore), rather than
// a player that waits for two of them.
const startWait = 4 * time.Second

// mediaPlaylist serves a media playlist of x in variant v: gohlslib's
// newest playlistSegments segments (window; the muxer keeps more, see
// muxerSegments), without the EXT-X-GAP segments it pads a young LL-HLS
// playlist with (their URI, "gap.mp4", carries no token and names no file;
// Chromium and GStreamer fetch it and fail), without the LL-HLS tags for fMP4 (see
// Variant.muxed), and, for a player that is starting, only once it lists
// minSegments segments or no further segment can close before startWait.
func (m *Manager) mediaPlaylist(w http.ResponseWriter, r *http.Request, x *muxer, v Variant, name string) error {
	deadline := time.Now().Add(startWait)
	starting := r.URL.Query().Get("_HLS_msn") == ""
	req := rewrite(r, name)
	if v != x.key.variant { // a plain fMP4 player: no LL-HLS directive applies
		req.URL.RawQuery, starting = query(req.URL.RawQuery), true
	}
	for {
		key := x.keyframes() // before rendering: a keyframe after it wakes us
		pw := &playlistWriter{header: http.Header{}}
		x.hm.Handle(pw, req)
		if pw.code == 0 && pw.body.Len() > 0 {
			pw.code = http.StatusOK
		}
		if pw.code != http.StatusOK {
			rw := &responseWriter{w: w}
			copyHeader(w.Header(), pw.header)
			rw.WriteHeader(pw.code)
			if pw.body.Len() > 0 {
				_, _ = rw.Write(pw.body.Bytes())
			}
			return rw.finish(x)
		}
		e := playlistEdit{keep: playlistSegments, plain: v != x.key.variant}
		if !e.plain && v == VariantLL {
			e.parts = &x.parts
			// The poor link's rung: a start with time in hand rather
			// than the lowest latency.
			e.holdBack = x.key.stream == access.StreamSub
		}
		body, segments := e.edit(pw.body.Bytes())
		if !starting || segments >= minSegments || !x.keyframeBefore(deadline) {
			copyHeader(w.Header(), pw.header)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusOK)
			n, _ := w.Write(body)
			m.Metrics().Bytes.WithLabelValues(string(v)).Add(float64(n))
			return nil
		}
		if err := x.waitKeyframe(r.Context(), key, deadline); err != nil {
			return err
		}
	}
}

// waitKeyframe waits until key is closed (the muxer was fed a keyframe, so
// it may have closed a segment), the deadline passes, or the muxer or the
// request ends.
func (x *muxer) waitKeyframe(ctx context.Context, key <-chan struct{}, deadline time.Time) error {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-key:
	case <-t.C:
	case <-x.done:
		return startError(x.stopErr)
	case <-ctx.Done():
		return fmt.Errorf("hls: waiting for a fuller playlist: %w", ctx.Err())
	}
	return nil
}

// keyframeBefore reports whether the camera's next keyframe, which may
// close another segment, is due before deadline: the last one fed plus the
// distance between the last two. A player is not made to wait for a
// segment that cannot come in time (a camera with 4-second GOPs closes one
// every 4 s); with the distance not yet known, it may.
func (x *muxer) keyframeBefore(deadline time.Time) bool {
	now := time.Now()
	if !now.Before(deadline) {
		return false
	}
	last, gap := x.last.Load(), time.Duration(x.keyGap.Load())
	if last == nil || gap <= 0 {
		return true
	}
	return last.Captured().Add(gap).Before(deadline)
}

// keyframes returns a channel closed when the muxer is next fed a video
// keyframe.
func (x *muxer) keyframes() <-chan struct{} { return *x.nextKey.Load() }

// fedKeyframe wakes whoever waits for a keyframe.
func (x *muxer) fedKeyframe() {
	next := make(chan struct{})
	close(*x.nextKey.Swap(&next))
}

// playlistSegments is how many segments a media playlist lists at most
// (gohlslib's default window, the least it takes for LL-HLS).
const playlistSegments = 7

// muxerSegments is how many segments the gohlslib muxer keeps: the
// playlistSegments a playlist lists and as many again and two, which stay
// fetchable after they leave the playlist. RFC 8216 §6.2.2: a segment
// removed from a live playlist must remain available for its duration plus
// that of the longest playlist that listed it; gohlslib deletes a segment
// as it leaves its playlist, and Shaka, which loads a segment from the
// middle of the playlist before it plays, got a 404 (its error 1001) for
// one that had left by the time it asked on a poor link. A segment leaves
// our playlist as the eighth newest and is deleted as the seventeenth,
// nine segments later: the playlist's duration and its own, with segments
// of about one GOP each, and one more for the camera's clock (eight alone
// were a few milliseconds short in TestRemovedSegmentStaysFetchable). The retained segments are the muxer's, behind the
// same egress check (the muxer's first unit), and go when it stops.
const muxerSegments = 2*playlistSegments + 2

// segmentTags open a media segment's lines (RFC 8216bis §4.4.4): tags
// that apply to the segment whose URI follows, not to the playlist.
var segmentTags = [][]byte{[]byte("#EXTINF:"), []byte("#EXT-X-PROGRAM-DATE-TIME:"), []byte("#EXT-X-PART:"),
	[]byte("#EXT-X-BYTERANGE:"), []byte("#EXT-X-BITRATE:"), []byte("#EXT-X-DATERANGE:")}

func segmentTag(l []byte) bool {
	return string(l) == "#EXT-X-GAP" || string(l) == "#EXT-X-DISCONTINUITY" ||
		slices.ContainsFunc(segmentTags, func(t []byte) bool { return bytes.HasPrefix(l, t) })
}

// llTags are the tags of an LL-HLS media playlist (RFC 8216bis §4.4.3.7-8,
// §4.4.4.9-10, §4.4.5.2) that a plain fMP4 playlist of the same segments
// does not have.
var llTags = [][]byte{[]byte("#EXT-X-PART:"), []byte("#EXT-X-PART-INF:"), []byte("#EXT-X-SERVER-CONTROL:"),
	[]byte("#EXT-X-PRELOAD-HINT:"), []byte("#EXT-X-RENDITION-REPORT:"), []byte("#EXT-X-SKIP:")}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// playlistWriter keeps what gohlslib writes of a playlist.
type playlistWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (p *playlistWriter) Header() http.Header { return p.header }

func (p *playlistWriter) WriteHeader(code int) {
	if p.code == 0 {
		p.code = code
	}
}

func (p *playlistWriter) Write(b []byte) (int, error) {
	if p.code == 0 {
		p.code = http.StatusOK
	}
	return p.body.Write(b)
}
