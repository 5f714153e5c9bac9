package hls

import (
	"bytes"
	"strconv"
)

// partClock times the parts of an LL-HLS media playlist, line by line as
// it is written, for its keyframe hold-back (playlistEdit.holdBack): its
// PART-HOLD-BACK lengthened so that a player starting that far from the
// live edge starts a tenth of a part into an independent part (one that
// begins with a keyframe): the newest such start at least three part
// targets back (RFC 8216bis §4.4.3.8: at least two, SHOULD three;
// gohlslib writes 2.5) and no nearer than the playlist's own. The
// playlist is left as it is when it lists no such part or has no
// PART-HOLD-BACK.
//
// The live edge is the end of the last part plus, when it hints the next
// part (EXT-X-PRELOAD-HINT), one part target: Shaka Player counts the
// hinted part in its timeline at the part target's duration and starts
// PART-HOLD-BACK before that (hls_parser changePresentationTimelineToLive_,
// Playhead getStartTime_). It loads from the independent part at or before
// its start and the part after it, two at once. On the sub stream (1 s
// parts, 2 s GOPs, 800 kbit/s + 150 ms) with gohlslib's 2.5 its start fell
// half a part into a part, half the time the GOP's second: it loaded the
// GOP's two parts, played the half second left of them and stalled while
// the next two came (1.4 s). Started a tenth into an independent part it
// has 1.9 s in hand and the parts after it already made. hls.js, which
// takes the edge at the last part and loads one part at a time, starts a
// part earlier than that.
type partClock struct {
	partTarget, holdBack float64
	// holdBackAt and holdBackLen are where PART-HOLD-BACK's value is in
	// the playlist written; holdBackLen is 0 when it has none.
	holdBackAt, holdBackLen int
	hinted                  bool
	t, segStart             float64   // t: where the parts listed so far end; segStart: the segment in progress's start
	keyParts                []float64 // the start of each independent part or partless segment, in keyBuf while it fits
	keyBuf                  [32]float64
	partsInSeg              int
	bad                     bool // a duration did not parse: the playlist is left alone
}

// line times the line l (without its line break), written at offset at.
func (c *partClock) line(l []byte, at int) {
	name, value, _ := bytes.Cut(l, []byte(":"))
	switch string(name) {
	case "#EXT-X-PART-INF":
		v, _, _ := attr(value, "PART-TARGET")
		c.partTarget, _ = strconv.ParseFloat(string(v), 64)
	case "#EXT-X-SERVER-CONTROL":
		v, off, ok := attr(value, "PART-HOLD-BACK")
		c.holdBack, _ = strconv.ParseFloat(string(v), 64)
		c.holdBackAt, c.holdBackLen = at+len(name)+1+off, len(v)
		if !ok || off == 0 || value[off-1] != '=' { // absent, or quoted: not a number to replace
			c.holdBackLen = 0
		}
	case "#EXT-X-PART":
		v, _, _ := attr(value, "DURATION")
		d, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			c.bad = true
			return
		}
		if v, _, _ := attr(value, "INDEPENDENT"); string(v) == "YES" {
			c.keyPart(c.t)
		}
		c.t += d
		c.partsInSeg++
	case "#EXTINF":
		d, _, _ := bytes.Cut(value, []byte(","))
		dur, err := strconv.ParseFloat(string(d), 64)
		if err != nil {
			c.bad = true
			return
		}
		if c.partsInSeg == 0 { // a segment starts with a keyframe
			c.keyPart(c.segStart)
		}
		c.segStart += dur // players time a segment by its EXTINF
		c.t, c.partsInSeg = c.segStart, 0
	case "#EXT-X-PRELOAD-HINT":
		v, _, _ := attr(value, "TYPE")
		c.hinted = c.hinted || string(v) == "PART"
	}
}

// keyPart notes an independent part (or partless segment) starting at t.
func (c *partClock) keyPart(t float64) {
	if c.keyParts == nil {
		c.keyParts = c.keyBuf[:0]
	}
	c.keyParts = append(c.keyParts, t)
}

// start returns the PART-HOLD-BACK the keyframe hold-back sets and where the
// value it replaces is (at, n); ok is false when it sets none.
func (c *partClock) start() (at, n int, hb float64, ok bool) {
	if c.bad || c.partTarget <= 0 || c.holdBack <= 0 || c.holdBackLen == 0 {
		return 0, 0, 0, false
	}
	edge := c.t
	if c.hinted {
		edge += c.partTarget
	}
	margin, least := c.partTarget/10, max(c.holdBack, 3*c.partTarget)
	for i := len(c.keyParts) - 1; i >= 0; i-- {
		if hb := edge - c.keyParts[i] - margin; hb >= least-1e-9 {
			return c.holdBackAt, c.holdBackLen, hb, true
		}
	}
	return 0, 0, 0, false
}

// attr returns the value of key in the attribute list v (RFC 8216bis
// §4.2), a quoted one without its quotes, and its offset in v; ok is false
// when v has no key or is not a well-formed list (as gohlslib's
// primitives.Attributes.Unmarshal reads it: its last value of a key).
func attr(v []byte, key string) (val []byte, at int, ok bool) {
	off := 0
	for len(v) != 0 {
		i := bytes.IndexByte(v, '=')
		if i < 0 {
			return nil, 0, false
		}
		k := bytes.TrimLeft(v[:i], " ")
		v, off = v[i+1:], off+i+1
		valAt := off
		var value []byte
		if len(v) != 0 && v[0] == '"' {
			v, off = v[1:], off+1
			valAt = off
			j := bytes.IndexByte(v, '"')
			if j < 0 {
				return nil, 0, false
			}
			value, v, off = v[:j], v[j+1:], off+j+1
			if len(v) != 0 {
				if v[0] != ',' {
					return nil, 0, false
				}
				v, off = v[1:], off+1
			}
		} else if j := bytes.IndexByte(v, ','); j >= 0 {
			value, v, off = v[:j], v[j+1:], off+j+1
		} else {
			value, v = v, nil
		}
		if string(k) == key {
			val, at, ok = value, valAt, true
		}
	}
	return val, at, ok
}
