package hls

import (
	"encoding/hex"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/sim"
	"vigil/internal/testkit/simcam"
)

// TestMediaPlaylistRules reloads each variant's live media playlist for a
// few seconds and checks every version against RFC 8216 and the LL-HLS
// rules of draft-pantos-hls-rfc8216bis, and each reload against the one
// before it.
func TestMediaPlaylistRules(t *testing.T) {
	t.Parallel()
	for _, v := range []Variant{VariantLL, VariantFMP4, VariantTS} {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			publish(t, f.h, "cam-a", access.StreamMain, 320, 240, nil)
			base := f.url("/g/cam-a/main/" + string(v) + "/index.m3u8")
			var prev *mediaPlaylist
			reloads := 0
			for end := time.Now().Add(3500 * time.Millisecond); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
				b := mustGet(t, base)
				pl, err := parseMedia(b)
				if err != nil {
					t.Fatalf("%v\n%s", err, b)
				}
				checkMedia(t, v, pl, b)
				if prev != nil {
					checkReload(t, prev, pl)
				}
				prev = pl
				reloads++
			}
			if last := prev.segments[len(prev.segments)-1].seq; last-firstReal(prev) < 2 {
				t.Errorf("after %d reloads the playlist has segments up to %d only", reloads, last)
			}
			// The newest segment is served.
			seg := prev.segments[len(prev.segments)-1]
			if code, body := get(t, resolve(base, seg.uri)); code != http.StatusOK || len(body) == 0 {
				t.Errorf("segment %s: %d, %d bytes", seg.uri, code, len(body))
			}
			if v == VariantLL {
				// §6.2.6: a request for the preload hint's part blocks until it exists.
				pl, err := parseMedia(mustGet(t, base))
				if err != nil {
					t.Fatal(err)
				}
				t0 := time.Now()
				code, body := get(t, resolve(base, pl.hint.attrs["URI"]))
				if code != http.StatusOK || len(body) == 0 {
					t.Errorf("preload hint %s: %d, %d bytes", pl.hint.attrs["URI"], code, len(body))
				}
				t.Logf("preload hint part served after %v", time.Since(t0).Round(time.Millisecond))
			}
		})
	}
}

func firstReal(pl *mediaPlaylist) int {
	for _, s := range pl.segments {
		if !s.gap {
			return s.seq
		}
	}
	return math.MaxInt
}

// checkMedia checks the rules that hold for one version of a media playlist.
func checkMedia(t *testing.T, v Variant, pl *mediaPlaylist, raw []byte) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf(format+"\n%s", append(args, raw)...)
	}
	once := func(name string) {
		if n := len(pl.tags[name]); n != 1 {
			fail("%s appears %d times, want once", name, n)
		}
	}
	once("EXT-X-VERSION")
	once("EXT-X-TARGETDURATION") // §4.3.3.1: REQUIRED
	if len(pl.segments) == 0 {
		fail("no segment")
		return
	}
	for _, s := range pl.segments {
		// §4.3.3.1: the EXTINF duration of each segment, rounded to the
		// nearest integer, MUST be less than or equal to the target duration.
		if r := int(math.Round(s.duration)); r > pl.target {
			fail("segment %d: EXTINF %.5f rounds to %d > EXT-X-TARGETDURATION %d", s.seq, s.duration, r, pl.target)
		}
		if s.duration <= 0 {
			fail("segment %d: EXTINF %.5f", s.seq, s.duration)
		}
	}
	if v == VariantTS {
		if pl.mapURI != "" {
			fail("MPEG-TS playlist with EXT-X-MAP")
		}
		return
	}
	// §4.3.2.5 and §7: EXT-X-MAP for fMP4, which needs version 6 or more.
	if pl.mapURI == "" {
		fail("fMP4 playlist without EXT-X-MAP")
	}
	if pl.version < 6 {
		fail("EXT-X-MAP needs EXT-X-VERSION 6 or more, have %d", pl.version)
	}
	if v != VariantLL {
		for name := range pl.tags {
			if slices.ContainsFunc(llTags, func(t []byte) bool { return string(t) == "#"+name+":" }) {
				fail("a plain fMP4 playlist with the LL-HLS tag %s", name)
			}
		}
		return
	}
	once("EXT-X-PART-INF")
	once("EXT-X-SERVER-CONTROL")
	sc := pl.tags["EXT-X-SERVER-CONTROL"][0].attrs
	if sc["CAN-BLOCK-RELOAD"] != "YES" {
		fail("LL-HLS playlist without CAN-BLOCK-RELOAD=YES")
	}
	// §4.4.3.8: PART-HOLD-BACK is REQUIRED with EXT-X-PART-INF and MUST be at
	// least twice the part target.
	if phb, err := strconv.ParseFloat(sc["PART-HOLD-BACK"], 64); err != nil || phb < 2*pl.partTgt {
		fail("PART-HOLD-BACK %q, want at least 2 × PART-TARGET %.5f", sc["PART-HOLD-BACK"], pl.partTgt)
	}
	// §4.4.4.9: a Preload Hint of TYPE=PART must be present (and hls.js needs it).
	if pl.hint == nil || pl.hint.attrs["TYPE"] != "PART" || pl.hint.attrs["URI"] == "" {
		fail("LL-HLS playlist without EXT-X-PRELOAD-HINT:TYPE=PART")
	}
	checkParts := func(where string, parts []part) {
		for i, p := range parts {
			// §4.4.3.7: every partial segment's duration is at most PART-TARGET.
			if p.duration > pl.partTgt {
				fail("%s part %d: duration %.5f > PART-TARGET %.5f", where, i, p.duration, pl.partTgt)
			}
			if p.uri == "" {
				fail("%s part %d without URI", where, i)
			}
		}
		// Segments start at keyframes, so their first part is independent.
		if len(parts) > 0 && !parts[0].independent {
			fail("%s: first part not INDEPENDENT=YES", where)
		}
	}
	for _, s := range pl.segments {
		if len(s.parts) == 0 {
			continue
		}
		checkParts("segment "+strconv.Itoa(s.seq), s.parts)
		// A segment's parts together are the segment.
		sum := 0.0
		for _, p := range s.parts {
			sum += p.duration
		}
		if math.Abs(sum-s.duration) > 0.001*float64(len(s.parts)) {
			fail("segment %d: parts sum to %.5f, EXTINF %.5f", s.seq, sum, s.duration)
		}
	}
	checkParts("segment in progress", pl.tailParts)
}

// checkReload checks a reload against the previous version (§6.2.1, §6.3.4):
// the media sequence number never decreases, a sequence number keeps naming
// the same segment, and no segment is skipped between reloads.
func checkReload(t *testing.T, prev, cur *mediaPlaylist) {
	t.Helper()
	if cur.msn < prev.msn {
		t.Errorf("EXT-X-MEDIA-SEQUENCE went back from %d to %d", prev.msn, cur.msn)
	}
	if cur.target != prev.target {
		t.Errorf("EXT-X-TARGETDURATION changed from %d to %d (§6.2.1 forbids)", prev.target, cur.target)
	}
	bySeq := map[int]segment{}
	for _, s := range prev.segments {
		bySeq[s.seq] = s
	}
	for _, s := range cur.segments {
		if p, ok := bySeq[s.seq]; ok && (p.uri != s.uri || p.duration != s.duration) {
			t.Errorf("media sequence %d was %s (%.5f s), is now %s (%.5f s)", s.seq, p.uri, p.duration, s.uri, s.duration)
		}
	}
	prevLast := prev.segments[len(prev.segments)-1].seq
	curLast := cur.segments[len(cur.segments)-1].seq
	if curLast < prevLast {
		t.Errorf("last segment went back from %d to %d", prevLast, curLast)
	}
	if cur.segments[0].seq > prevLast+1 {
		t.Errorf("segments %d..%d vanished between reloads", prevLast+1, cur.segments[0].seq-1)
	}
}

// TestBlockingReload asks for the next part with _HLS_msn/_HLS_part
// (§6.2.5.2): the request must block until the part exists and then return
// a playlist listing it, the part the previous preload hint announced.
func TestBlockingReload(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	publish(t, f.h, "cam-a", access.StreamMain, 320, 240, nil)
	base := f.url("/g/cam-a/main/ll/index.m3u8")
	pl, err := parseMedia(mustGet(t, base))
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		msn := pl.segments[len(pl.segments)-1].seq + 1
		partN := len(pl.tailParts)
		hint := pl.hint.attrs["URI"]
		t0 := time.Now()
		b := mustGet(t, base+"?_HLS_msn="+strconv.Itoa(msn)+"&_HLS_part="+strconv.Itoa(partN))
		waited := time.Since(t0)
		next, err := parseMedia(b)
		if err != nil {
			t.Fatal(err)
		}
		checkMedia(t, VariantLL, next, b)
		found := false
		for _, s := range next.segments {
			for _, p := range s.parts {
				found = found || strings.HasPrefix(p.uri, hint)
			}
		}
		for _, p := range next.tailParts {
			found = found || strings.HasPrefix(p.uri, hint)
		}
		if !found {
			t.Errorf("blocking reload for msn %d part %d returned without the hinted part %s:\n%s", msn, partN, hint, b)
		}
		t.Logf("msn %d part %d: returned after %v", msn, partN, waited.Round(time.Millisecond))
		if max := 3 * time.Duration(pl.partTgt*float64(time.Second)); waited > max+500*time.Millisecond {
			t.Errorf("blocking reload took %v for a part target of %.3f s", waited, pl.partTgt)
		}
		pl = next
	}
	// §6.2.5.2: an _HLS_msn beyond the last segment plus two gets 400 at once.
	far := pl.segments[len(pl.segments)-1].seq + 10
	t0 := time.Now()
	if code, _ := get(t, base+"?_HLS_msn="+strconv.Itoa(far)); code != http.StatusBadRequest || time.Since(t0) > time.Second {
		t.Errorf("far future _HLS_msn: %d after %v, want 400 at once", code, time.Since(t0))
	}
}

// TestMultivariant parses our multivariant playlist: sub then main (the
// lowest BANDWIDTH first, a player's start variant), the
// RESOLUTION of each stream's SPS, RFC 6381 CODECS, a plausible BANDWIDTH,
// the request's query carried into the URIs, and URIs that resolve to media
// playlists.
func TestMultivariant(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	publish(t, f.h, "cam-a", access.StreamMain, 320, 240, &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1})
	publish(t, f.h, "cam-a", access.StreamSub, 160, 120, nil)
	publish(t, f.h, "cam-b", access.StreamMain, 640, 360, nil)
	time.Sleep(200 * time.Millisecond)
	want := map[string]struct {
		res   string
		codec string
	}{}
	for _, s := range []struct {
		name string
		w, h int
	}{{"main", 320, 240}, {"sub", 160, 120}} {
		g, _ := sim.NewGenerator(s.w, s.h, fps, gop, nil)
		want[s.name] = struct{ res, codec string }{strconv.Itoa(s.w) + "x" + strconv.Itoa(s.h), "avc1." + hex.EncodeToString(g.SPS()[1:4])}
	}
	for _, v := range []Variant{VariantLL, VariantFMP4, VariantTS} {
		t.Run(string(v), func(t *testing.T) {
			u := f.url("/g/cam-a/" + string(v) + ".m3u8?token=t0k%22en")
			b := mustGet(t, u)
			pl, err := parseMultivariant(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if len(pl.variants) != 2 {
				t.Fatalf("%d variant streams, want main and sub:\n%s", len(pl.variants), b)
			}
			var bw [2]int // sub, main
			for i, name := range []string{"sub", "main"} {
				vs := pl.variants[i]
				wantURI := name + "/" + string(v) + "/index.m3u8?token=t0k%22en"
				if vs.uri != wantURI {
					t.Errorf("variant %d URI %q, want %q", i, vs.uri, wantURI)
				}
				if vs.attrs["RESOLUTION"] != want[name].res {
					t.Errorf("%s: RESOLUTION %q, want %q", name, vs.attrs["RESOLUTION"], want[name].res)
				}
				if vs.attrs["CODECS"] != want[name].codec { // G.711 has no HLS codec: dropped
					t.Errorf("%s: CODECS %q, want %q", name, vs.attrs["CODECS"], want[name].codec)
				}
				// The sim's keyframes carry SEI stamps, but no captions.
				if vs.attrs["CLOSED-CAPTIONS"] != "NONE" {
					t.Errorf("%s: CLOSED-CAPTIONS %q, want NONE", name, vs.attrs["CLOSED-CAPTIONS"])
				}
				bw[i], err = strconv.Atoi(vs.attrs["BANDWIDTH"])
				if err != nil || bw[i] <= 0 {
					t.Errorf("%s: BANDWIDTH %q", name, vs.attrs["BANDWIDTH"])
				}
				media := mustGet(t, resolve(u, vs.uri))
				mp, err := parseMedia(media)
				if err != nil {
					t.Errorf("%s: %s is not a media playlist: %v\n%s", name, vs.uri, err, media)
				}
				// Sub, the rung for poor links, has parts of a second:
				// one a round trip does not fall behind real time there.
				if want := map[string][2]float64{"sub": {1, 2}, "main": {0.2, 0.5}}[name]; v == VariantLL && mp != nil &&
					(mp.partTgt < want[0] || mp.partTgt >= want[1]) {
					t.Errorf("%s: PART-TARGET %v, want within [%v, %v)", name, mp.partTgt, want[0], want[1])
				}
			}
			// The I_PCM keyframe dominates: about 8 × 1.5 bytes a pixel each second.
			if lo, hi := 320*240*12*8/10, 320*240*12*3; bw[1] < lo || bw[1] > hi {
				t.Errorf("main BANDWIDTH %d, want within [%d, %d]", bw[1], lo, hi)
			}
			if bw[0] >= bw[1] {
				t.Errorf("sub BANDWIDTH %d not below main's %d", bw[0], bw[1])
			}
			t.Logf("%s", b)
		})
	}
	// A camera with its main stream only lists that.
	pl, err := parseMultivariant(mustGet(t, f.url("/g/cam-b/ll.m3u8")))
	if err != nil || len(pl.variants) != 1 || pl.variants[0].attrs["RESOLUTION"] != "640x360" {
		t.Errorf("cam-b: %v %+v", err, pl)
	}
	// An offline camera: 503 with a reason.
	if code, body := get(t, f.url("/g/cam-x/ll.m3u8")); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "offline") {
		t.Errorf("offline camera: %d %q", code, body)
	}
}

// TestLayoutMatchesGohlslib checks the playlist names we serve as
// index.m3u8 and list as audio renditions against gohlslib's own
// multivariant playlist, for a camera with AAC, where gohlslib's fMP4
// variants put audio in a rendition of its own.
func TestLayoutMatchesGohlslib(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	aac := &format.MPEG4Audio{PayloadTyp: 97, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
		Config: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 1}}
	publish(t, f.h, "cam-a", access.StreamMain, 320, 240, aac)
	for _, v := range []Variant{VariantLL, VariantFMP4, VariantTS} {
		t.Run(string(v), func(t *testing.T) {
			u := f.url("/g/cam-a/" + string(v) + ".m3u8")
			b := mustGet(t, u)
			pl, err := parseMultivariant(b)
			if err != nil {
				t.Fatal(err)
			}
			if got := pl.variants[0].attrs["CODECS"]; !strings.HasSuffix(got, ",mp4a.40.2") {
				t.Errorf("CODECS %q, want H.264 and AAC-LC", got)
			}
			media := pl.tags["EXT-X-MEDIA"]
			if v == VariantTS {
				if len(media) != 0 {
					t.Errorf("MPEG-TS muxes audio with video; got a rendition:\n%s", b)
				}
			} else {
				if len(media) != 1 || media[0].attrs["TYPE"] != "AUDIO" || media[0].attrs["GROUP-ID"] != pl.variants[0].attrs["AUDIO"] {
					t.Fatalf("want one audio rendition tied to the variant:\n%s", b)
				}
				if _, err := parseMedia(mustGet(t, resolve(u, media[0].attrs["URI"]))); err != nil {
					t.Errorf("audio rendition: %v", err)
				}
			}
			if _, err := parseMedia(mustGet(t, resolve(u, pl.variants[0].uri))); err != nil {
				t.Errorf("index.m3u8: %v", err)
			}

			// gohlslib's own multivariant playlist names the same files.
			f.m.mu.Lock()
			x := f.m.muxers[muxerKey{device: "cam-a", stream: access.StreamMain, variant: v.muxed()}]
			f.m.mu.Unlock()
			rec := httptest.NewRecorder()
			x.hm.Handle(rec, httptest.NewRequest(http.MethodGet, "/index.m3u8", nil))
			own, err := parseMultivariant(rec.Body.Bytes())
			if err != nil {
				t.Fatalf("gohlslib's multivariant: %v\n%s", err, rec.Body.Bytes())
			}
			if own.variants[0].uri != x.layout.index {
				t.Errorf("gohlslib's variant playlist is %q, we serve %q as index.m3u8", own.variants[0].uri, x.layout.index)
			}
			ownAudio := ""
			for _, r := range own.tags["EXT-X-MEDIA"] {
				ownAudio = r.attrs["URI"]
			}
			if ownAudio != x.layout.audio {
				t.Errorf("gohlslib's audio rendition is %q, we list %q", ownAudio, x.layout.audio)
			}
		})
	}
}

// TestBandwidthFromMeasuredRate: before any muxer has measured a stream,
// BANDWIDTH comes from the camera's measured rate, the whole previous GOP
// in the hub's cache, not from the current GOP when it has only begun
// (mostly its keyframe): a camera whose P frames carry most of its bytes
// is not advertised below its rate.
func TestBandwidthFromMeasuredRate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	gen, err := sim.NewGenerator(320, 240, fps, gop, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.h.Publish("cam-a", access.StreamMain, []*media.Track{{Kind: media.Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	const keyBytes, pBytes = 1000, 10000
	unit := func(n int) hub.UnitData {
		pts := time.Duration(n) * time.Second / fps
		if n%gop == 0 {
			idr := append([]byte{0x65}, make([]byte, keyBytes)...)
			return hub.UnitData{PTS: pts, Key: true, Payload: [][]byte{gen.SPS(), gen.PPS(), idr}}
		}
		return hub.UnitData{PTS: pts, Payload: [][]byte{append([]byte{0x41}, make([]byte, pBytes)...)}}
	}
	for n := range gop + 2 { // a whole GOP, then a keyframe and one P frame
		if err := p.Write(0, unit(n)); err != nil {
			t.Fatal(err)
		}
	}
	rate := (keyBytes + (gop-1)*pBytes) * 8 * fps / gop // bits/s of the whole GOP
	pl, err := parseMultivariant(mustGet(t, f.url("/g/cam-a/ll.m3u8")))
	if err != nil {
		t.Fatal(err)
	}
	bw, err := strconv.Atoi(pl.variants[0].attrs["BANDWIDTH"])
	if err != nil || bw < rate || bw > 2*rate {
		t.Errorf("BANDWIDTH %d (%v), want at least the measured %d and at most twice it", bw, err, rate)
	}
}

// TestMultivariantOrder: the variants are listed from the lowest BANDWIDTH
// up, whatever order the streams were asked in, equal rates in the asked
// order. The first listed is where a player without an estimate of its link
// starts (hls.js when none fits its default 500 kbit/s estimate): main first
// sent hls.js behind an 800 kbit/s link to a 1 MB segment before it could
// step down.
func TestMultivariantOrder(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		in   []streamEntry
		want []access.StreamID
	}{
		{"main heavier", []streamEntry{{stream: access.StreamMain, bandwidth: 4_308_145}, {stream: access.StreamSub, bandwidth: 620_012}},
			[]access.StreamID{access.StreamSub, access.StreamMain}},
		{"sub heavier", []streamEntry{{stream: access.StreamMain, bandwidth: 300_000}, {stream: access.StreamSub, bandwidth: 900_000}},
			[]access.StreamID{access.StreamMain, access.StreamSub}},
		{"equal", []streamEntry{{stream: access.StreamMain, bandwidth: 500_000}, {stream: access.StreamSub, bandwidth: 500_000}},
			[]access.StreamID{access.StreamMain, access.StreamSub}},
	} {
		sortByBandwidth(c.in)
		pl, err := parseMultivariant(multivariantPlaylist(c.in, VariantLL, "token=T"))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []access.StreamID
		for _, v := range pl.variants {
			got = append(got, access.StreamID(strings.SplitN(v.uri, "/", 2)[0]))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: variants listed %v, want %v", c.name, got, c.want)
		}
	}
}

// TestSubSequenceCountsSegments: the sub stream's LL-HLS playlist (1 s
// parts, a camera's 2 s GOPs: two parts a segment) numbers its segments
// one by one: each listed segment's sequence number (EXT-X-MEDIA-SEQUENCE
// plus its place) starts one segment's duration after the one before, by
// EXT-X-PROGRAM-DATE-TIME, and a blocking reload for the second part of the
// next segment (§6.2.5.2 _HLS_msn, _HLS_part) returns once that part
// exists, within about two part targets. gohlslib names part files by a
// count across the stream, so the first parts of successive segments are
// _part2, _part4, _part6…: those are names, not numbers a player counts
// with.
func TestSubSequenceCountsSegments(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	cam := simcam.New(t, simcam.Config{ID: "cam-a", Secret: secret, Width: 160, Height: 120, FPS: fps, GOP: 2 * fps})
	feed := simcam.Publish(t, f.h, "cam-a", access.StreamSub, cam, nil)
	if err := feed.Frame(); err != nil {
		t.Fatal(err)
	}
	feed.Live(t)
	base := f.url("/g/cam-a/sub/ll/index.m3u8")
	seen := map[int]segment{}
	var pl *mediaPlaylist
	for end := time.Now().Add(9 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		b := mustGet(t, base)
		var err error
		if pl, err = parseMedia(b); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		for _, s := range pl.segments {
			if s.pdt.IsZero() { // gohlslib dates only the newest segments
				s.pdt = seen[s.seq].pdt
			}
			seen[s.seq] = s
		}
	}
	checked := 0
	for seq, s := range seen {
		next, ok := seen[seq+1]
		if !ok || s.pdt.IsZero() || next.pdt.IsZero() {
			continue
		}
		checked++
		if gap := next.pdt.Sub(s.pdt).Seconds(); math.Abs(gap-s.duration) > 0.1 {
			t.Errorf("segment %d starts %.3f s after segment %d, which lasts %.3f s: its number does not count segments", seq+1, gap, seq, s.duration)
		}
	}
	if checked < 2 {
		t.Fatalf("only %d pairs of numbered segments with dates seen in 9 s", checked)
	}
	msn := pl.segments[len(pl.segments)-1].seq + 1
	t0 := time.Now()
	b := mustGet(t, base+"?_HLS_msn="+strconv.Itoa(msn)+"&_HLS_part=1")
	waited := time.Since(t0)
	next, err := parseMedia(b)
	if err != nil {
		t.Fatal(err)
	}
	last := next.segments[len(next.segments)-1]
	if !(last.seq > msn || (last.seq == msn && len(last.parts) >= 2) || (last.seq == msn-1 && len(next.tailParts) >= 2)) {
		t.Errorf("blocking reload for segment %d part 1 returned without it:\n%s", msn, b)
	}
	if waited > 3500*time.Millisecond {
		t.Errorf("blocking reload for segment %d part 1 took %v; the segment's second part is at most 2 s away", msn, waited)
	}
}
