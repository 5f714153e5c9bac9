package hls

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
	"vigil/internal/sim"
)

// TestPlayersDecodeOnlyTheirCamera has ffmpeg, an independent client, play
// each variant from the multivariant playlist of two cameras on one hub: it
// must decode frames without an error, and the H.264 it receives (copied
// out as Annex B) must carry the stamps of the grant's camera and no other.
func TestPlayersDecodeOnlyTheirCamera(t *testing.T) {
	t.Parallel()
	haveFFmpeg(t)
	f := newFixture(t, nil)
	publish(t, f.h, "cam-a", access.StreamMain, 320, 240, &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1})
	publish(t, f.h, "cam-a", access.StreamSub, 160, 120, nil)
	publish(t, f.h, "cam-b", access.StreamMain, 320, 240, nil)
	time.Sleep(300 * time.Millisecond)
	for _, v := range []Variant{VariantLL, VariantFMP4, VariantTS} {
		for _, cam := range []string{"cam-a", "cam-b"} {
			t.Run(string(v)+"/"+cam, func(t *testing.T) {
				t.Parallel()
				frames, stamps := play(t, f.url("/g/"+cam+"/"+string(v)+".m3u8"), 3*time.Second)
				if frames < 2*fps {
					t.Errorf("decoded %d frames in 3 s, want at least %d", frames, 2*fps)
				}
				if err := stamps.Only(cam); err != nil {
					t.Error(err)
				}
				if st := stamps.Stats()[cam]; st.Gaps != 0 || st.Reorders != 0 {
					t.Errorf("stamps of %s: %d gaps, %d reorders; HLS must pass every picture in order", cam, st.Gaps, st.Reorders)
				}
				t.Logf("%s %s: %d frames decoded, stamps %v, %d unstamped access units",
					v, cam, frames, stamps.Counts(), stamps.Unstamped())
			})
		}
	}
}

// play runs ffmpeg on an HLS URL for d of media: it decodes the first video
// stream (any error fails the test) and copies it out as Annex B into a
// stamp checker.
func play(t *testing.T, u string, d time.Duration) (int, *sim.Checker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	secs := fmt.Sprintf("%.1f", d.Seconds())
	crc := t.TempDir() + "/frames.crc"
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-i", u,
		"-map", "0:v:0", "-t", secs, "-f", "framecrc", crc,
		"-map", "0:v:0", "-t", secs, "-c", "copy", "-f", "h264", "pipe:1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", u, err, stderr.String())
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Errorf("ffmpeg %s reported errors:\n%s", u, s)
	}
	c := sim.NewChecker(sim.StaticKeys(secret))
	if err := c.AnnexB(stdout.Bytes()); err != nil {
		t.Errorf("stamps: %v", err)
	}
	return countFrames(t, crc), c
}

// countFrames counts the frame lines of an ffmpeg framecrc file.
func countFrames(t *testing.T, path string) int {
	t.Helper()
	out, err := exec.Command("cat", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n
}

// decode has ffmpeg decode b (an init section and a segment or part, or a
// TS segment) and returns the number of frames; any error fails the test.
func decode(t *testing.T, b []byte) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	crc := t.TempDir() + "/frames.crc"
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-i", "pipe:0", "-map", "0:v:0", "-f", "framecrc", crc)
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = bytes.NewReader(b), &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, stderr.String())
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Errorf("ffmpeg reported errors:\n%s", s)
	}
	return countFrames(t, crc)
}

// TestTimeToFirstMedia measures, for each variant, the time from the first
// playlist request of a camera nobody watches to holding a decodable first
// part (LL-HLS) or segment. The muxer starts from the hub's GOP cache, and
// a starting player's playlist waits until it lists minSegments segments,
// each closed by one of the camera's next keyframes (1 s GOPs here, the
// first of them cached in part). The time bounds are sanity bounds, not
// targets; what shows the muxer was primed is that its first segment
// starts at the cached keyframe, before the request.
func TestTimeToFirstMedia(t *testing.T) {
	t.Parallel()
	haveFFmpeg(t)
	for _, v := range []Variant{VariantLL, VariantFMP4, VariantTS} {
		t.Run(string(v), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			publish(t, f.h, "cam-a", access.StreamMain, 320, 240, nil)
			time.Sleep(500 * time.Millisecond) // join in the middle of a GOP
			base := f.url("/g/cam-a/main/" + string(v) + "/index.m3u8")

			t0 := time.Now()
			pl, err := parseMedia(mustGet(t, base))
			if err != nil {
				t.Fatal(err)
			}
			tPlaylist := time.Since(t0)
			var media []byte
			if pl.mapURI != "" {
				media = append(media, mustGet(t, resolve(base, pl.mapURI))...)
			}
			what := ""
			switch v {
			case VariantLL:
				p := firstIndependentPart(pl)
				if p == "" {
					t.Fatal("no independent part in the first playlist")
				}
				media, what = append(media, mustGet(t, resolve(base, p))...), "part"
			default:
				s := firstMediaSegment(pl)
				if s == "" {
					t.Fatal("no segment in the first playlist")
				}
				media, what = append(media, mustGet(t, resolve(base, s))...), "segment"
			}
			elapsed := time.Since(t0)
			frames := decode(t, media)
			t.Logf("%s: first playlist after %v, first decodable %s (%d frames, %d bytes) after %v",
				v, tPlaylist.Round(time.Millisecond), what, frames, len(media), elapsed.Round(time.Millisecond))
			if frames == 0 {
				t.Errorf("first %s decoded to no frame", what)
			}
			// Primed, not cold: the first segment begins with the GOP the hub
			// cached before the request, half a second of it here.
			// gohlslib dates the last two segments only: the first one's
			// start is the first dated one's less the durations before it.
			var start time.Time
			var before time.Duration
			for _, s := range pl.segments {
				if !s.pdt.IsZero() {
					start = s.pdt.Add(-before)
					break
				}
				before += time.Duration(s.duration * float64(time.Second))
			}
			if start.IsZero() {
				t.Errorf("no segment with EXT-X-PROGRAM-DATE-TIME")
			} else if lead := t0.Sub(start); lead < 300*time.Millisecond {
				t.Errorf("first segment starts %v before the first request; want the cached GOP (about 500 ms)", lead)
			} else {
				t.Logf("%s: first segment starts %v before the first request", v, lead.Round(time.Millisecond))
			}
			bound := time.Duration(minSegments+1) * time.Second
			if elapsed > bound {
				t.Errorf("first decodable %s after %v, sanity bound %v", what, elapsed, bound)
			}
		})
	}
}

func firstIndependentPart(pl *mediaPlaylist) string {
	for _, s := range pl.segments {
		for _, p := range s.parts {
			if p.independent {
				return p.uri
			}
		}
	}
	for _, p := range pl.tailParts {
		if p.independent {
			return p.uri
		}
	}
	return ""
}

func firstMediaSegment(pl *mediaPlaylist) string {
	for _, s := range pl.segments {
		if !s.gap {
			return s.uri
		}
	}
	return ""
}
