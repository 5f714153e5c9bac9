package hls

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"vigil/internal/access"
)

var update = flag.Bool("update", false, "capture testdata/edit/gohlslib.txt from a live muxer anew and rewrite the playlists expected of it")

// editCases are the rewrites of TestPlaylistEditGolden, each with the file
// of what it makes of testdata/edit/gohlslib.txt.
var editCases = []struct {
	file string
	edit func(parts *partMemo) playlistEdit
}{
	{"window.txt", func(*partMemo) playlistEdit { return playlistEdit{keep: playlistSegments} }},
	{"plain.txt", func(*partMemo) playlistEdit { return playlistEdit{keep: playlistSegments, plain: true} }},
	{"ll.txt", func(p *partMemo) playlistEdit { return playlistEdit{keep: playlistSegments, parts: p} }},
	{"sub.txt", func(p *partMemo) playlistEdit { return playlistEdit{keep: playlistSegments, parts: p, holdBack: true} }},
}

// TestPlaylistEditGolden: what each rewrite makes of a live muxer's media
// playlists, one after another (relisting remembers), as gohlslib wrote
// them for a young muxer (gap segments) through a full window, full and
// delta updates: byte for byte what testdata/edit holds. The playlists
// expected were those of the three passes the rewrite replaced
// (windowed, partMemo.relist, keyframeHoldBack, withoutLL); -update
// captures and writes them anew.
func TestPlaylistEditGolden(t *testing.T) {
	in := filepath.Join("testdata", "edit", "gohlslib.txt")
	if *update {
		writePlaylists(t, in, capturePlaylists(t), nil)
	}
	raw := readPlaylists(t, in)
	if len(raw) < 20 {
		t.Fatalf("%s: %d playlists", in, len(raw))
	}
	for _, c := range editCases {
		var memo partMemo
		e := c.edit(&memo)
		var got [][]byte
		var segments []int
		for _, pl := range raw {
			b, n := e.edit(pl)
			got, segments = append(got, b), append(segments, n)
		}
		file := filepath.Join("testdata", "edit", c.file)
		if *update {
			writePlaylists(t, file, got, segments)
		}
		want, wantSegments := readPlaylistsCounted(t, file)
		if len(want) != len(got) {
			t.Fatalf("%s: %d playlists, want %d", file, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) || segments[i] != wantSegments[i] {
				t.Errorf("%s, playlist %d: got %d segments\n%s\nwant %d\n%s", c.file, i, segments[i], got[i], wantSegments[i], want[i])
			}
		}
	}
}

// capturePlaylists renders what gohlslib writes for a live muxer's LL-HLS
// media playlist every 300 ms for 7 s, full and delta updates in turn,
// with a query as a player's token.
func capturePlaylists(t *testing.T) [][]byte {
	f := fastLive(t)
	mustGet(t, f.url("/g/cam-a/main/ll/index.m3u8"))
	x := muxerOf(f.m, muxerKey{device: "cam-a", stream: access.StreamMain, variant: VariantLL})
	var out [][]byte
	for i, end := 0, time.Now().Add(7*time.Second); time.Now().Before(end); i++ {
		q := "token=T1"
		if i%2 == 1 {
			q = "token=T2&_HLS_skip=YES"
		}
		req, err := http.NewRequest(http.MethodGet, "/"+x.layout.index+"?"+q, nil)
		if err != nil {
			t.Fatal(err)
		}
		pw := &playlistWriter{header: http.Header{}}
		x.hm.Handle(pw, req)
		out = append(out, bytes.Clone(pw.body.Bytes()))
		time.Sleep(300 * time.Millisecond)
	}
	return out
}

// Playlists in a file are each preceded by a line "=== playlist N ===",
// or "=== playlist N: S segments ===".
var playlistSep = regexp.MustCompile(`(?m)^=== playlist (\d+)(?:: (\d+) segments)? ===\n`)

func writePlaylists(t *testing.T, file string, pls [][]byte, segments []int) {
	t.Helper()
	var b bytes.Buffer
	for i, pl := range pls {
		if segments != nil {
			fmt.Fprintf(&b, "=== playlist %d: %d segments ===\n", i, segments[i])
		} else {
			fmt.Fprintf(&b, "=== playlist %d ===\n", i)
		}
		b.Write(pl)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readPlaylists(t *testing.T, file string) [][]byte {
	t.Helper()
	pls, _ := readPlaylistsCounted(t, file)
	return pls
}

func readPlaylistsCounted(t *testing.T, file string) ([][]byte, []int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	seps := playlistSep.FindAllSubmatchIndex(b, -1)
	var pls [][]byte
	var segments []int
	for i, m := range seps {
		end := len(b)
		if i+1 < len(seps) {
			end = seps[i+1][0]
		}
		pls = append(pls, b[m[1]:end])
		n := -1
		if m[4] >= 0 {
			n, _ = strconv.Atoi(string(b[m[4]:m[5]]))
		}
		segments = append(segments, n)
	}
	return pls, segments
}

// BenchmarkPlaylistEdit rewrites a full window of gohlslib's LL-HLS media
// playlist (testdata/edit, its last full playlist) as a reload of the sub
// stream's LL-HLS, the main stream's and a plain fMP4 player's does.
func BenchmarkPlaylistEdit(b *testing.B) {
	b.StopTimer()
	raw := readPlaylists(&testing.T{}, filepath.Join("testdata", "edit", "gohlslib.txt"))
	b.StartTimer()
	pl := raw[len(raw)-2] // the last full playlist (full and delta updates alternate)
	if len(raw)%2 == 1 {
		pl = raw[len(raw)-1]
	}
	for _, c := range []struct {
		name string
		e    playlistEdit
	}{
		{"sub", playlistEdit{keep: playlistSegments, parts: &partMemo{}, holdBack: true}},
		{"main", playlistEdit{keep: playlistSegments, parts: &partMemo{}}},
		{"plain", playlistEdit{keep: playlistSegments, plain: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.e.edit(pl)
			}
		})
	}
}
