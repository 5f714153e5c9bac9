package hls

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/sim"
	"vigil/internal/testkit"
	"vigil/internal/testkit/simcam"
)

// TestNoGapSegments: a cold playlist, fetched with nothing but a token in
// its query, lists no EXT-X-GAP segment, lists at least minSegments
// segments, and every URI in it (init, segments, parts, preload hint)
// carries the token and answers 200. Sequence numbers are gohlslib's, so
// blocking reloads still name the right segments.
func TestNoGapSegments(t *testing.T) {
	t.Parallel()
	for _, v := range []Variant{VariantLL, VariantFMP4, VariantTS} {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			publish(t, f.h, "cam-a", access.StreamMain, 320, 240, nil)
			time.Sleep(1200 * time.Millisecond) // the hub holds a previous GOP: a warm camera, a cold muxer
			base := f.url("/g/cam-a/main/" + string(v) + "/index.m3u8?token=t0k")
			b := mustGet(t, base)
			pl, err := parseMedia(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			checkMedia(t, v, pl, b)
			want := minSegments
			if strings.Contains(string(b), "GAP") || len(pl.segments) < want {
				t.Fatalf("cold playlist: %d segments, want %d and no gap:\n%s", len(pl.segments), want, b)
			}
			uris := []string{}
			if pl.mapURI != "" {
				uris = append(uris, pl.mapURI)
			}
			for _, s := range pl.segments {
				uris = append(uris, s.uri)
				for _, p := range s.parts {
					uris = append(uris, p.uri)
				}
			}
			for _, p := range pl.tailParts {
				uris = append(uris, p.uri)
			}
			if pl.hint != nil {
				uris = append(uris, pl.hint.attrs["URI"])
			}
			for _, u := range uris {
				if !strings.HasSuffix(u, "?token=t0k") {
					t.Errorf("URI %q lost the token", u)
				}
				if code, body := get(t, resolve(base, u)); code != http.StatusOK || len(body) == 0 {
					t.Errorf("%s: %d, %d bytes", u, code, len(body))
				}
			}

			f.m.mu.Lock()
			x := f.m.muxers[muxerKey{"cam-a", access.StreamMain, v.muxed(), 0}]
			f.m.mu.Unlock()
			rec := httptest.NewRecorder()
			x.hm.Handle(rec, httptest.NewRequest(http.MethodGet, "/"+x.layout.index, nil))
			own, err := parseMedia(rec.Body.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			wantGaps := 0
			if v.muxed() == VariantLL {
				wantGaps = initialGaps
			}
			gaps := 0
			for _, s := range own.segments {
				if s.gap {
					gaps++
					if s.seq >= initialGaps {
						t.Errorf("gohlslib's gap at sequence %d, want below %d", s.seq, initialGaps)
					}
				}
			}
			if own.msn == 0 && gaps != wantGaps {
				t.Errorf("gohlslib padded with %d gaps, want %d (initialGaps)", gaps, wantGaps)
			}
			if first := own.segments[gaps]; own.msn == 0 && first.seq != pl.segments[0].seq {
				t.Errorf("first segment: gohlslib's sequence %d, ours %d", first.seq, pl.segments[0].seq)
			}
		})
	}
}

// TestWindowed covers the rewrite on the playlists gohlslib writes: full,
// and delta updates that skip some or all of the gaps; with a window, the
// oldest segments beyond it go, skipped ones first, each with its tags,
// and the parts of the segment in progress stay.
func TestWindowed(t *testing.T) {
	const head = "#EXTM3U\n#EXT-X-VERSION:10\n#EXT-X-TARGETDURATION:1\n"
	gap := "#EXT-X-GAP\n#EXTINF:1.00000,\ngap.mp4\n"
	seg := func(n string) string {
		return "#EXT-X-PART:DURATION=0.2,URI=\"p" + n + ".mp4?t=1\"\n#EXTINF:1.00000,\ns" + n + ".mp4?t=1\n"
	}
	tail := "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p9.mp4?t=1\"\n"
	pdt := func(n string) string { return "#EXT-X-PROGRAM-DATE-TIME:2026-12-03T11:00:0" + n + "Z\n" + seg(n) }
	tailParts := "#EXT-X-PART:DURATION=0.2,URI=\"q.mp4?t=1\"\n" + tail
	for _, tt := range []struct {
		name, in, want string
		keep, segments int
	}{
		{"full", head + "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-MAP:URI=\"i.mp4?t=1\"\n" + strings.Repeat(gap, 7) + seg("7") + tail,
			head + "#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-MAP:URI=\"i.mp4?t=1\"\n" + seg("7") + tail, 0, 1},
		{"rolling off", head + "#EXT-X-MEDIA-SEQUENCE:5\n" + strings.Repeat(gap, 2) + seg("7") + seg("8") + tail,
			head + "#EXT-X-MEDIA-SEQUENCE:7\n" + seg("7") + seg("8") + tail, 0, 2},
		{"delta skips some gaps", head + "#EXT-X-MEDIA-SEQUENCE:2\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n" + strings.Repeat(gap, 2) + seg("7") + tail,
			head + "#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-SKIP:SKIPPED-SEGMENTS=0\n" + seg("7") + tail, 0, 1},
		{"delta skips gaps and segments", head + "#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n" + seg("9") + tail,
			head + "#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n" + seg("9") + tail, 0, 3},
		{"no gaps", head + "#EXT-X-MEDIA-SEQUENCE:12\n" + seg("12") + seg("13"), head + "#EXT-X-MEDIA-SEQUENCE:12\n" + seg("12") + seg("13"), 0, 2},
		{"window", head + "#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-MAP:URI=\"i.mp4?t=1\"\n" + strings.Repeat(gap, 2) +
			seg("7") + seg("8") + seg("9") + pdt("10") + pdt("11") + tailParts,
			head + "#EXT-X-MEDIA-SEQUENCE:9\n#EXT-X-MAP:URI=\"i.mp4?t=1\"\n" + seg("9") + pdt("10") + pdt("11") + tailParts, 3, 3},
		{"window within", head + "#EXT-X-MEDIA-SEQUENCE:12\n" + seg("12") + seg("13"), head + "#EXT-X-MEDIA-SEQUENCE:12\n" + seg("12") + seg("13"), 7, 2},
		{"window from skipped", head + "#EXT-X-MEDIA-SEQUENCE:20\n#EXT-X-SKIP:SKIPPED-SEGMENTS=5\n" + seg("25") + seg("26") + tail,
			head + "#EXT-X-MEDIA-SEQUENCE:24\n#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n" + seg("25") + seg("26") + tail, 3, 3},
		{"window past skipped", head + "#EXT-X-MEDIA-SEQUENCE:20\n#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n" + seg("21") + seg("22") + seg("23") + tail,
			head + "#EXT-X-MEDIA-SEQUENCE:22\n#EXT-X-SKIP:SKIPPED-SEGMENTS=0\n" + seg("22") + seg("23") + tail, 2, 2},
		{"window and skipped gaps", head + "#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n" + seg("9") + seg("10") + tail,
			head + "#EXT-X-MEDIA-SEQUENCE:9\n#EXT-X-SKIP:SKIPPED-SEGMENTS=0\n" + seg("9") + seg("10") + tail, 2, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, n := windowed([]byte(tt.in), tt.keep)
			if string(got) != tt.want || n != tt.segments {
				t.Errorf("got %d segments:\n%s\nwant %d:\n%s", n, got, tt.segments, tt.want)
			}
		})
	}
}

// TestLongGOPNoWaitInVain: a starting player of a camera with 6-second
// GOPs is not held for startWait waiting for a segment that cannot close
// before it (the next keyframe is 6 s away): it gets the segment the hub's
// cache closed at once. (With 1-second GOPs TestNoGapSegments shows the
// wait for minSegments.)
//
// fMP4 included: its playlist comes with the one segment there is, where
// gohlslib's own fMP4 muxer waited for a second, another 6 s (here, where
// the camera sends no further keyframe, until the muxer stalled).
func TestLongGOPNoWaitInVain(t *testing.T) {
	t.Parallel()
	const longGOP = 6 * fps
	for _, v := range []Variant{VariantLL, VariantFMP4, VariantTS} {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			publishFrames(t, f, longGOP)(longGOP + 3) // a whole GOP, then a keyframe and two P frames
			start := time.Now()
			pl, err := parseMedia(mustGet(t, f.url("/g/cam-a/main/"+string(v)+"/index.m3u8")))
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if len(pl.segments) == 0 || took >= startWait/2 {
				t.Errorf("first playlist after %v with %d segments; want the cached GOP's segment at once, not after startWait (%v)",
					took.Round(time.Millisecond), len(pl.segments), startWait)
			}
		})
	}
}

// TestStartingPlayerGetsAWholeSegment: a starting player is not served a
// playlist of parts alone when startWait passes before the first segment
// closes (a loaded machine, a camera with long GOPs): gohlslib holds the
// request until that segment closes, and mediaPlaylist relies on it (Shaka,
// not in low-latency mode, drops parts and has nothing to play from a
// playlist without a whole segment).
func TestStartingPlayerGetsAWholeSegment(t *testing.T) {
	t.Parallel()
	const gop = 5 * fps
	for _, v := range []Variant{VariantLL, VariantFMP4} {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			write := publishFrames(t, f, gop)
			write(5) // a keyframe and four P frames: no segment closed yet
			go func() {
				time.Sleep(startWait + time.Second)
				write(gop + 2) // the next keyframe closes the first segment
			}()
			pl, err := parseMedia(mustGet(t, f.url("/g/cam-a/main/"+string(v)+"/index.m3u8")))
			if err != nil {
				t.Fatal(err)
			}
			if len(pl.segments) == 0 {
				t.Errorf("a starting player got a playlist with no whole segment")
			}
		})
	}
}

// publishFrames publishes cam-a's main stream of generated H.264 with a
// keyframe every gop frames; the function it returns writes frames up to
// (not including) frame number until, timed by their number.
func publishFrames(t *testing.T, f *fixture, gop int) func(until int) {
	t.Helper()
	gen, err := sim.NewGenerator(160, 96, fps, gop, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.h.Publish("cam-a", access.StreamMain, []*media.Track{simcam.H264Track()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	n := 0
	return func(until int) {
		for ; n < until; n++ {
			au, key := gen.Next()
			if err := p.Write(0, hub.UnitData{PTS: time.Duration(n) * time.Second / fps, Key: key, Payload: au}); err != nil {
				t.Error(err)
			}
		}
	}
}

// TestRemovedSegmentStaysFetchable: a media playlist lists at most
// playlistSegments segments, and a segment that has left it answers 200
// for at least its duration plus that of the playlist that last listed
// it (RFC 8216 §6.2.2). gohlslib deleted it as it left: Shaka, which
// loads a segment from the middle of the playlist before playing, got a
// 404 on a poor link.
func TestRemovedSegmentStaysFetchable(t *testing.T) {
	t.Parallel()
	for _, v := range []Variant{VariantLL, VariantTS} {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			f := fastLive(t)
			base := f.url("/g/cam-a/main/" + string(v) + "/index.m3u8")
			playlist := func() *mediaPlaylist {
				b := mustGet(t, base)
				pl, err := parseMedia(b)
				if err != nil {
					t.Fatalf("%v\n%s", err, b)
				}
				if len(pl.segments) > playlistSegments {
					t.Fatalf("%d segments listed, want at most %d:\n%s", len(pl.segments), playlistSegments, b)
				}
				return pl
			}
			var full *mediaPlaylist
			testkit.WaitFor(t, 10*time.Second, "a full playlist", func() error {
				if full = playlist(); len(full.segments) < playlistSegments {
					return fmt.Errorf("%d segments", len(full.segments))
				}
				return nil
			})
			old := full.segments[0]
			keep := time.Duration(old.duration * float64(time.Second))
			for _, s := range full.segments {
				keep += time.Duration(s.duration * float64(time.Second))
			}
			testkit.WaitFor(t, 5*time.Second, old.uri+" leaving the playlist", func() error {
				if pl := playlist(); pl.segments[0].seq <= old.seq {
					return fmt.Errorf("first segment %d", pl.segments[0].seq)
				}
				return nil
			})
			for left := time.Now(); time.Since(left) < keep; time.Sleep(100 * time.Millisecond) {
				if code, body := get(t, resolve(base, old.uri)); code != http.StatusOK || len(body) == 0 {
					t.Fatalf("%s, %v after it left a playlist of %v: %d, %d bytes", old.uri, time.Since(left).Round(time.Millisecond), keep, code, len(body))
				}
			}
		})
	}
}
