package webrtc

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/sim"
	"vigil/internal/testkit/simcam"
)

// bSlice is a non-reference B slice header (nal_unit_type 1,
// first_mb_in_slice 0, slice_type 1), enough for hasBSlice.
var bSlice = []byte{0x01, 0xa0, 0x00, 0x00, 0x01}

// publishMain caches a GOP of a Main-profile camera: its keyframe (SPS
// in-band, none in the SDP, as many cameras do), P frames, and a B frame
// among them if withB.
func publishMain(t *testing.T, h *hub.Hub, id string, withB bool) {
	t.Helper()
	g, err := sim.NewGenerator(testW, testH, testFPS, testGOP, nil)
	if err != nil {
		t.Fatal(err)
	}
	g.SetMainProfile()
	p, err := h.Publish(access.DeviceID(id), access.StreamMain,
		[]*media.Track{{Kind: media.Video, Format: &format.H264{PayloadTyp: 96, PacketizationMode: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	for n := range 10 {
		au, key := g.Next()
		if withB && n == 5 {
			au = [][]byte{bSlice}
		}
		if err := p.Write(0, hub.UnitData{PTS: media.ClockToDuration(int64(n*3600), 90000), Key: key, Payload: au}); err != nil {
			t.Fatal(err)
		}
	}
}

// answeredProfiles are the H.264 profile-level-ids of an answer.
func answeredProfiles(sdp string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`profile-level-id=([0-9a-fA-F]{6})`).FindAllStringSubmatch(sdp, -1) {
		out = append(out, strings.ToLower(m[1]))
	}
	return out
}

// TestAnswerMatchesTheCamerasProfile: a Main-profile camera (its SPS in
// band only) is answered only with offered profiles whose decoders decode
// Main — never Constrained Baseline, which the stream would not be; an
// offer of Constrained Baseline alone is refused with ErrProfile, before
// any session exists.
func TestAnswerMatchesTheCamerasProfile(t *testing.T) {
	noLeaks(t)
	h := hub.New(hub.Config{Logger: quiet()})
	publishMain(t, h, "cam-m", false)
	s := newServer(t, nil)
	good := offerOf(t, newViewer(t, false))

	ss, err := s.Negotiate(context.Background(), Offer{SDP: good, Source: read(t, h, grant("cam-m", nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	got := answeredProfiles(ss.Answer())
	if len(got) == 0 || slices.ContainsFunc(got, func(p string) bool {
		return !strings.HasPrefix(p, "4d00") && !strings.HasPrefix(p, "6400") && !strings.HasPrefix(p, "f400")
	}) {
		t.Fatalf("a Main camera answered with profiles %v, want Main, High or High 4:4:4 only", got)
	}

	cbOnly := regexp.MustCompile(`profile-level-id=(4d|64|f4)00`).ReplaceAllString(good, "profile-level-id=42e0")
	r := read(t, h, grant("cam-m", nil))
	_, err = s.Negotiate(context.Background(), Offer{SDP: cbOnly, Source: r})
	if !errors.Is(err, ErrProfile) {
		t.Fatalf("Constrained Baseline offer for a Main camera: %v, want ErrProfile", err)
	}
	t.Logf("%v", err)
}

// h264Formats maps an SDP's H.264 payload types to their profiles
// (profile_idc and constraint byte, lower case).
func h264Formats(sdp string) map[string]string {
	out := map[string]string{}
	for _, m := range regexp.MustCompile(`a=fmtp:(\d+) [^\r\n]*profile-level-id=([0-9a-fA-F]{4})`).FindAllStringSubmatch(sdp, -1) {
		out[m[1]] = strings.ToLower(m[2])
	}
	return out
}

// TestMainCameraPlaysWithItsAudio: a Main-profile camera with a
// microphone, to a viewer whose offer numbers its H.264 formats as
// browsers do (102 Baseline, 106 Constrained Baseline, 127 Main, 112
// High): the answer numbers every format as the offer did (RFC 3264
// §6.1), and the viewer gets the camera's video beside its audio — not
// the audio alone, as when the answer renumbered Main as 106.
func TestMainCameraPlaysWithItsAudio(t *testing.T) {
	noLeaks(t)
	h := hub.New(hub.Config{Logger: quiet()})
	publishCam(t, h, "cam-m", true, simcam.Config{Main: true})
	s := newServer(t, nil)
	v := newViewer(t, true)
	offer := offerOf(t, v)
	ss, err := s.Negotiate(context.Background(), Offer{SDP: offer, Source: read(t, h, grant("cam-m", nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	offered, answered := h264Formats(offer), h264Formats(ss.Answer())
	for pt, p := range answered {
		if offered[pt] != p {
			t.Errorf("the answer's payload type %s is profile %s, the offer's is %q", pt, p, offered[pt])
		}
	}
	if err := v.Accept(ss.Answer()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitUnits(ctx, testGOP/2); err != nil {
		t.Fatalf("%v; %d audio packets meanwhile", err, v.Stats().AudioPackets)
	}
	if err := v.Checker().Only("cam-m"); err != nil {
		t.Fatalf("stamps %v: %v", v.Checker().Counts(), err)
	}
}

// TestBFramesAreRefused: a camera whose GOP has a B frame is not sent over
// WebRTC (browsers would show a slideshow of its keyframes): ErrBFrames,
// which the page shows while it falls back to MP4.
func TestBFramesAreRefused(t *testing.T) {
	noLeaks(t)
	h := hub.New(hub.Config{Logger: quiet()})
	publishMain(t, h, "cam-b", true)
	s := newServer(t, nil)
	_, err := s.Negotiate(context.Background(), Offer{SDP: offerOf(t, newViewer(t, false)), Source: read(t, h, grant("cam-b", nil))})
	if !errors.Is(err, ErrBFrames) {
		t.Fatalf("Negotiate = %v, want ErrBFrames", err)
	}
}

// TestProfileClasses: which decoder profile decodes which stream
// (RFC 6184 Table 5, H.264 Annex A).
func TestProfileClasses(t *testing.T) {
	for _, tt := range []struct {
		decoder, stream string
		want            bool
	}{
		{"42e01f", "42c01e", true}, {"42e01f", "4d401f", false}, {"42001f", "42e01f", true},
		{"4d001f", "42e01f", true}, {"4d001f", "4d0028", true}, {"4d001f", "640028", false},
		{"64001f", "4d0028", true}, {"64001f", "640028", true}, {"640c1f", "640028", false},
		{"640c1f", "640c28", true}, {"42e01f", "640c28", false}, {"f4001f", "640028", true},
		{"64001f", "6e0028", false}, {"f4001f", "6e0028", true}, {"f4001f", "42e01f", true}, {"f4001f", "42001f", false},
	} {
		if got := plidClass(tt.decoder).decodes(plidClass(tt.stream)); got != tt.want {
			t.Errorf("%s decodes %s: %v, want %v", tt.decoder, tt.stream, got, tt.want)
		}
	}
	if !hasBSlice([][]byte{bSlice}) || hasBSlice([][]byte{{0x41, 0x9a, 0x00}}) || hasBSlice([][]byte{{0x65, 0x88, 0x80}}) {
		t.Error("hasBSlice: a B slice not found, or a P or I slice taken for one")
	}
}
