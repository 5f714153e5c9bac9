package sim

import (
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"math"
)

// The block code shows a camera's identity in the picture itself, so that it
// survives JPEG compression and scaling (stills, thumbnails, MJPEG). It is a
// square grid of codeGrid × codeGrid cells centred in the picture: an outer
// ring of white cells (quiet zone), a ring of black cells (finder), and 6 × 6
// data cells holding, most significant bit first, the 24-bit code, a CRC-8 of
// it and the fixed bits 1010. Positions are fractions of the picture size,
// so a reader needs no search as long as the picture is neither cropped nor
// stretched.
const (
	codeGrid     = 10
	codeData     = codeGrid - 4 // data cells per side
	codeBits     = 24
	codeFixed    = 0b1010
	codeFraction = 0.8 // side of the grid relative to min(width, height)
)

// CodeFor returns the 24-bit block code of a camera: its FNV-1a hash, folded.
func CodeFor(camera string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(camera))
	v := h.Sum32()
	return (v ^ v>>24) & (1<<codeBits - 1)
}

// codeCells returns the data cells' values (true is black), row by row.
func codeCells(code uint32) [codeData * codeData]bool {
	var cells [codeData * codeData]bool
	word := uint64(code)<<12 | uint64(crc8(code))<<4 | codeFixed
	for i := range cells {
		cells[i] = word>>(len(cells)-1-i)&1 == 1
	}
	return cells
}

// crc8 is CRC-8 (polynomial x^8+x^2+x+1) over the code's three bytes.
func crc8(code uint32) uint8 {
	var c uint8
	for _, b := range []uint8{uint8(code >> 16), uint8(code >> 8), uint8(code)} {
		c ^= b
		for range 8 {
			if c&0x80 != 0 {
				c = c<<1 ^ 0x07
			} else {
				c <<= 1
			}
		}
	}
	return c
}

// codeGeometry is where the grid lies in a picture of a given size.
type codeGeometry struct {
	x0, y0, cell float64
}

func geometryFor(r image.Rectangle) codeGeometry {
	w, h := float64(r.Dx()), float64(r.Dy())
	side := codeFraction * math.Min(w, h)
	return codeGeometry{
		x0:   float64(r.Min.X) + (w-side)/2,
		y0:   float64(r.Min.Y) + (h-side)/2,
		cell: side / codeGrid,
	}
}

// cellAt returns the grid cell of pixel centre (x, y), or ok=false outside it.
func (g codeGeometry) cellAt(x, y int) (cx, cy int, ok bool) {
	fx := (float64(x) + 0.5 - g.x0) / g.cell
	fy := (float64(y) + 0.5 - g.y0) / g.cell
	if fx < 0 || fy < 0 || fx >= codeGrid || fy >= codeGrid {
		return 0, 0, false
	}
	return int(fx), int(fy), true
}

// cellBlack says whether a grid cell is black: the finder ring and the data
// cells whose bit is 1.
func cellBlack(cells *[codeData * codeData]bool, cx, cy int) bool {
	ring := min(cx, cy, codeGrid-1-cx, codeGrid-1-cy)
	switch ring {
	case 0:
		return false
	case 1:
		return true
	}
	return cells[(cy-2)*codeData+(cx-2)]
}

// DrawPicture returns a w × h picture of camera: its block code on a
// background of the camera's own colour, with a brightness ramp so that
// pictures are not flat.
func DrawPicture(camera string, w, h int) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	code := CodeFor(camera)
	cells := codeCells(code)
	geo := geometryFor(img.Rect)
	hue := fnv.New32()
	hue.Write([]byte(camera))
	hv := hue.Sum32()
	bgR, bgG, bgB := uint8(64+hv%128), uint8(64+(hv>>8)%128), uint8(64+(hv>>16)%128)
	_, bgCb, bgCr := color.RGBToYCbCr(bgR, bgG, bgB)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			yy, cb, cr := uint8(0), uint8(128), uint8(128)
			if cx, cy, ok := geo.cellAt(x, y); ok {
				if !cellBlack(&cells, cx, cy) {
					yy = 255
				}
			} else {
				yy = uint8(70 + 100*(x+y)/(w+h))
				cb, cr = bgCb, bgCr
			}
			img.Y[img.YOffset(x, y)] = yy
			if x%2 == 0 && y%2 == 0 {
				ci := img.COffset(x, y)
				img.Cb[ci], img.Cr[ci] = cb, cr
			}
		}
	}
	return img
}

// ReadCode reads the block code of a picture drawn by DrawPicture, after any
// lossy coding and uniform scaling that keep cells at least ~4 pixels wide.
func ReadCode(img image.Image) (uint32, error) {
	geo := geometryFor(img.Bounds())
	if geo.cell < 3 {
		return 0, fmt.Errorf("%w: picture %v too small", ErrNoCode, img.Bounds().Size())
	}
	var lum [codeGrid][codeGrid]float64
	for cy := range codeGrid {
		for cx := range codeGrid {
			lum[cy][cx] = cellLuma(img, geo, cx, cy)
		}
	}
	var black, white float64
	var nb, nw int
	for cy := range codeGrid {
		for cx := range codeGrid {
			switch min(cx, cy, codeGrid-1-cx, codeGrid-1-cy) {
			case 0:
				white += lum[cy][cx]
				nw++
			case 1:
				black += lum[cy][cx]
				nb++
			}
		}
	}
	black /= float64(nb)
	white /= float64(nw)
	if white-black < 64 {
		return 0, fmt.Errorf("%w: finder contrast %.0f (black %.0f, white %.0f)", ErrNoCode, white-black, black, white)
	}
	thr := (black + white) / 2
	var word uint64
	for cy := range codeGrid {
		for cx := range codeGrid {
			isBlack := lum[cy][cx] < thr
			switch ring := min(cx, cy, codeGrid-1-cx, codeGrid-1-cy); {
			case ring == 0 && isBlack, ring == 1 && !isBlack:
				return 0, fmt.Errorf("%w: finder cell (%d,%d) wrong", ErrNoCode, cx, cy)
			case ring >= 2:
				word <<= 1
				if isBlack {
					word |= 1
				}
			}
		}
	}
	code := uint32(word >> 12)
	if word&0xf != codeFixed || uint8(word>>4) != crc8(code) {
		return 0, fmt.Errorf("%w: checksum mismatch", ErrNoCode)
	}
	return code, nil
}

// cellLuma averages the luma of the middle half of a cell.
func cellLuma(img image.Image, g codeGeometry, cx, cy int) float64 {
	x0 := int(math.Round(g.x0 + (float64(cx)+0.25)*g.cell))
	x1 := int(math.Round(g.x0 + (float64(cx)+0.75)*g.cell))
	y0 := int(math.Round(g.y0 + (float64(cy)+0.25)*g.cell))
	y1 := int(math.Round(g.y0 + (float64(cy)+0.75)*g.cell))
	x1, y1 = max(x1, x0+1), max(y1, y0+1)
	var sum float64
	var n int
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			sum += luma(img, x, y)
			n++
		}
	}
	return sum / float64(n)
}

func luma(img image.Image, x, y int) float64 {
	switch m := img.(type) {
	case *image.YCbCr:
		return float64(m.Y[m.YOffset(x, y)])
	case *image.Gray:
		return float64(m.GrayAt(x, y).Y)
	}
	return float64(color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y)
}
