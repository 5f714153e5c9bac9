package hls

import (
	"bytes"
	"slices"
	"strconv"
)

// playlistEdit is how a media playlist that gohlslib wrote is rewritten
// for a player, in one pass over its text: edit reads the playlist's lines
// once into an index and writes the result once. The steps, in the order
// they apply:
//   - windowing (window): the EXT-X-GAP segments go, and all but the newest
//     keep segments;
//   - relisting (partMemo): an LL-HLS playlist lists the parts of its
//     newest partSegments segments;
//   - the keyframe hold-back (partClock): PART-HOLD-BACK starts a player on
//     an independent part;
//   - plain: a plain fMP4 player's playlist has no LL-HLS tags (llTags).
//
// Every reload of every player goes through it. Three passes over the text
// (each splitting it into lines again and copying it, the hold-back
// parsing each tag's attributes into a map) cost a sub stream's LL-HLS
// reload 4.7 times the time and 171 allocations instead of 2; the main
// stream's 3.2 times and 55 (BenchmarkPlaylistEdit).
type playlistEdit struct {
	// keep is how many of the newest segments are listed (0: all).
	keep int
	// parts, when not nil, relists the parts of the newest partSegments
	// segments from what earlier playlists listed, and notes the parts
	// this one lists.
	parts *partMemo
	// holdBack lengthens PART-HOLD-BACK (partClock).
	holdBack bool
	// plain removes the LL-HLS tags (llTags): what is left lists the same
	// fMP4 segments as a plain live playlist.
	plain bool
}

// lineSpan is one line of a playlist, its line break included: pl[start:end].
type lineSpan struct{ start, end int32 }

// segmentLines are the lines of one listed segment: from its first
// segment tag (see segmentTag) to its URI, indexes of the playlist's
// lines. Lines between a URI and the next segment tag belong to no
// segment, nor do the parts and the hint after the last URI.
type segmentLines struct {
	first, uri int
	gap        bool // an EXT-X-GAP segment
	parts      bool // it lists EXT-X-PART lines
}

// edit returns the media playlist pl rewritten, and the number of segments
// it lists (skipped ones included). pl itself is returned when nothing
// changes.
func (e playlistEdit) edit(pl []byte) ([]byte, int) {
	var lineBuf [160]lineSpan
	var segBuf [24]segmentLines
	x := indexPlaylist(pl, lineBuf[:0], segBuf[:0])
	lines, segs, msn, skipped := x.lines, x.segs, x.msn, x.skipped
	w := window(msn, skipped, x.gaps, x.listed, e.keep)
	if w.unchanged() && e.parts == nil && !e.holdBack && !e.plain {
		return pl, w.segments
	}

	out := &playlistOut{b: make([]byte, 0, len(pl)+len(pl)/4), plain: e.plain, hold: e.holdBack}
	if w.msn != msn {
		out.replace[0] = tagChange{prefix: msnTag, old: msn, now: w.msn}
	}
	if skipped > 0 && w.skipped != skipped {
		out.replace[1] = tagChange{prefix: skipTag, old: skipped, now: w.skipped}
	}
	// The numbers a player reads in the rewritten playlist.
	outMSN, outSkipped := 0, 0
	if x.hasMSN {
		outMSN = w.msn
	}
	if x.hasSkip {
		outSkipped = w.skipped
	}
	if e.parts != nil {
		e.parts.lockFrom(outMSN)
		defer e.parts.mu.Unlock()
	}
	kept := x.listed - w.dropListed // the segments the playlist lists
	seq := outMSN + outSkipped      // the next listed segment's sequence number
	next, dropped := 0, 0           // next: the next segment in segs
	for i := 0; i < len(lines); i++ {
		if next < len(segs) && segs[next].first == i {
			s := segs[next]
			next, i = next+1, s.uri
			if s.gap || dropped < w.dropListed {
				if !s.gap {
					dropped++
				}
				continue
			}
			e.segment(out, pl, lines[s.first:s.uri+1], s.parts, seq, kept)
			seq, kept = seq+1, kept-1
			continue
		}
		out.line(pl[lines[i].start:lines[i].end])
	}
	return out.finish(), w.segments
}

// playlistIndex is a media playlist's lines and segments, read once.
type playlistIndex struct {
	lines           []lineSpan
	segs            []segmentLines
	msn, skipped    int // EXT-X-MEDIA-SEQUENCE, SKIPPED-SEGMENTS
	gaps, listed    int // the EXT-X-GAP segments, the others
	hasMSN, hasSkip bool
}

// indexPlaylist indexes the playlist pl, its lines and segments appended
// to lines and segs.
func indexPlaylist(pl []byte, lines []lineSpan, segs []segmentLines) playlistIndex {
	x := playlistIndex{lines: lines, segs: segs}
	inSeg, inGap, parts, first := false, false, 0, 0
	for start := 0; start < len(pl); {
		end := len(pl)
		if i := bytes.IndexByte(pl[start:], '\n'); i >= 0 {
			end = start + i + 1
		}
		i := len(x.lines)
		x.lines = append(x.lines, lineSpan{int32(start), int32(end)})
		l := bytes.TrimRight(pl[start:end], "\r\n")
		start = end
		if len(l) > 0 && l[0] != '#' { // a segment's URI ends it
			if !inSeg {
				first = i
			}
			x.segs = append(x.segs, segmentLines{first: first, uri: i, gap: inGap, parts: parts > 0})
			if inGap {
				x.gaps++
			} else {
				x.listed++
			}
			inSeg, inGap, parts = false, false, 0
			continue
		}
		switch {
		case string(l) == "#EXT-X-GAP":
			inGap = true
		case bytes.HasPrefix(l, []byte("#EXT-X-PART:")):
			parts++
		case bytes.HasPrefix(l, []byte(msnTag)):
			x.msn, _ = strconv.Atoi(string(l[len(msnTag):]))
			x.hasMSN = true
		case bytes.HasPrefix(l, []byte(skipTag)):
			x.skipped, _ = strconv.Atoi(string(l[len(skipTag):]))
			x.hasSkip = true
		}
		if !inSeg && segmentTag(l) {
			inSeg, first = true, i
		}
	}
	return x
}

// segment writes the lines of the segment seq, the kept-th from the end of
// the playlist: relisting, with the parts the memo has of it when it lists
// none and is among the newest partSegments, and having the memo note
// those it lists.
func (e playlistEdit) segment(out *playlistOut, pl []byte, lines []lineSpan, listsParts bool, seq, kept int) {
	var relisted [][]byte
	var query []byte
	if memo := e.parts; memo != nil {
		uri := bytes.TrimRight(pl[lines[len(lines)-1].start:lines[len(lines)-1].end], "\r\n")
		if q := bytes.IndexByte(uri, '?'); q >= 0 {
			query = uri[q:]
		}
		if listsParts {
			memo.note(seq, pl, lines)
		} else if kept <= partSegments {
			relisted = memo.kept(seq)
		}
	}
	for _, s := range lines {
		line := pl[s.start:s.end]
		if len(relisted) > 0 && bytes.HasPrefix(line, []byte("#EXTINF:")) {
			for _, k := range relisted {
				out.partLine(k, query)
			}
		}
		out.line(line)
	}
}

const (
	msnTag  = "#EXT-X-MEDIA-SEQUENCE:"
	skipTag = "#EXT-X-SKIP:SKIPPED-SEGMENTS="
)

// tagChange rewrites the first line prefix+old to prefix+now.
type tagChange struct {
	prefix   string
	old, now int
}

// playlistOut is a rewritten playlist being written.
type playlistOut struct {
	b       []byte
	plain   bool         // drop LL-HLS tags
	hold    bool         // time the parts for the keyframe hold-back
	clock   partClock    // when hold
	replace [2]tagChange // EXT-X-MEDIA-SEQUENCE, SKIPPED-SEGMENTS; prefix "" for none
}

// line writes one line of the playlist (its line break included).
func (o *playlistOut) line(line []byte) {
	if o.plain && slices.ContainsFunc(llTags, func(t []byte) bool { return bytes.HasPrefix(line, t) }) {
		return
	}
	for i := range o.replace {
		if r := &o.replace[i]; r.prefix != "" && r.is(line) {
			o.b = strconv.AppendInt(append(o.b, r.prefix...), int64(r.now), 10)
			o.b = append(o.b, '\n')
			r.prefix = "" // the first such line only
			return
		}
	}
	at := len(o.b)
	o.b = append(o.b, line...)
	if o.hold {
		o.clock.line(bytes.TrimRight(line, "\r\n"), at)
	}
}

// is reports whether line is prefix+old and a line break.
func (r *tagChange) is(line []byte) bool {
	var buf [24]byte
	v, ok := bytes.CutPrefix(line, []byte(r.prefix))
	return ok && bytes.Equal(v, append(strconv.AppendInt(buf[:0], int64(r.old), 10), '\n'))
}

// partLine writes the EXT-X-PART line l (noted without a query) with its
// URI's query set to query.
func (o *playlistOut) partLine(l, query []byte) {
	at := len(o.b)
	o.b = appendWithQuery(o.b, l, query)
	if o.hold {
		o.clock.line(bytes.TrimRight(o.b[at:], "\r\n"), at)
	}
}

// finish returns the playlist written, its PART-HOLD-BACK lengthened if
// the clock found a start.
func (o *playlistOut) finish() []byte {
	if !o.hold {
		return o.b
	}
	at, n, hb, ok := o.clock.start()
	if !ok {
		return o.b
	}
	var buf [32]byte
	return slices.Replace(o.b, at, at+n, strconv.AppendFloat(buf[:0], hb, 'f', 5, 64)...)
}

// appendWithQuery appends the tag line l with its URI attribute's query
// replaced by query (which starts with '?', or is empty: no query).
func appendWithQuery(b, l, query []byte) []byte {
	start, end, ok := uriValue(l)
	if !ok {
		return append(b, l...)
	}
	name := l[start:end]
	if q := bytes.IndexByte(name, '?'); q >= 0 {
		name = name[:q]
	}
	b = append(b, l[:start]...)
	b = append(b, name...)
	b = append(b, query...)
	return append(b, l[end:]...)
}

// sameWithoutQuery reports whether k is the tag line l with its URI
// attribute's query cut (appendWithQuery with no query).
func sameWithoutQuery(k, l []byte) bool {
	start, end, ok := uriValue(l)
	if !ok {
		return bytes.Equal(k, l)
	}
	name := l[start:end]
	if q := bytes.IndexByte(name, '?'); q >= 0 {
		name = name[:q]
	}
	rest := l[end:]
	return len(k) == start+len(name)+len(rest) && bytes.Equal(k[:start], l[:start]) &&
		bytes.Equal(k[start:start+len(name)], name) && bytes.Equal(k[start+len(name):], rest)
}

// uriValue finds the value of the tag line l's URI attribute: l[start:end].
func uriValue(l []byte) (start, end int, ok bool) {
	i := bytes.Index(l, []byte(`URI="`))
	if i < 0 {
		return 0, 0, false
	}
	start = i + len(`URI="`)
	end = bytes.IndexByte(l[start:], '"')
	if end < 0 {
		return 0, 0, false
	}
	return start, start + end, true
}

// windowing is what window removes from a playlist: of its skipped
// segments (a delta update's) and its listed ones, which it numbers
// anew.
type windowing struct {
	gaps, skippedGaps, drop int
	dropListed              int
	msn, skipped            int // EXT-X-MEDIA-SEQUENCE and SKIPPED-SEGMENTS after
	segments                int // the segments the playlist lists after (skipped ones included)
}

// window is the windowing of a playlist with media sequence number msn,
// skipped skipped segments, then gaps EXT-X-GAP segments and listed
// others, that keeps its newest keep segments (all for keep 0). Skipped
// gaps are those of the skipped sequence numbers below initialGaps; a
// delta update loses its skipped segments first, as they are the oldest.
// EXT-X-MEDIA-SEQUENCE (and SKIPPED-SEGMENTS) moves past what it
// removes, so that every other segment keeps its sequence number
// (blocking reloads name segments by it).
func window(msn, skipped, gaps, listed, keep int) windowing {
	w := windowing{gaps: gaps, skippedGaps: max(0, min(msn+skipped, initialGaps)-msn)}
	realSkipped := skipped - w.skippedGaps
	if keep > 0 {
		w.drop = max(0, realSkipped+listed-keep)
	}
	dropSkipped := min(w.drop, realSkipped)
	w.dropListed = w.drop - dropSkipped
	w.msn, w.skipped = msn+w.gaps+w.skippedGaps+w.drop, realSkipped-dropSkipped
	w.segments = realSkipped + listed - w.drop
	return w
}

// unchanged reports whether the windowing removes nothing.
func (w windowing) unchanged() bool { return w.gaps+w.skippedGaps+w.drop == 0 }
