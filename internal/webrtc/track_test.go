package webrtc

import (
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/interceptor"
	pion "github.com/pion/webrtc/v4"

	"vigil/internal/media"
)

// bindContext is a TrackLocalContext offering some payload formats.
type bindContext struct{ codecs []pion.RTPCodecParameters }

func (c bindContext) CodecParameters() []pion.RTPCodecParameters           { return c.codecs }
func (c bindContext) HeaderExtensions() []pion.RTPHeaderExtensionParameter { return nil }
func (c bindContext) SSRC() pion.SSRC                                      { return 1234 }
func (c bindContext) SSRCRetransmission() pion.SSRC                        { return 0 }
func (c bindContext) SSRCForwardErrorCorrection() pion.SSRC                { return 0 }
func (c bindContext) WriteStream() pion.TrackLocalWriter                   { return nil }
func (c bindContext) ID() string                                           { return "t" }
func (c bindContext) RTCPReader() interceptor.RTCPReader                   { return nil }

// TestBindPrefersTheCamerasProfile: of the negotiated H.264 formats, a
// track takes the one of the camera's profile, else the first in
// packetization mode 1 whose decoder decodes the camera's profile (never
// Constrained Baseline for a Main or High camera); audio binds by MIME
// type and clock rate.
func TestBindPrefersTheCamerasProfile(t *testing.T) {
	h264 := func(pt pion.PayloadType, fmtp string) pion.RTPCodecParameters {
		return pion.RTPCodecParameters{PayloadType: pt, RTPCodecCapability: pion.RTPCodecCapability{
			MimeType: pion.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: fmtp}}
	}
	offered := []pion.RTPCodecParameters{
		h264(100, "packetization-mode=0;profile-level-id=64001f"),
		h264(102, h264Fmtp("42e01f")),
		h264(104, h264Fmtp("64001f")),
		{PayloadType: 0, RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}},
	}
	high := []byte{0x67, 0x64, 0x00, 0x1f}
	main := []byte{0x67, 0x4d, 0x00, 0x1f}
	cases := []struct {
		name string
		f    format.Format
		want pion.PayloadType
	}{
		{"High camera", &format.H264{PacketizationMode: 1, SPS: high, PPS: []byte{0x68}}, 104},
		{"Main camera", &format.H264{PacketizationMode: 1, SPS: main, PPS: []byte{0x68}}, 104},
		{"camera profile unknown", &format.H264{PacketizationMode: 1}, 102},
		{"G.711", &format.G711{MULaw: true, SampleRate: 8000, ChannelCount: 1}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := newTrack(tc.f)
			if err != nil || tr == nil {
				t.Fatalf("newTrack: %v, %v", tr, err)
			}
			if tr.kind == pion.RTPCodecTypeVideo { // as pick does
				v := videoOf(&media.Track{Kind: media.Video, Format: tc.f}, 0, nil)
				tr.carriers, tr.profile = v.carriers(offer{h264Profiles: []string{"42e01f", "64001f"}}), v.plid
			}
			c, err := tr.Bind(bindContext{offered})
			if err != nil || c.PayloadType != tc.want || tr.pt != uint8(tc.want) || tr.ssrc != 1234 {
				t.Fatalf("bound %d (%v), want %d", c.PayloadType, err, tc.want)
			}
		})
	}
	tr, _ := newTrack(&format.Opus{ChannelCount: 2})
	if _, err := tr.Bind(bindContext{offered}); err == nil {
		t.Fatal("Opus bound to a context without Opus")
	}
}
