package webrtc

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pion/sdp/v3"
)

// offer is what a peer's SDP offer says it can receive.
type offer struct {
	sdp string
	// h264 is true when a video section receives H.264 in packetization
	// mode 1 with a profile this server answers.
	h264 bool
	// h264Profiles are the profile-level-ids of those formats, lower case.
	h264Profiles []string
	// audio holds the audio codecs (lower-case encoding names: opus, pcmu,
	// pcma) of the first section that receives audio.
	audio map[string]bool
}

// parseOffer checks an SDP offer (RFC 8866, JSEP RFC 8829) and reads what
// it can receive; ErrBadOffer or ErrNoH264 if it is of no use.
func parseOffer(s string) (offer, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		return offer{}, fmt.Errorf("%w: %w", ErrBadOffer, err)
	}
	if len(d.MediaDescriptions) == 0 {
		return offer{}, fmt.Errorf("%w: no media sections", ErrBadOffer)
	}
	o := offer{sdp: s}
	trimmed := false
	for _, m := range d.MediaDescriptions {
		if !receives(m) {
			continue
		}
		codecs := sectionCodecs(m)
		keep := map[string]bool{}
		switch m.MediaName.Media {
		case "video":
			for _, c := range codecs {
				if answerableH264(c) {
					o.h264 = true
					o.h264Profiles = append(o.h264Profiles, strings.ToLower(c.fmtp["profile-level-id"]))
					keep[c.pt] = true
				}
			}
		case "audio":
			if o.audio == nil {
				o.audio = map[string]bool{}
				for _, c := range codecs {
					o.audio[c.name] = true
				}
			}
			for _, c := range codecs {
				if c.name == "opus" || c.name == "pcmu" || c.name == "pcma" {
					keep[c.pt] = true
				}
			}
		}
		trimmed = trim(m, keep) || trimmed
	}
	if !o.h264 {
		return o, ErrNoH264
	}
	if trimmed {
		b, err := d.Marshal()
		if err != nil {
			return offer{}, fmt.Errorf("%w: %w", ErrBadOffer, err)
		}
		o.sdp = string(b)
	}
	return o, nil
}

// trim leaves out of a media section the payload formats not in keep,
// with their rtpmap, fmtp and rtcp-fb lines, and reports whether it left
// any out. A section with none to keep is left as it is. The answer is
// the same — only formats the server registers can be answered (RFC 3264
// §6.1) — but pion's SetRemoteDescription reads the whole section once
// per payload format offered: a browser's forty formats (VP8, VP9, AV1,
// H.265, RTX, RED, FEC...) made it 40 % of a WHEP POST's CPU.
func trim(m *sdp.MediaDescription, keep map[string]bool) bool {
	if len(keep) == 0 || len(keep) == len(m.MediaName.Formats) {
		return false
	}
	formats := m.MediaName.Formats[:0:0]
	for _, pt := range m.MediaName.Formats {
		if keep[pt] {
			formats = append(formats, pt)
		}
	}
	m.MediaName.Formats = formats
	m.Attributes = slices.DeleteFunc(m.Attributes, func(a sdp.Attribute) bool {
		if a.Key != "rtpmap" && a.Key != "fmtp" && a.Key != "rtcp-fb" {
			return false
		}
		pt, _, _ := strings.Cut(a.Value, " ")
		return pt != "*" && !keep[pt]
	})
	return true
}

// receives reports whether the peer accepts media in a section: not
// rejected (port 0) and not sendonly or inactive (RFC 8866 §6.7).
func receives(m *sdp.MediaDescription) bool {
	if m.MediaName.Port.Value == 0 {
		return false
	}
	_, sendonly := m.Attribute("sendonly")
	_, inactive := m.Attribute("inactive")
	return !sendonly && !inactive
}

// offered is one payload format of a media section.
type offered struct {
	pt   string            // the payload type, as the m= line lists it
	name string            // lower case: h264, opus, pcmu...
	fmtp map[string]string // keys lower case
}

// sectionCodecs reads a section's payload formats from its rtpmap and fmtp
// attributes (RFC 8866 §6.6, §6.15). Static payload types 0 and 8 need no
// rtpmap (RFC 3551).
func sectionCodecs(m *sdp.MediaDescription) []offered {
	byPT := map[string]*offered{}
	var out []*offered
	for _, pt := range m.MediaName.Formats {
		c := &offered{pt: pt, fmtp: map[string]string{}}
		switch pt {
		case "0":
			c.name = "pcmu"
		case "8":
			c.name = "pcma"
		}
		byPT[pt] = c
		out = append(out, c)
	}
	for _, a := range m.Attributes {
		pt, rest, _ := strings.Cut(a.Value, " ")
		c := byPT[pt]
		if c == nil {
			continue
		}
		switch a.Key {
		case "rtpmap":
			name, _, _ := strings.Cut(rest, "/")
			c.name = strings.ToLower(strings.TrimSpace(name))
		case "fmtp":
			for p := range strings.SplitSeq(rest, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				c.fmtp[strings.ToLower(k)] = v
			}
		}
	}
	codecs := make([]offered, 0, len(out))
	for _, c := range out {
		codecs = append(codecs, *c)
	}
	return codecs
}

// answerableH264 reports whether c is H.264 in packetization mode 1 with a
// profile (profile_idc and constraint byte) among h264Profiles.
func answerableH264(c offered) bool {
	if c.name != "h264" || c.fmtp["packetization-mode"] != "1" {
		return false
	}
	plid := strings.ToLower(c.fmtp["profile-level-id"])
	if len(plid) != 6 {
		return false
	}
	return slices.ContainsFunc(h264Profiles(), func(p string) bool { return p[:4] == plid[:4] })
}
