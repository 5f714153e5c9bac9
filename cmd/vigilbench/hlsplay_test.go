package main

import (
	"testing"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// llPlaylist is a gohlslib v2 Low-Latency media playlist: two segments with
// parts listed, and the segment in progress with two parts.
const llPlaylist = `#EXTM3U
#EXT-X-VERSION:10
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.50000,CAN-SKIP-UNTIL=12
#EXT-X-PART-INF:PART-TARGET=0.20000
#EXT-X-MEDIA-SEQUENCE:4
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-21T06:38:40.000Z
#EXT-X-PART:DURATION=0.20000,URI="part20.mp4",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.20000,URI="part21.mp4"
#EXTINF:2.00000,
seg4.mp4
#EXT-X-PROGRAM-DATE-TIME:2026-11-21T06:38:42.000Z
#EXT-X-PART:DURATION=0.20000,URI="part22.mp4",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.20000,URI="part23.mp4"
#EXTINF:2.00000,
seg5.mp4
#EXT-X-PART:DURATION=0.20000,URI="part24.mp4"
#EXT-X-PART:DURATION=0.20000,URI="part25.mp4"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part26.mp4"
`

func parseMedia(t *testing.T, s string) *playlist.Media {
	t.Helper()
	var pl playlist.Media
	if err := pl.Unmarshal([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return &pl
}

func TestPlaylistNavigation(t *testing.T) {
	pl := parseMedia(t, llPlaylist)
	if got := len(allParts(pl)); got != 6 {
		t.Errorf("allParts: %d parts, want 6", got)
	}
	if u, ok := newestDecodable(pl); !ok || u != "part22.mp4" {
		t.Errorf("newestDecodable = %q, %v; want part22.mp4", u, ok)
	}
	if msn, part := nextPart(pl); msn != 6 || part != 2 {
		t.Errorf("nextPart = %d, %d; want 6, 2", msn, part)
	}
	pl.Parts[0].Independent = true
	if u, _ := newestDecodable(pl); u != "part24.mp4" {
		t.Errorf("newestDecodable = %q; want the independent part in progress, part24.mp4", u)
	}
}

func TestBlockingURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://h/a/index.m3u8", "http://h/a/index.m3u8?_HLS_msn=6&_HLS_part=2"},
		{"http://h/a/index.m3u8?token=x&_HLS_msn=1", "http://h/a/index.m3u8?_HLS_msn=6&_HLS_part=2&token=x"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got, err := blockingURL(tc.in, 6, 2); err != nil || got != tc.want {
				t.Errorf("blockingURL = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestFirstVariant(t *testing.T) {
	mv := "#EXTM3U\n#EXT-X-VERSION:10\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=620000,CODECS=\"avc1.42c01e\",RESOLUTION=640x360,FRAME-RATE=25.000\nsub/ll/index.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=4600000,CODECS=\"avc1.42c028\",RESOLUTION=1920x1080,FRAME-RATE=25.000\nmain/ll/index.m3u8\n"
	if u, err := firstVariant([]byte(mv)); err != nil || u != "main/ll/index.m3u8" {
		t.Fatalf("firstVariant = %q, %v", u, err)
	}
	if u, err := resolve("http://h/api/cameras/c/hls/index.m3u8?variant=ll", "main/ll/index.m3u8"); err != nil ||
		u != "http://h/api/cameras/c/hls/main/ll/index.m3u8" {
		t.Fatalf("resolve = %q, %v", u, err)
	}
}
