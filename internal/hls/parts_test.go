package hls

import (
	"strings"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/testkit/simcam"
)

// TestRelistedParts: a segment whose parts gohlslib no longer lists gets
// them back while it is among the newest partSegments, with the query of
// the playlist it is in (another viewer's token never), and a segment
// older than that does not.
func TestRelistedParts(t *testing.T) {
	t.Parallel()
	const head = "#EXTM3U\n#EXT-X-VERSION:10\n#EXT-X-TARGETDURATION:1\n" +
		"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=2.50000,CAN-SKIP-UNTIL=6.00000\n#EXT-X-PART-INF:PART-TARGET=0.5\n"
	part := func(n, q string) string {
		return "#EXT-X-PART:DURATION=0.50000,URI=\"p" + n + ".mp4" + q + "\",INDEPENDENT=YES\n"
	}
	seg := func(n, q string, parts ...string) string {
		s := ""
		for _, p := range parts {
			s += part(p, q)
		}
		return s + "#EXTINF:1.00000,\ns" + n + ".mp4" + q + "\n"
	}
	hint := func(n, q string) string { return "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p" + n + ".mp4" + q + "\"\n" }
	var m partMemo
	for _, step := range []struct{ name, in, want string }{
		{"as listed",
			head + "#EXT-X-MEDIA-SEQUENCE:10\n" + seg("10", "?t=1") + seg("11", "?t=1", "11a", "11b") + seg("12", "?t=1", "12a", "12b") + part("13a", "?t=1") + hint("13b", "?t=1"),
			head + "#EXT-X-MEDIA-SEQUENCE:10\n" + seg("10", "?t=1") + seg("11", "?t=1", "11a", "11b") + seg("12", "?t=1", "12a", "12b") + part("13a", "?t=1") + hint("13b", "?t=1")},
		{"two segments later, another viewer",
			head + "#EXT-X-MEDIA-SEQUENCE:11\n" + seg("11", "?t=2") + seg("12", "?t=2") + seg("13", "?t=2", "13a", "13b") + seg("14", "?t=2", "14a", "14b") + hint("15a", "?t=2"),
			head + "#EXT-X-MEDIA-SEQUENCE:11\n" + seg("11", "?t=2") + seg("12", "?t=2", "12a", "12b") + seg("13", "?t=2", "13a", "13b") + seg("14", "?t=2", "14a", "14b") + hint("15a", "?t=2")},
		{"a delta update, no query",
			head + "#EXT-X-MEDIA-SEQUENCE:11\n#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n" + seg("12", "") + seg("13", "") + seg("14", "", "14a", "14b") + seg("15", "", "15a") + hint("16a", ""),
			head + "#EXT-X-MEDIA-SEQUENCE:11\n#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n" + seg("12", "") + seg("13", "", "13a", "13b") + seg("14", "", "14a", "14b") + seg("15", "", "15a") + hint("16a", "")},
	} {
		if got := string(m.relist([]byte(step.in))); got != step.want {
			t.Errorf("%s: got\n%s\nwant\n%s", step.name, got, step.want)
		}
	}
	if _, ok := m.parts[11]; !ok || len(m.parts) != 5 {
		t.Errorf("remembered segments %v, want 11 to 15", m.parts)
	}
	m.relist([]byte(head + "#EXT-X-MEDIA-SEQUENCE:14\n" + seg("14", "")))
	for seq := range m.parts {
		if seq < 14 {
			t.Errorf("segment %d, older than the playlist, is still remembered", seq)
		}
	}
	for _, ps := range m.parts {
		for _, p := range ps {
			if strings.Contains(string(p), "?") {
				t.Errorf("remembered with a query: %s", p)
			}
		}
	}
}

// TestPartsListedForThreeSegments: a Low-Latency playlist lists the parts
// of its newest partSegments segments, also of those that closed while
// nobody fetched a playlist (the muxer notes them as it cuts them).
func TestPartsListedForThreeSegments(t *testing.T) {
	t.Parallel()
	f := fastLive(t)
	base := f.url("/g/cam-a/main/ll/index.m3u8")
	mustGet(t, base)
	time.Sleep(1500 * time.Millisecond) // four or five segments of a third of a second, unseen
	b := mustGet(t, base)
	pl, err := parseMedia(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(pl.segments) < partSegments+2 {
		t.Fatalf("%d segments:\n%s", len(pl.segments), b)
	}
	for i, s := range pl.segments {
		if newest := len(pl.segments) - i; (newest <= partSegments) != (len(s.parts) > 0) {
			t.Errorf("segment %d (newest but %d) lists %d parts; want parts for the newest %d only:\n%s", s.seq, newest-1, len(s.parts), partSegments, b)
		}
	}
}

// fastLive is a fixture whose camera cam-a publishes live on main with
// segments of a third of a second (parts of 100 ms): a playlist's window
// fills in ~2.5 s.
func fastLive(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, &Config{SegmentDuration: 300 * time.Millisecond, PartDuration: 100 * time.Millisecond})
	cam := simcam.New(t, simcam.Config{ID: "cam-a", Secret: secret, Width: 160, Height: 96, FPS: fps, GOP: 5})
	feed := simcam.Publish(t, f.h, "cam-a", access.StreamMain, cam, nil)
	if err := feed.Frame(); err != nil {
		t.Fatal(err)
	}
	feed.Live(t)
	return f
}
