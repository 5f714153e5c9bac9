package stills

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
)

// jpegQuality is the quality of rescaled uploads.
const jpegQuality = 85

// scaleJPEG decodes a JPEG, shrinks it to width pixels wide keeping its
// aspect (box filter: each output pixel averages the input pixels it
// covers), and encodes it again. It returns the new JPEG and its width.
func scaleJPEG(b []byte, width int) ([]byte, int, error) {
	src, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, 0, err
	}
	sw, sh := src.Bounds().Dx(), src.Bounds().Dy()
	if width >= sw {
		return b, sw, nil
	}
	height := max(1, (sh*width+sw/2)/sw)
	var dst image.Image
	switch m := src.(type) {
	case *image.YCbCr:
		dst = scaleYCbCr(m, width, height)
	case *image.Gray:
		g := image.NewGray(image.Rect(0, 0, width, height))
		boxScale(g.Pix, width, height, g.Stride, m.Pix, sw, sh, m.Stride, 1)
		dst = g
	default: // CMYK and the like: rare for cameras
		rgba := image.NewRGBA(image.Rect(0, 0, sw, sh))
		draw.Draw(rgba, rgba.Rect, src, src.Bounds().Min, draw.Src)
		out := image.NewRGBA(image.Rect(0, 0, width, height))
		boxScale(out.Pix, width, height, out.Stride, rgba.Pix, sw, sh, rgba.Stride, 4)
		dst = out
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, 0, fmt.Errorf("encode: %w", err)
	}
	return buf.Bytes(), width, nil
}

// scaleYCbCr shrinks each plane on its own into a 4:2:0 picture.
func scaleYCbCr(src *image.YCbCr, w, h int) *image.YCbCr {
	dst := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	r := src.Bounds()
	sw, sh := r.Dx(), r.Dy()
	cw, ch := chromaSize(sw, sh, src.SubsampleRatio)
	dcw, dch := (w+1)/2, (h+1)/2
	y0 := src.YOffset(r.Min.X, r.Min.Y)
	c0 := src.COffset(r.Min.X, r.Min.Y)
	boxScale(dst.Y, w, h, dst.YStride, src.Y[y0:], sw, sh, src.YStride, 1)
	boxScale(dst.Cb, dcw, dch, dst.CStride, src.Cb[c0:], cw, ch, src.CStride, 1)
	boxScale(dst.Cr, dcw, dch, dst.CStride, src.Cr[c0:], cw, ch, src.CStride, 1)
	return dst
}

// chromaSize is the size of a chroma plane of a w×h picture.
func chromaSize(w, h int, r image.YCbCrSubsampleRatio) (int, int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio440:
		return w, (h + 1) / 2
	case image.YCbCrSubsampleRatio411:
		return (w + 3) / 4, h
	case image.YCbCrSubsampleRatio410:
		return (w + 3) / 4, (h + 1) / 2
	}
	return w, h
}

// boxScale shrinks an interleaved plane of n bytes per pixel from sw×sh to
// dw×dh (dw <= sw, dh <= sh): each output pixel is the rounded mean of the
// source pixels whose block it covers.
func boxScale(dst []byte, dw, dh, dstride int, src []byte, sw, sh, sstride, n int) {
	var sum [4]int
	for y := range dh {
		y0, y1 := y*sh/dh, max((y+1)*sh/dh, y*sh/dh+1)
		for x := range dw {
			x0, x1 := x*sw/dw, max((x+1)*sw/dw, x*sw/dw+1)
			sum = [4]int{}
			for sy := y0; sy < y1; sy++ {
				row := src[sy*sstride:]
				for sx := x0; sx < x1; sx++ {
					for c := range n {
						sum[c] += int(row[sx*n+c])
					}
				}
			}
			cnt := (y1 - y0) * (x1 - x0)
			for c := range n {
				dst[y*dstride+x*n+c] = byte((sum[c] + cnt/2) / cnt)
			}
		}
	}
}
