package sim

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
)

// Generator is a tiny H.264 encoder for synthetic cameras (Constrained
// Baseline, CAVLC). Each GOP is an IDR picture of I_PCM macroblocks, which
// encodes any picture exactly, followed by P pictures whose macroblocks are
// all P_Skip, so the picture stays still at almost no bit cost.
//
// A Generator is not safe for concurrent use.
type Generator struct {
	width, height int // picture size as given
	mbW, mbH      int // size in macroblocks
	fps, gop      int
	main          bool // Main profile in the SPS instead of Constrained Baseline

	sps, pps []byte
	idr      []byte // the IDR slice for the current picture, idr_pic_id excluded
	pic      *image.YCbCr
	next     *image.YCbCr // picture to use from the next IDR, if set

	frame    int    // index of the next picture in its GOP
	frameNum uint32 // frame_num of the next picture
	idrID    uint32 // idr_pic_id of the next IDR
}

// log2MaxFrameNum is log2_max_frame_num_minus4 + 4; frame_num wraps at 2^16.
const log2MaxFrameNum = 16

// NewGenerator returns a Generator for pictures of width × height pixels
// (even numbers; sizes that are not multiples of 16 are coded with frame
// cropping), fps pictures per second and a keyframe every gop pictures.
// picture, if not nil, is coded at the top-left corner without scaling, its
// edge pixels repeated where it is smaller than the frame; nil means mid grey.
func NewGenerator(width, height, fps, gop int, picture image.Image) (*Generator, error) {
	switch {
	case width <= 0 || height <= 0 || width%2 != 0 || height%2 != 0:
		return nil, fmt.Errorf("sim: generator: size %dx%d must be positive and even", width, height)
	case width > 4096 || height > 2304:
		return nil, fmt.Errorf("sim: generator: size %dx%d too large", width, height)
	case fps <= 0 || fps > 120:
		return nil, fmt.Errorf("sim: generator: fps %d out of range 1..120", fps)
	case gop <= 0:
		return nil, fmt.Errorf("sim: generator: gop %d must be positive", gop)
	}
	g := &Generator{
		width: width, height: height,
		mbW: (width + 15) / 16, mbH: (height + 15) / 16,
		fps: fps, gop: gop,
	}
	g.sps = addEmulationPrevention([]byte{0x67}, g.spsRBSP()) // nal_ref_idc 3, type 7
	g.pps = addEmulationPrevention([]byte{0x68}, ppsRBSP())   // nal_ref_idc 3, type 8
	g.pic = g.toYCbCr(picture)
	return g, nil
}

// SPS returns the sequence parameter set NAL unit.
func (g *Generator) SPS() []byte { return g.sps }

// PPS returns the picture parameter set NAL unit.
func (g *Generator) PPS() []byte { return g.pps }

// SetMainProfile declares the stream Main profile instead of Constrained
// Baseline; the coding stays the same (Main admits I_PCM, P_Skip and CAVLC).
// It takes effect at once: callers use it before the first access unit.
func (g *Generator) SetMainProfile() {
	g.main = true
	g.sps = addEmulationPrevention([]byte{0x67}, g.spsRBSP())
}

// FPS returns the frame rate.
func (g *Generator) FPS() int { return g.fps }

// SetPicture changes the picture from the next IDR on.
func (g *Generator) SetPicture(picture image.Image) { g.next = g.toYCbCr(picture) }

// ForceKey makes the next access unit an IDR (to start a new session).
func (g *Generator) ForceKey() { g.frame = 0 }

// Next returns the next access unit. An IDR unit is SPS, PPS and the IDR
// slice; any other is one P slice. The returned slices must not be modified.
func (g *Generator) Next() (nalus [][]byte, key bool) {
	if g.frame%g.gop == 0 {
		g.frame = 0
		g.frameNum = 0
		if g.next != nil {
			g.pic, g.next = g.next, nil
		}
		slice := g.slice(true)
		g.idrID = (g.idrID + 1) % 65536
		g.frame, g.frameNum = 1, 1
		return [][]byte{g.sps, g.pps, slice}, true
	}
	slice := g.slice(false)
	g.frame++
	g.frameNum = (g.frameNum + 1) % (1 << log2MaxFrameNum)
	return [][]byte{slice}, false
}

// level returns level_idc for the frame size in macroblocks (Table A-1 MaxFS).
func (g *Generator) level() uint64 {
	fs := g.mbW * g.mbH
	switch {
	case fs <= 396:
		return 21
	case fs <= 1620:
		return 30
	case fs <= 3600:
		return 31
	case fs <= 5120:
		return 32
	case fs <= 8192:
		return 40
	case fs <= 22080:
		return 50
	}
	return 51
}

// spsRBSP writes seq_parameter_set_rbsp (H.264 §7.3.2.1.1).
func (g *Generator) spsRBSP() []byte {
	var w bitWriter
	if g.main {
		w.u(8, 77)   // profile_idc: Main
		w.u(8, 0x40) // constraint_set1_flag: obeys Main (CAVLC, no B slices)
	} else {
		w.u(8, 66)   // profile_idc: Baseline
		w.u(8, 0xc0) // constraint_set0_flag, constraint_set1_flag: Constrained Baseline
	}
	w.u(8, g.level())
	w.ue(0)                   // seq_parameter_set_id
	w.ue(log2MaxFrameNum - 4) // log2_max_frame_num_minus4
	w.ue(2)                   // pic_order_cnt_type: POC follows frame_num
	w.ue(1)                   // max_num_ref_frames
	w.flag(false)             // gaps_in_frame_num_value_allowed_flag
	w.ue(uint32(g.mbW - 1))   // pic_width_in_mbs_minus1
	w.ue(uint32(g.mbH - 1))   // pic_height_in_map_units_minus1
	w.flag(true)              // frame_mbs_only_flag
	w.flag(true)              // direct_8x8_inference_flag
	cropR, cropB := g.mbW*16-g.width, g.mbH*16-g.height
	w.flag(cropR != 0 || cropB != 0) // frame_cropping_flag
	if cropR != 0 || cropB != 0 {
		// CropUnitX = CropUnitY = 2 for 4:2:0 frames (§7.4.2.1.1).
		w.ue(0)
		w.ue(uint32(cropR / 2))
		w.ue(0)
		w.ue(uint32(cropB / 2))
	}
	w.flag(true) // vui_parameters_present_flag
	g.vui(&w)
	return w.trailing()
}

// vui writes vui_parameters (Annex E.1.1): full-range samples (we code the
// JFIF YCbCr of Go's image package), the frame rate, and no reordering.
func (g *Generator) vui(w *bitWriter) {
	w.flag(false) // aspect_ratio_info_present_flag
	w.flag(false) // overscan_info_present_flag
	w.flag(true)  // video_signal_type_present_flag
	w.u(3, 5)     // video_format: unspecified
	w.flag(true)  // video_full_range_flag
	w.flag(false) // colour_description_present_flag
	w.flag(false) // chroma_loc_info_present_flag
	w.flag(true)  // timing_info_present_flag
	w.u(32, 1)    // num_units_in_tick
	w.u(32, uint64(2*g.fps))
	w.flag(true)  // fixed_frame_rate_flag
	w.flag(false) // nal_hrd_parameters_present_flag
	w.flag(false) // vcl_hrd_parameters_present_flag
	w.flag(false) // pic_struct_present_flag
	w.flag(true)  // bitstream_restriction_flag
	w.flag(true)  // motion_vectors_over_pic_boundaries_flag
	w.ue(0)       // max_bytes_per_pic_denom
	w.ue(0)       // max_bits_per_mb_denom
	w.ue(16)      // log2_max_mv_length_horizontal
	w.ue(16)      // log2_max_mv_length_vertical
	w.ue(0)       // max_num_reorder_frames
	w.ue(1)       // max_dec_frame_buffering
}

// ppsRBSP writes pic_parameter_set_rbsp (§7.3.2.2).
func ppsRBSP() []byte {
	var w bitWriter
	w.ue(0)       // pic_parameter_set_id
	w.ue(0)       // seq_parameter_set_id
	w.flag(false) // entropy_coding_mode_flag: CAVLC
	w.flag(false) // bottom_field_pic_order_in_frame_present_flag
	w.ue(0)       // num_slice_groups_minus1
	w.ue(0)       // num_ref_idx_l0_default_active_minus1
	w.ue(0)       // num_ref_idx_l1_default_active_minus1
	w.flag(false) // weighted_pred_flag
	w.u(2, 0)     // weighted_bipred_idc
	w.se(0)       // pic_init_qp_minus26
	w.se(0)       // pic_init_qs_minus26
	w.se(0)       // chroma_qp_index_offset
	w.flag(true)  // deblocking_filter_control_present_flag
	w.flag(false) // constrained_intra_pred_flag
	w.flag(false) // redundant_pic_cnt_present_flag
	return w.trailing()
}

// slice writes one slice NAL unit covering the whole picture (§7.3.3, §7.3.4).
func (g *Generator) slice(idr bool) []byte {
	var w bitWriter
	w.ue(0) // first_mb_in_slice
	if idr {
		w.ue(7) // slice_type: I, all slices of the picture
	} else {
		w.ue(5) // slice_type: P, all slices of the picture
	}
	w.ue(0) // pic_parameter_set_id
	w.u(log2MaxFrameNum, uint64(g.frameNum))
	if idr {
		w.ue(g.idrID) // idr_pic_id
	} else {
		w.flag(false) // num_ref_idx_active_override_flag
		w.flag(false) // ref_pic_list_modification_flag_l0
	}
	// dec_ref_pic_marking (§7.3.3.3), as nal_ref_idc != 0.
	if idr {
		w.flag(false) // no_output_of_prior_pics_flag
		w.flag(false) // long_term_reference_flag
	} else {
		w.flag(false) // adaptive_ref_pic_marking_mode_flag: sliding window
	}
	w.se(0) // slice_qp_delta
	w.ue(1) // disable_deblocking_filter_idc: off
	mbs := g.mbW * g.mbH
	if !idr {
		w.ue(uint32(mbs))                                         // mb_skip_run: every macroblock is P_Skip
		return addEmulationPrevention([]byte{0x41}, w.trailing()) // nal_ref_idc 2, type 1
	}
	w.buf = append(make([]byte, 0, mbs*(384+2)+64), w.buf...)
	var mb [384]byte
	for y := 0; y < g.mbH; y++ {
		for x := 0; x < g.mbW; x++ {
			w.ue(25) // mb_type: I_PCM (Table 7-11)
			w.alignZero()
			g.pcm(&mb, x, y)
			w.bytes(mb[:])
		}
	}
	nal := make([]byte, 0, len(w.buf)+len(w.buf)/64+8)
	return addEmulationPrevention(append(nal, 0x65), w.trailing()) // nal_ref_idc 3, type 5
}

// pcm fills the pcm_sample_luma and pcm_sample_chroma of macroblock (mbx, mby).
func (g *Generator) pcm(mb *[384]byte, mbx, mby int) {
	p := g.pic
	i := 0
	for y := 0; y < 16; y++ {
		row := p.Y[(mby*16+y)*p.YStride+mbx*16:]
		for x := 0; x < 16; x++ {
			mb[i] = row[x]
			i++
		}
	}
	for _, plane := range [2][]byte{p.Cb, p.Cr} {
		for y := 0; y < 8; y++ {
			row := plane[(mby*8+y)*p.CStride+mbx*8:]
			for x := 0; x < 8; x++ {
				mb[i] = row[x]
				i++
			}
		}
	}
	// Early editions of H.264 forbade zero PCM samples; a 1 costs nothing.
	for j := range mb {
		if mb[j] == 0 {
			mb[j] = 1
		}
	}
}

// toYCbCr converts a picture to a 4:2:0 image covering whole macroblocks,
// the picture at the top left and edges replicated into the padding.
func (g *Generator) toYCbCr(picture image.Image) *image.YCbCr {
	w, h := g.mbW*16, g.mbH*16
	dst := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	if picture == nil {
		fill(dst.Y, 128)
		fill(dst.Cb, 128)
		fill(dst.Cr, 128)
		return dst
	}
	b := picture.Bounds()
	src, ok := picture.(*image.YCbCr)
	if !ok || src.SubsampleRatio != image.YCbCrSubsampleRatio420 || b.Min != (image.Point{}) {
		// Other images go through RGBA and Go's JFIF (full-range) conversion.
		rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Bounds(), picture, b.Min, draw.Src)
		src = image.NewYCbCr(rgba.Bounds(), image.YCbCrSubsampleRatio420)
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				c := rgba.RGBAAt(x, y)
				yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
				src.Y[src.YOffset(x, y)] = yy
				ci := src.COffset(x, y)
				src.Cb[ci], src.Cr[ci] = cb, cr // last pixel of the 2×2 block wins
			}
		}
	}
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	for y := 0; y < h; y++ {
		sy := min(y, sh-1)
		for x := 0; x < w; x++ {
			dst.Y[y*dst.YStride+x] = src.Y[src.YOffset(min(x, sw-1), sy)]
		}
	}
	for y := 0; y < h/2; y++ {
		sy := min(2*y, sh-1)
		for x := 0; x < w/2; x++ {
			ci := src.COffset(min(2*x, sw-1), sy)
			dst.Cb[y*dst.CStride+x] = src.Cb[ci]
			dst.Cr[y*dst.CStride+x] = src.Cr[ci]
		}
	}
	return dst
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}
