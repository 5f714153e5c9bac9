package sim

import (
	"errors"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"testing"
)

func decodeImageFile(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return img
}

func TestBlockCodeDirect(t *testing.T) {
	for _, size := range [][2]int{{320, 240}, {1920, 1080}, {160, 120}, {160, 90}, {240, 320}} {
		for _, cam := range []string{"cam-1", "front-door", "x"} {
			got, err := ReadCode(DrawPicture(cam, size[0], size[1]))
			if err != nil || got != CodeFor(cam) {
				t.Errorf("%v %s: ReadCode = %06x, %v; want %06x", size, cam, got, err, CodeFor(cam))
			}
		}
	}
}

func TestBlockCodeRejects(t *testing.T) {
	grey := image.NewGray(image.Rect(0, 0, 320, 240))
	for i := range grey.Pix {
		grey.Pix[i] = 128
	}
	if _, err := ReadCode(grey); !errors.Is(err, ErrNoCode) {
		t.Errorf("flat grey: %v", err)
	}
	// One flipped data cell breaks the checksum.
	pic := DrawPicture("cam-1", 320, 240)
	geo := geometryFor(pic.Rect)
	for y := range pic.Rect.Dy() {
		for x := range pic.Rect.Dx() {
			if cx, cy, ok := geo.cellAt(x, y); ok && cx == 4 && cy == 5 {
				pic.Y[pic.YOffset(x, y)] ^= 0xff
			}
		}
	}
	if code, err := ReadCode(pic); !errors.Is(err, ErrNoCode) {
		t.Errorf("flipped cell: code %06x err %v", code, err)
	}
	if _, err := ReadCode(DrawPicture("cam-1", 20, 20)); !errors.Is(err, ErrNoCode) {
		t.Errorf("tiny picture: %v", err)
	}
}

// TestBlockCodeCollisions counts code collisions among 500 camera ids.
// With 24-bit codes the expected number is 500·499/2/2^24 ≈ 0.007.
func TestBlockCodeCollisions(t *testing.T) {
	seen := map[uint32]string{}
	collisions := 0
	for i := range 500 {
		id := fmt.Sprintf("cam-%04d", i)
		c := CodeFor(id)
		if c >= 1<<24 {
			t.Fatalf("code %x has more than 24 bits", c)
		}
		if other, ok := seen[c]; ok {
			collisions++
			t.Logf("collision: %s and %s -> %06x", other, id, c)
		}
		seen[c] = id
	}
	t.Logf("500 ids, %d collisions", collisions)
	if collisions > 0 {
		t.Fatalf("%d collisions among 500 ids", collisions)
	}
}

// TestBlockCodeThroughFFmpeg: picture -> synthetic H.264 -> ffmpeg decodes
// the first frame to JPEG at -q:v 5, at full size and scaled to 160 px wide
// -> image/jpeg -> ReadCode.
func TestBlockCodeThroughFFmpeg(t *testing.T) {
	t.Parallel()
	for i, size := range [][2]int{{320, 240}, {640, 360}, {1920, 1080}} {
		cam := fmt.Sprintf("camera-%d-%dx%d", i, size[0], size[1])
		t.Run(cam, func(t *testing.T) {
			t.Parallel()
			g, err := NewGenerator(size[0], size[1], 10, 10, DrawPicture(cam, size[0], size[1]))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			src := filepath.Join(dir, "in.h264")
			writeClip(t, src, g, cam, 2)
			for _, scale := range []string{"", "scale=160:-2"} {
				out := filepath.Join(dir, "out.jpg")
				args := []string{"-y", "-i", src, "-frames:v", "1", "-q:v", "5"}
				if scale != "" {
					args = append(args, "-vf", scale)
				}
				ffmpeg(t, append(args, out)...)
				img := decodeImageFile(t, out)
				if scale != "" && img.Bounds().Dx() != 160 {
					t.Fatalf("thumbnail is %v wide", img.Bounds().Dx())
				}
				got, err := ReadCode(img)
				if err != nil || got != CodeFor(cam) {
					t.Fatalf("%q %v: ReadCode = %06x, %v; want %06x", scale, img.Bounds().Size(), got, err, CodeFor(cam))
				}
			}
		})
	}
}
