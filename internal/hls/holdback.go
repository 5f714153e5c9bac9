package hls

import (
	"bytes"
	"strconv"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist/primitives"
)

// keyframeHoldBack returns the LL-HLS media playlist pl with its
// PART-HOLD-BACK lengthened so that a player starting that far from the
// live edge starts a tenth of a part into an independent part (one that
// begins with a keyframe): the newest such start at least three part
// targets back (RFC 8216bis §4.4.3.8: at least two, SHOULD three;
// gohlslib writes 2.5) and no nearer than pl's own. pl is returned as it
// is when it lists no such part or has no PART-HOLD-BACK.
//
// The live edge is the end of the last part plus, when pl hints the next
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
func keyframeHoldBack(pl []byte) []byte {
	var (
		partTarget, holdBack float64
		holdBackText         string // as pl writes it
		hinted               bool
		t, segStart          float64   // t: where the parts listed so far end; segStart: the segment in progress's start
		keyParts             []float64 // the start of each independent part or partless segment
		partsInSeg           int
	)
	for line := range bytes.Lines(pl) {
		l := bytes.TrimRight(line, "\r\n")
		tag, a := tagAttrs(l)
		switch tag {
		case "#EXT-X-PART-INF":
			partTarget, _ = strconv.ParseFloat(a["PART-TARGET"], 64)
		case "#EXT-X-SERVER-CONTROL":
			holdBackText = a["PART-HOLD-BACK"]
			holdBack, _ = strconv.ParseFloat(holdBackText, 64)
		case "#EXT-X-PART":
			d, err := strconv.ParseFloat(a["DURATION"], 64)
			if err != nil {
				return pl
			}
			if a["INDEPENDENT"] == "YES" {
				keyParts = append(keyParts, t)
			}
			t += d
			partsInSeg++
		case "#EXTINF":
			d, _, _ := bytes.Cut(l[len("#EXTINF:"):], []byte(","))
			dur, err := strconv.ParseFloat(string(d), 64)
			if err != nil {
				return pl
			}
			if partsInSeg == 0 { // a segment starts with a keyframe
				keyParts = append(keyParts, segStart)
			}
			segStart += dur // players time a segment by its EXTINF
			t, partsInSeg = segStart, 0
		case "#EXT-X-PRELOAD-HINT":
			hinted = hinted || a["TYPE"] == "PART"
		}
	}
	if partTarget <= 0 || holdBack <= 0 {
		return pl
	}
	edge := t
	if hinted {
		edge += partTarget
	}
	margin, least := partTarget/10, max(holdBack, 3*partTarget)
	for i := len(keyParts) - 1; i >= 0; i-- {
		if hb := edge - keyParts[i] - margin; hb >= least-1e-9 {
			return bytes.Replace(pl, []byte("PART-HOLD-BACK="+holdBackText),
				[]byte("PART-HOLD-BACK="+strconv.FormatFloat(hb, 'f', 5, 64)), 1)
		}
	}
	return pl
}

// tagAttrs splits the tag line l into its name ("#EXT-X-PART") and its
// attribute list (nil if the value is not one).
func tagAttrs(l []byte) (string, primitives.Attributes) {
	name, value, _ := bytes.Cut(l, []byte(":"))
	var a primitives.Attributes
	if a.Unmarshal(string(value)) != nil {
		return string(name), nil
	}
	return string(name), a
}
