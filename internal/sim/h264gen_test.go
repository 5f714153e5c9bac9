package sim

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

func TestGeneratorParams(t *testing.T) {
	for _, tc := range []struct{ w, h, fps int }{{320, 240, 15}, {1920, 1080, 30}, {200, 120, 5}} {
		g, err := NewGenerator(tc.w, tc.h, tc.fps, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		var sps h264.SPS
		if err := sps.Unmarshal(g.SPS()); err != nil {
			t.Fatalf("%dx%d: mediacommon rejects SPS: %v", tc.w, tc.h, err)
		}
		if sps.Width() != tc.w || sps.Height() != tc.h || sps.FPS() != float64(tc.fps) {
			t.Errorf("SPS says %dx%d@%v, want %dx%d@%d", sps.Width(), sps.Height(), sps.FPS(), tc.w, tc.h, tc.fps)
		}
		if sps.ProfileIdc != 66 || sps.ConstraintSet0Flag != true || sps.ConstraintSet1Flag != true {
			t.Errorf("profile %d set0 %v set1 %v, want Constrained Baseline", sps.ProfileIdc, sps.ConstraintSet0Flag, sps.ConstraintSet1Flag)
		}
	}
	for _, bad := range [][4]int{{0, 240, 15, 10}, {321, 240, 15, 10}, {320, 240, 0, 10}, {320, 240, 15, 0}} {
		if _, err := NewGenerator(bad[0], bad[1], bad[2], bad[3], nil); err == nil {
			t.Errorf("NewGenerator(%v) accepted", bad)
		}
	}
}

func TestGeneratorGOP(t *testing.T) {
	g, err := NewGenerator(32, 32, 10, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []bool
	var frameNums []uint32
	for range 7 {
		au, key := g.Next()
		keys = append(keys, key)
		slice := au[len(au)-1]
		if key && (len(au) != 3 || naluType(au[0]) != naluSPS || naluType(au[1]) != naluPPS || naluType(slice) != naluIDR) {
			t.Fatalf("IDR unit types wrong")
		}
		if !key && (len(au) != 1 || naluType(slice) != naluNonIDR || slice[0]>>5 == 0) {
			t.Fatalf("P unit: want one reference non-IDR slice, got header %#x", slice[0])
		}
		frameNums = append(frameNums, sliceFrameNum(slice))
	}
	if want := []bool{true, false, false, true, false, false, true}; fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if want := []uint32{0, 1, 2, 0, 1, 2, 0}; fmt.Sprint(frameNums) != fmt.Sprint(want) {
		t.Fatalf("frame_num %v, want %v", frameNums, want)
	}
}

// sliceFrameNum reads frame_num (u(16)) after first_mb_in_slice,
// slice_type and pic_parameter_set_id.
func sliceFrameNum(n []byte) uint32 {
	r := bitReader{b: removeEmulationPrevention(n[1:])}
	r.ue()
	r.ue()
	r.ue()
	return uint32(r.u(log2MaxFrameNum))
}

// bitReader reads H.264 syntax elements for tests; past the end it reads 0.
type bitReader struct {
	b   []byte
	pos int
}

func (r *bitReader) u(n int) uint64 {
	var v uint64
	for range n {
		bit := uint64(0)
		if r.pos/8 < len(r.b) {
			bit = uint64(r.b[r.pos/8]>>(7-r.pos%8)) & 1
		}
		r.pos++
		v = v<<1 | bit
	}
	return v
}

func (r *bitReader) ue() uint64 {
	zeros := 0
	for r.u(1) == 0 && zeros < 32 {
		zeros++
	}
	return 1<<zeros - 1 + r.u(zeros)
}

// writeClip encodes n frames of picture with stamps and writes Annex-B.
func writeClip(t *testing.T, path string, g *Generator, camera string, n int) {
	t.Helper()
	var out []byte
	for i := range n {
		au, _ := g.Next()
		st := StampNALU(testKey(camera), Stamp{camera, uint64(i + 1), time.Now()})
		out = append(out, AnnexB(withStamp(au, st))...)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGeneratorFFmpeg has ffmpeg decode the stream: no errors, every frame,
// and the first frame equal to the picture, sample for sample.
func TestGeneratorFFmpeg(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ w, h int }{{320, 240}, {200, 120}} {
		t.Run(fmt.Sprintf("%dx%d", tc.w, tc.h), func(t *testing.T) {
			t.Parallel()
			const frames, gop = 25, 10
			pic := DrawPicture("cam-ffmpeg", tc.w, tc.h)
			g, err := NewGenerator(tc.w, tc.h, 10, gop, pic)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "f.h264")
			writeClip(t, path, g, "cam-ffmpeg", frames)

			// Every stamp survives a round trip through the file.
			data, _ := os.ReadFile(path)
			c := NewChecker(testKeys)
			if err := c.AnnexB(data); err != nil {
				t.Fatal(err)
			}
			if st := c.Stats()["cam-ffmpeg"]; st.Count != frames || st.MaxSeq != frames || c.Unstamped() != 0 {
				t.Fatalf("checker: %+v, unstamped %d", st, c.Unstamped())
			}

			ffmpeg(t, "-i", path, "-f", "null", "-")
			crc := ffmpeg(t, "-i", path, "-f", "framecrc", "-")
			if n := bytes.Count(crc, []byte("\n0,")); n != frames {
				t.Fatalf("ffmpeg decoded %d frames, want %d", n, frames)
			}

			raw := ffmpeg(t, "-i", path, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "yuvj420p", "-")
			want := append(append(planeBytes(pic.Y, pic.YStride, tc.w, tc.h), planeBytes(pic.Cb, pic.CStride, tc.w/2, tc.h/2)...), planeBytes(pic.Cr, pic.CStride, tc.w/2, tc.h/2)...)
			if len(raw) != len(want) {
				t.Fatalf("decoded %d bytes, want %d", len(raw), len(want))
			}
			if diff := countDiff(raw, want); diff != 0 {
				t.Fatalf("%d of %d samples differ from the picture", diff, len(want))
			}

			// The same, through PNG, against the picture converted to RGB.
			png := filepath.Join(t.TempDir(), "f.png")
			ffmpeg(t, "-i", path, "-frames:v", "1", png)
			img := decodeImageFile(t, png)
			if d := maxRGBDiff(img, pic); d > 6 {
				t.Fatalf("PNG differs from picture by up to %d per channel", d)
			}
		})
	}
}

func planeBytes(p []byte, stride, w, h int) []byte {
	out := make([]byte, 0, w*h)
	for y := range h {
		for _, v := range p[y*stride : y*stride+w] {
			out = append(out, max(v, 1)) // the encoder codes 0 as 1
		}
	}
	return out
}

func countDiff(a, b []byte) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

func maxRGBDiff(a, b image.Image) int {
	d := 0
	r := b.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ar, ag, ab, _ := a.At(x, y).RGBA()
			br, bg, bb, _ := b.At(x, y).RGBA()
			for _, v := range []int{int(ar>>8) - int(br>>8), int(ag>>8) - int(bg>>8), int(ab>>8) - int(bb>>8)} {
				d = max(d, v, -v)
			}
		}
	}
	return d
}

// TestGeneratorMainProfile: a Main profile stream says so in its SPS and
// ffmpeg decodes it, block code intact.
func TestGeneratorMainProfile(t *testing.T) {
	g, err := NewGenerator(160, 120, 15, 15, DrawPicture("main-cam", 160, 120))
	if err != nil {
		t.Fatal(err)
	}
	g.SetMainProfile()
	if sps := g.SPS(); sps[1] != 77 || sps[2] != 0x40 {
		t.Fatalf("SPS profile_idc %d constraints %#x, want 77 and 0x40", sps[1], sps[2])
	}
	path := filepath.Join(t.TempDir(), "main.h264")
	writeClip(t, path, g, "main-cam", 3)
	out := ffmpeg(t, "-f", "h264", "-i", path, "-frames:v", "1", "-f", "image2", "-c:v", "mjpeg", "pipe:1")
	img, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if code, err := ReadCode(img); err != nil || code != CodeFor("main-cam") {
		t.Fatalf("block code %06x, %v; want %06x", code, err, CodeFor("main-cam"))
	}
}
