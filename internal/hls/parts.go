package hls

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"
)

// partSegments is how many of a Low-Latency playlist's newest segments
// list their parts. gohlslib lists the parts of its last two segments
// only, where RFC 8216bis has a server remove a part's tag once it is
// more than three target durations from the end of the playlist (three
// segments are no longer than that). With the sub stream's one-second parts and segments,
// two segments were two seconds: Shaka (low-latency mode, its default)
// that had loaded a segment's part and reloaded a little over two
// seconds later found the segment listed without it, lost its place and
// stalled at the live edge for five seconds.
const partSegments = 3

// partMemo remembers the parts gohlslib listed for a muxer's segments, so
// that a playlist lists them for partSegments segments (relist). It keeps
// names only, never a request's query: each playlist's URIs carry that
// request's own.
type partMemo struct {
	mu sync.Mutex
	// parts holds, by media sequence number, a segment's EXT-X-PART lines
	// with the query cut from their URIs. Guarded by mu; entries older
	// than the playlist are dropped at each relist.
	parts map[int][][]byte
}

// noteParts has the parts of x's newest segments noted (relist) after it
// was fed a keyframe, which may have closed a segment: a segment is among
// gohlslib's last two, which it lists with their parts, for two segments'
// time, and a viewer's reloads may all miss that (Shaka had loaded a
// segment's part when it was the preload hint, and its next reload came
// after three segments had closed). One render at a time, in the
// background: gohlslib holds a playlist request until the muxer has a
// segment, which only this goroutine's feeding makes.
func (x *muxer) noteParts() {
	if x.key.variant != VariantLL || !x.noting.CompareAndSwap(false, true) {
		return
	}
	x.mgr.wg.Go(func() {
		defer x.noting.Store(false)
		req, err := http.NewRequest(http.MethodGet, "/"+x.layout.index, nil)
		if err != nil {
			return
		}
		pw := &playlistWriter{header: http.Header{}}
		x.hm.Handle(pw, req)
		if pw.code == http.StatusOK || (pw.code == 0 && pw.body.Len() > 0) {
			body, _ := windowed(pw.body.Bytes(), playlistSegments)
			x.parts.relist(body)
		}
	})
}

// relist returns the LL-HLS media playlist pl (as windowed wrote it) with
// the parts of its newest partSegments segments listed: those gohlslib
// left out are put back from what earlier playlists listed, with the
// query of the segment's own URI. It notes the parts pl lists.
func (p *partMemo) relist(pl []byte) []byte {
	var msn, skipped int
	var segs [][][]byte // the lines of each listed segment, its URI last
	var head, cur [][]byte
	inSeg := false
	for line := range bytes.Lines(pl) {
		l := bytes.TrimRight(line, "\r\n")
		switch {
		case bytes.HasPrefix(l, []byte("#EXT-X-MEDIA-SEQUENCE:")):
			msn, _ = strconv.Atoi(string(l[len("#EXT-X-MEDIA-SEQUENCE:"):]))
		case bytes.HasPrefix(l, []byte("#EXT-X-SKIP:SKIPPED-SEGMENTS=")):
			skipped, _ = strconv.Atoi(string(l[len("#EXT-X-SKIP:SKIPPED-SEGMENTS="):]))
		}
		inSeg = inSeg || segmentTag(l)
		switch {
		case inSeg && len(l) > 0 && l[0] != '#':
			segs, cur, inSeg = append(segs, append(cur, line)), nil, false
		case inSeg || len(segs) > 0:
			cur = append(cur, line)
		default:
			head = append(head, line)
		}
	}
	tail := cur // the parts of the segment in progress, the preload hint

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.parts == nil {
		p.parts = make(map[int][][]byte)
	}
	for seq := range p.parts {
		if seq < msn {
			delete(p.parts, seq)
		}
	}
	var out bytes.Buffer
	for _, l := range head {
		out.Write(l)
	}
	first := msn + skipped
	for i, seg := range segs {
		seq := first + i
		uri := bytes.TrimRight(seg[len(seg)-1], "\r\n")
		var query []byte
		if q := bytes.IndexByte(uri, '?'); q >= 0 {
			query = uri[q:]
		}
		var listed [][]byte
		for _, l := range seg {
			if bytes.HasPrefix(l, []byte("#EXT-X-PART:")) {
				listed = append(listed, withQuery(l, nil))
			}
		}
		if len(listed) > 0 {
			p.parts[seq] = listed
		}
		kept := p.parts[seq]
		for _, l := range seg {
			if len(listed) == 0 && len(kept) > 0 && len(segs)-i <= partSegments && bytes.HasPrefix(l, []byte("#EXTINF:")) {
				for _, k := range kept {
					out.Write(withQuery(k, query))
				}
			}
			out.Write(l)
		}
	}
	for _, l := range tail {
		out.Write(l)
	}
	return out.Bytes()
}

// withQuery returns the tag line l with its URI attribute's query
// replaced by query (which starts with '?', or is empty: no query).
func withQuery(l, query []byte) []byte {
	i := bytes.Index(l, []byte(`URI="`))
	if i < 0 {
		return l
	}
	start := i + len(`URI="`)
	end := bytes.IndexByte(l[start:], '"')
	if end < 0 {
		return l
	}
	end += start
	name := l[start:end]
	if q := bytes.IndexByte(name, '?'); q >= 0 {
		name = name[:q]
	}
	out := make([]byte, 0, len(l)+len(query))
	out = append(out, l[:start]...)
	out = append(out, name...)
	out = append(out, query...)
	return append(out, l[end:]...)
}
