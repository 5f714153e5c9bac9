package webrtc

import (
	"bytes"
	"context"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/bits"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	pion "github.com/pion/webrtc/v4"

	"vigil/internal/media"
)

// profileClass is an H.264 profile as decoders see it (RFC 6184 §8.1,
// Table 5: profile_idc with the constraint flags of profile-iop).
type profileClass int

const (
	classOther profileClass = iota // High 10, 4:2:2, 4:4:4, Extended...: not answered
	classCB                        // Constrained Baseline
	classBaseline
	classMain
	classCHigh // Constrained High: High without B slices
	classHigh
	classHighPlus // High 10, High 4:2:2
	classHigh444  // High 4:4:4 Predictive, whose decoders decode every High profile
)

// classify names the profile of profile_idc idc and constraint flags iop.
func classify(idc, iop byte) profileClass {
	switch idc {
	case 66:
		if iop&0x40 != 0 { // constraint_set1: also Main-conformant
			return classCB
		}
		return classBaseline
	case 77:
		if iop&0x80 != 0 { // constraint_set0: also Baseline-conformant
			return classCB
		}
		return classMain
	case 100:
		if iop&0x0c == 0x0c { // constraint_set4 and 5
			return classCHigh
		}
		return classHigh
	case 110, 122:
		return classHighPlus
	case 244:
		return classHigh444
	}
	return classOther
}

// decodes reports whether a decoder of profile d decodes every stream of
// profile s: each profile's streams are within the ones after it here.
// (H.264 Annex A.2: a High 4:4:4 Predictive decoder decodes High 4:2:2,
// High 10, High, Main and Constrained Baseline streams; Chromium offers it
// beside Constrained Baseline and Main, without High).
func (d profileClass) decodes(s profileClass) bool {
	switch s {
	case classCB:
		return d != classOther
	case classMain:
		return d == classMain || d == classHigh || d == classHigh444
	case classCHigh:
		return d == classCHigh || d == classHigh || d == classHigh444
	case classHigh:
		return d == classHigh || d == classHigh444
	case classHighPlus, classHigh444:
		return d == classHigh444
	case classBaseline:
		return d == s
	}
	return false
}

// plidClass classifies an SDP profile-level-id ("42e01f").
func plidClass(plid string) profileClass {
	b, err := hex.DecodeString(plid)
	if err != nil || len(b) != 3 {
		return classOther
	}
	return classify(b[0], b[1])
}

// video is what the camera's H.264 stream asks of a peer's decoder.
type video struct {
	// known is set when an SPS told the profile.
	known bool
	class profileClass
	// plid is the camera's profile_idc and constraint flags in hex, "6400".
	plid string
	// reorder is set when the stream has B slices, or its SPS allows
	// frames out of order (VUI max_num_reorder_frames > 0). Browsers
	// decode such a stream over WebRTC in arrival order and show a
	// slideshow of keyframes, so it is never sent (use MP4 or HLS).
	reorder bool
}

// videoOf reads the camera's video from the SPS of its first keyframe
// among units (the stream as sent), else of its SDP, and looks at the
// units for B slices.
func videoOf(t *media.Track, track int, units []*media.Unit) video {
	var sps []byte
	for _, u := range units {
		if u.Track == track && u.Key {
			if s, _ := media.H264Params(u.Payload); s != nil {
				sps = s
				break
			}
		}
	}
	if f, ok := t.Format.(*format.H264); ok && sps == nil {
		sps, _ = f.SafeParams()
	}
	var v video
	if len(sps) >= 4 {
		v.known, v.class, v.plid = true, classify(sps[1], sps[2]), hex.EncodeToString(sps[1:3])
		var s h264.SPS
		if s.Unmarshal(sps) == nil && s.VUI != nil && s.VUI.BitstreamRestriction != nil {
			v.reorder = s.VUI.BitstreamRestriction.MaxNumReorderFrames > 0
		}
	}
	for _, u := range units {
		if u.Track == track && hasBSlice(u.Payload) {
			v.reorder = true
		}
	}
	return v
}

// hasBSlice reports whether an access unit holds a B slice (slice_type 1
// or 6, H.264 §7.4.3), read from the start of its slice headers.
func hasBSlice(nalus [][]byte) bool {
	for _, n := range nalus {
		if len(n) < 2 {
			continue
		}
		if typ := h264.NALUType(n[0] & 0x1f); typ != h264.NALUTypeNonIDR && typ != h264.NALUTypeIDR {
			continue
		}
		head := n[1:min(len(n), 16)]
		if bytes.Contains(head, []byte{0, 0, 3}) {
			head = h264.EmulationPreventionRemove(head)
		}
		pos := 0
		if _, err := bits.ReadGolombUnsigned(head, &pos); err != nil { // first_mb_in_slice
			continue
		}
		st, err := bits.ReadGolombUnsigned(head, &pos)
		if err == nil && st%5 == 1 {
			return true
		}
	}
	return false
}

// carriers are the offer's answerable H.264 profile-level-ids whose
// decoders decode the camera's video; all of them if its profile is not
// known.
func (v video) carriers(off offer) []string {
	var out []string
	for _, p := range off.h264Profiles {
		if !v.known || plidClass(p).decodes(v.class) {
			out = append(out, p)
		}
	}
	return out
}

// preferCodecs limits the video transceiver of sender to our H.264 payload
// formats among carriers, so that the answer offers the peer no profile
// it was not going to get. Their payload types are left for pion to take
// from the offer: an answer must number a format as the offer did (RFC 3264
// §6.1), and ours (102, 104, ...) name other formats in a browser's offer —
// a peer then drops the video, or decodes it as what it offered there.
func preferCodecs(pc *pion.PeerConnection, sender *pion.RTPSender, carriers []string) error {
	var codecs []pion.RTPCodecParameters
	for _, c := range answerCodecs() {
		if slices.ContainsFunc(carriers, func(p string) bool { return sameProfile(c.SDPFmtpLine, p) }) {
			c.PayloadType = 0 // pion's RTPTransceiver.getCodecs: the offer's number for it
			codecs = append(codecs, c)
		}
	}
	for _, tr := range pc.GetTransceivers() {
		if tr.Sender() == sender {
			return tr.SetCodecPreferences(codecs)
		}
	}
	return nil
}

// sameProfile reports whether an fmtp line names the profile (profile_idc
// and constraint byte; the level is free) of profile-level-id p.
func sameProfile(fmtp, p string) bool {
	i := strings.Index(strings.ToLower(fmtp), "profile-level-id=")
	if i < 0 || len(p) < 4 {
		return false
	}
	id := fmtp[i+len("profile-level-id="):]
	return len(id) >= 4 && strings.EqualFold(id[:4], p[:4])
}

// drain returns the units src has queued (the GOP cache a hub reader
// replays) without waiting for live ones.
func drain(src Source) []*media.Unit {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out []*media.Unit
	for {
		u, err := src.Next(ctx)
		if err != nil {
			return out
		}
		out = append(out, u)
	}
}
