package hls

import (
	"bytes"
	"net/http"
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
// that a playlist lists them for partSegments segments (relisting). It keeps
// names only, never a request's query: each playlist's URIs carry that
// request's own.
type partMemo struct {
	mu sync.Mutex
	// parts holds, by media sequence number, a segment's EXT-X-PART lines
	// with the query cut from their URIs. Guarded by mu; entries older
	// than the playlist are dropped as each playlist is written (lockFrom).
	parts map[int][][]byte
}

// noteParts has the parts of x's newest segments noted (relisting) after it
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
			playlistEdit{keep: playlistSegments, parts: &x.parts}.edit(pw.body.Bytes())
		}
	})
}

// relisting (playlistEdit.parts) has an LL-HLS media playlist list the
// parts of its newest partSegments segments: those gohlslib left out are
// put back from what earlier playlists listed, with the query of the
// segment's own URI. Each playlist notes the parts it lists. Between
// lockFrom and the unlock of mu, one playlist is being written.

// lockFrom takes the memo for a playlist whose first segment is msn: what
// is older than that is forgotten.
func (p *partMemo) lockFrom(msn int) {
	p.mu.Lock()
	if p.parts == nil {
		p.parts = make(map[int][][]byte)
	}
	for seq := range p.parts {
		if seq < msn {
			delete(p.parts, seq)
		}
	}
}

// note remembers the EXT-X-PART lines of the segment seq, lines of pl,
// with the query cut from their URIs (kept unless they changed). Caller
// holds mu.
func (p *partMemo) note(seq int, pl []byte, lines []lineSpan) {
	old, n, size, same := p.parts[seq], 0, 0, true
	for _, s := range lines {
		if l := pl[s.start:s.end]; bytes.HasPrefix(l, []byte("#EXT-X-PART:")) {
			same = same && n < len(old) && sameWithoutQuery(old[n], l)
			n, size = n+1, size+len(l)
		}
	}
	if same && n == len(old) {
		return
	}
	noted, buf := make([][]byte, 0, n), make([]byte, 0, size) // buf holds them all: never grown
	for _, s := range lines {
		if l := pl[s.start:s.end]; bytes.HasPrefix(l, []byte("#EXT-X-PART:")) {
			at := len(buf)
			buf = appendWithQuery(buf, l, nil)
			noted = append(noted, buf[at:len(buf):len(buf)])
		}
	}
	p.parts[seq] = noted
}

// kept is what the memo has of the parts of the segment seq (without
// queries). Caller holds mu.
func (p *partMemo) kept(seq int) [][]byte { return p.parts[seq] }
