package stills

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// FuzzUploadJPEG: a camera's uploaded still is checked (checkJPEG) and may
// later be rescaled (scaleJPEG) for a viewer who asks for a width. Garbage
// must be refused with ErrNotJPEG or ErrTooLarge; what is accepted must
// rescale to the width asked, or fail with an error, never panic.
func FuzzUploadJPEG(f *testing.F) {
	for _, m := range []image.Image{
		image.NewYCbCr(image.Rect(0, 0, 33, 17), image.YCbCrSubsampleRatio420),
		image.NewGray(image.Rect(0, 0, 17, 9)),
		image.NewRGBA(image.Rect(0, 0, 8, 40)),
	} {
		if g, ok := m.(*image.Gray); ok {
			for i := range g.Pix {
				g.Pix[i] = byte(i * 7)
			}
		}
		if r, ok := m.(*image.RGBA); ok {
			for y := range 40 {
				r.Set(0, y, color.RGBA{byte(y * 6), 0, 200, 255})
			}
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 50}); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes(), uint16(5))
		f.Add(b.Bytes(), uint16(1))
	}
	f.Add([]byte{0xff, 0xd8, 0xff, 0xd9}, uint16(10))
	f.Add([]byte("not a jpeg"), uint16(0))
	f.Fuzz(func(t *testing.T, b []byte, width uint16) {
		cfg, err := checkJPEG(b)
		if err != nil {
			if !errors.Is(err, ErrNotJPEG) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("checkJPEG: %v is neither ErrNotJPEG nor ErrTooLarge", err)
			}
			return
		}
		if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels {
			t.Fatalf("checkJPEG accepted a %dx%d picture", cfg.Width, cfg.Height)
		}
		if cfg.Width*cfg.Height > 1<<16 || width == 0 {
			return // correct, but too slow to decode at fuzzing speed
		}
		out, w, err := scaleJPEG(b, int(width))
		if err != nil {
			return
		}
		if int(width) < cfg.Width && w != int(width) {
			t.Fatalf("rescaled a %d wide picture to %d, asked for %d", cfg.Width, w, width)
		}
		if _, err := jpeg.DecodeConfig(bytes.NewReader(out)); err != nil {
			t.Fatalf("rescaled still does not decode: %v", err)
		}
	})
}
