package hls

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/testkit"
	"vigil/internal/testkit/simcam"
)

// shakaStart is where Shaka Player starts playing a live LL-HLS media
// playlist: PART-HOLD-BACK before the end of its last part plus, when a
// part is hinted, one part target (it counts the hinted part at that
// duration). It returns the part the start falls in and how far into it.
func shakaStart(mp *mediaPlaylist) (part, float64, error) {
	phb, err := strconv.ParseFloat(mp.tags["EXT-X-SERVER-CONTROL"][0].attrs["PART-HOLD-BACK"], 64)
	if err != nil {
		return part{}, 0, err
	}
	type span struct {
		p     part
		start float64
	}
	var spans []span
	t := 0.0
	for _, s := range mp.segments {
		pt := t
		for _, p := range s.parts {
			spans = append(spans, span{p, pt})
			pt += p.duration
		}
		if len(s.parts) == 0 { // a whole segment starts with a keyframe
			spans = append(spans, span{part{duration: s.duration, uri: s.uri, independent: true}, t})
		}
		t += s.duration
	}
	for _, p := range mp.tailParts {
		spans = append(spans, span{p, t})
		t += p.duration
	}
	if mp.hint != nil {
		t += mp.partTgt
	}
	start := t - phb
	for _, s := range spans {
		if start >= s.start && start < s.start+s.p.duration {
			return s.p, start - s.start, nil
		}
	}
	return part{}, 0, fmt.Errorf("start %.3f s (edge %.3f s less PART-HOLD-BACK %.3f s) in no listed part", start, t, phb)
}

// TestSubStartsOnAKeyframe: the sub stream's LL-HLS playlist (1 s parts,
// a keyframe every other part) has a PART-HOLD-BACK that starts Shaka
// Player a tenth of a part into an independent part, whichever part the
// playlist ends on, and never under three part targets; main keeps
// gohlslib's 2.5. With gohlslib's 2.5 part targets the start fell half a part
// into a part, half the time one after the GOP's keyframe part, and Shaka
// played half a second of the two parts it loaded and stalled.
func TestSubStartsOnAKeyframe(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	for _, s := range []access.StreamID{access.StreamMain, access.StreamSub} {
		cam := simcam.New(t, simcam.Config{ID: "cam-a", Secret: secret, Width: 160, Height: 96, FPS: fps, GOP: 2 * fps})
		fd := simcam.Publish(t, f.h, "cam-a", s, cam, nil)
		if err := fd.Frame(); err != nil {
			t.Fatal(err)
		}
		fd.Live(t)
	}
	get := func(s access.StreamID) *mediaPlaylist {
		b := mustGet(t, f.url("/g/cam-a/"+string(s)+"/ll/index.m3u8"))
		mp, err := parseMedia(b)
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		return mp
	}
	testkit.WaitFor(t, 20*time.Second, "three segments with their parts", func() error {
		mp := get(access.StreamSub)
		withParts := 0
		for _, s := range mp.segments {
			if len(s.parts) > 0 {
				withParts++
			}
		}
		if withParts < 3 {
			return fmt.Errorf("%d segments with parts", withParts)
		}
		return nil
	})
	ends := map[bool]int{} // playlists by whether they end within a segment
	for range 8 {
		mp := get(access.StreamSub)
		phb := mp.tags["EXT-X-SERVER-CONTROL"][0].attrs["PART-HOLD-BACK"]
		p, into, err := shakaStart(mp)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := strconv.ParseFloat(phb, 64); v < 3*mp.partTgt-1e-9 {
			t.Errorf("sub PART-HOLD-BACK %s under three part targets of %.3f s (RFC 8216bis §4.4.3.8 SHOULD)", phb, mp.partTgt)
		}
		if !p.independent || into > mp.partTgt/4 {
			t.Errorf("sub PART-HOLD-BACK %s: Shaka starts %.3f s into %s (independent %v), want within a quarter part of an independent one",
				phb, into, p.uri, p.independent)
		}
		// A playlist ends on a whole segment (the next GOP's first part
		// hinted) or on a GOP's keyframe part.
		ends[len(mp.tailParts) > 0]++
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("playlists ending on a GOP's keyframe part: %d, on a whole segment: %d", ends[true], ends[false])
	mp := get(access.StreamMain)
	if phb := mp.tags["EXT-X-SERVER-CONTROL"][0].attrs["PART-HOLD-BACK"]; !strings.HasPrefix(phb, strconv.FormatFloat(2.5*mp.partTgt, 'f', 3, 64)) {
		t.Errorf("main PART-HOLD-BACK %s, want gohlslib's 2.5 part targets of %.3f s", phb, mp.partTgt)
	}
}

// TestKeyframeHoldBack: the PART-HOLD-BACK that starts a player counting
// the hinted part a tenth into the newest independent part at least three
// part targets (and the playlist's own hold-back) from the edge, for a playlist ending in either
// half of a two-part GOP, one without a hint, one whose GOP is four parts;
// a playlist with no part that fits, or no PART-HOLD-BACK, is left alone.
func TestKeyframeHoldBack(t *testing.T) {
	t.Parallel()
	head := "#EXTM3U\n#EXT-X-VERSION:10\n#EXT-X-TARGETDURATION:2\n" +
		"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=2.50000,CAN-SKIP-UNTIL=12.00000\n" +
		"#EXT-X-PART-INF:PART-TARGET=1.00000\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-MAP:URI=\"init.mp4\"\n"
	part := func(n int, key bool) string {
		s := fmt.Sprintf("#EXT-X-PART:DURATION=1.00000,URI=\"part%d.mp4?token=T\"", n)
		if key {
			s += ",INDEPENDENT=YES"
		}
		return s + "\n"
	}
	seg := func(n int, parts string) string {
		return parts + fmt.Sprintf("#EXTINF:2.00000,\nseg%d.mp4?token=T\n", n)
	}
	hint := func(n int) string {
		return fmt.Sprintf("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part%d.mp4?token=T\"\n", n)
	}
	for _, c := range []struct {
		name, pl, want string
	}{
		{"ends on a GOP's last part", head + seg(7, "") + seg(8, part(0, true)+part(1, false)) + seg(9, part(2, true)+part(3, false)) + hint(4), "4.90000"},
		{"ends on a GOP's keyframe part", head + seg(7, "") + seg(8, part(0, true)+part(1, false)) + seg(9, part(2, true)+part(3, false)) + part(4, true) + hint(5), "3.90000"},
		{"no hint", head + seg(7, "") + seg(8, part(0, true)+part(1, false)) + seg(9, part(2, true)+part(3, false)) + part(4, true), "4.90000"},
		{"four-part GOP", head + "#EXTINF:4.00000,\nseg7.mp4\n" + part(0, true) + part(1, false) + part(2, false) + part(3, false) + "#EXTINF:4.00000,\nseg8.mp4\n" +
			part(4, true) + hint(5), "5.90000"},
		{"whole segments only", head + seg(7, "") + seg(8, "") + part(0, true) + hint(1), "3.90000"},
		{"nothing far enough", head + part(0, true) + hint(1), "2.50000"},
		{"no hold-back", strings.Replace(head, "PART-HOLD-BACK=2.50000,", "", 1) + seg(7, part(0, true)+part(1, false)) + hint(2), ""},
	} {
		got := string(keyframeHoldBack([]byte(c.pl)))
		mp, err := parseMedia([]byte(got))
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, got)
		}
		if phb := mp.tags["EXT-X-SERVER-CONTROL"][0].attrs["PART-HOLD-BACK"]; phb != c.want {
			t.Errorf("%s: PART-HOLD-BACK %q, want %q\n%s", c.name, phb, c.want, got)
		}
		if c.want == "2.50000" || c.want == "" {
			if got != c.pl {
				t.Errorf("%s: changed:\n%s", c.name, got)
			}
		} else if strings.Replace(got, "PART-HOLD-BACK="+c.want, "PART-HOLD-BACK=2.50000", 1) != c.pl {
			t.Errorf("%s: changed more than PART-HOLD-BACK:\n%s", c.name, got)
		}
	}
}
