package sim

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	testSecret = []byte("vigil test secret")
	testKeys   = Keys(func(camera string) []byte {
		if camera == "nobody" {
			return nil
		}
		return CameraKey(testSecret, camera)
	})
)

func testKey(camera string) []byte { return CameraKey(testSecret, camera) }

type stampCase struct {
	name  string
	nalu  []byte
	ok    bool
	err   error // nil, or the sentinel errors.Is must match
	stamp Stamp // when ok and err == nil
}

func mutate(b []byte, f func([]byte) []byte) []byte {
	return f(append([]byte(nil), b...))
}

// stampCases is the table of TestParseStamp; it also seeds FuzzParseStamp.
func stampCases() []stampCase {
	t0 := time.Unix(1700000000, 123456789)
	long := strings.Repeat("c", 255) // payloadSize > 255: 0xFF extension bytes
	valid := func(s Stamp) stampCase {
		return stampCase{name: "valid/" + s.Camera[:min(len(s.Camera), 12)], nalu: StampNALU(testKey(s.Camera), s), ok: true, stamp: s}
	}
	base := StampNALU(testKey("cam-1"), Stamp{"cam-1", 42, t0})
	var cases []stampCase
	for _, s := range []Stamp{
		{"cam-1", 42, t0},
		{"x", 0, time.Unix(0, 0)},                      // many zero bytes: emulation prevention
		{"\x00\x00\x01\x00\x00\x03", 1 << 40, t0},      // start codes in the id itself
		{long, ^uint64(0), time.Unix(0, 0x0000030000)}, // 0xFF extension
		{"", 7, t0},
	} {
		cases = append(cases, valid(s))
	}
	macIdx := len(base) - 2 // last MAC byte (before trailing 0x80)
	cases = append(cases,
		stampCase{name: "bad-mac", nalu: mutate(base, func(b []byte) []byte { b[macIdx] ^= 1; return b }), ok: true, err: ErrBadMAC},
		stampCase{name: "wrong-key", nalu: StampNALU(testKey("cam-2"), Stamp{"cam-1", 1, t0}), ok: true, err: ErrBadMAC},
		stampCase{name: "unknown-camera", nalu: StampNALU([]byte("k"), Stamp{"nobody", 1, t0}), ok: true, err: ErrUnknownCamera},
		stampCase{name: "truncated", nalu: base[:len(base)-10], ok: true, err: ErrMalformed},
		stampCase{name: "bad-version", nalu: mutate(base, func(b []byte) []byte { b[1+2+16] = 9; return b }), ok: true, err: ErrMalformed},
		stampCase{name: "not-sei", nalu: mutate(base, func(b []byte) []byte { b[0] = 0x65; return b })},
		stampCase{name: "empty"},
		stampCase{name: "other-uuid", nalu: mutate(base, func(b []byte) []byte { b[3] ^= 0xff; return b })},
		stampCase{name: "x264-sei", nalu: append([]byte{6, 5, 20}, append(bytes.Repeat([]byte{0xdc}, 16), 'x', '2', '6', '4', 0x80)...)},
		stampCase{name: "after-other-message", ok: true, stamp: Stamp{"cam-1", 42, t0},
			// A recovery point SEI (type 6, size 1) before ours in the same NAL unit.
			nalu: append([]byte{6, 6, 1, 0x84}, base[1:]...)},
	)
	return cases
}

func TestParseStamp(t *testing.T) {
	for _, tc := range stampCases() {
		t.Run(tc.name, func(t *testing.T) {
			s, ok, err := ParseStamp(tc.nalu, testKeys)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (err %v)", ok, tc.ok, err)
			}
			if tc.err == nil && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.ok && tc.err == nil && (s.Camera != tc.stamp.Camera || s.Seq != tc.stamp.Seq || !s.Time.Equal(tc.stamp.Time)) {
				t.Fatalf("stamp = %+v, want %+v", s, tc.stamp)
			}
		})
	}
}

func TestStampEncoding(t *testing.T) {
	s := Stamp{"x", 0, time.Unix(0, 0)}
	n := StampNALU(testKey("x"), s)
	if n[0] != 0x06 {
		t.Fatalf("NAL header %#x, want 0x06 (nal_ref_idc 0, type 6)", n[0])
	}
	// No start code emulation: 0x0000 followed by 00..03 only as 0x000003.
	for i := 0; i+2 < len(n); i++ {
		if n[i] == 0 && n[i+1] == 0 && n[i+2] < 3 {
			t.Fatalf("start code emulation at %d: % x", i, n)
		}
	}
	if !bytes.Contains(n, []byte{0, 0, 3}) {
		t.Fatalf("expected emulation prevention bytes for zero seq/time: % x", n)
	}
	if n[len(n)-1] != 0x80 {
		t.Fatalf("last byte %#x, want rbsp_trailing_bits 0x80", n[len(n)-1])
	}
	rbsp := removeEmulationPrevention(n[1:])
	if rbsp[0] != 5 || int(rbsp[1]) != len(rbsp)-3 {
		t.Fatalf("payloadType %d payloadSize %d, want 5 and %d", rbsp[0], rbsp[1], len(rbsp)-3)
	}

	long := Stamp{strings.Repeat("a", 250), 1, time.Unix(1, 0)}
	rbsp = removeEmulationPrevention(StampNALU(testKey(long.Camera), long)[1:])
	// payloadSize = 16+2+250+8+8+16 = 300 = 0xFF + 45.
	if rbsp[1] != 0xff || rbsp[2] != 45 {
		t.Fatalf("payloadSize bytes % x, want ff 2d", rbsp[1:3])
	}
}

func TestStampH265(t *testing.T) {
	s := Stamp{"cam-h265", 9, time.Unix(5, 6)}
	n := StampNALUH265(testKey(s.Camera), s)
	if n[0] != 39<<1 || n[1] != 1 {
		t.Fatalf("NAL header % x, want 4e 01", n[:2])
	}
	got, ok, err := ParseStampH265(n, testKeys)
	if !ok || err != nil || got.Camera != s.Camera || got.Seq != 9 || !got.Time.Equal(s.Time) {
		t.Fatalf("ParseStampH265 = %+v, %v, %v", got, ok, err)
	}
	if _, ok, _ := ParseStamp(n, testKeys); ok {
		t.Fatal("ParseStamp accepted an H.265 NAL unit")
	}
	c := NewCheckerH265(testKeys)
	if err := c.AnnexB(AnnexB([][]byte{n, {0x26, 0x01, 0xaf}})); err != nil {
		t.Fatal(err)
	}
	if err := c.Only(s.Camera); err != nil {
		t.Fatal(err)
	}
}

func TestEmulationPreventionRoundTrip(t *testing.T) {
	for _, in := range [][]byte{
		{}, {0}, {0, 0}, {0, 0, 0}, {0, 0, 1}, {0, 0, 2, 0, 0, 3}, {0, 0, 0, 0, 0, 0}, {1, 0, 0, 4},
	} {
		out := addEmulationPrevention(nil, in)
		for i := 0; i+2 < len(out); i++ {
			if out[i] == 0 && out[i+1] == 0 && out[i+2] <= 2 {
				t.Errorf("% x -> % x has emulation at %d", in, out, i)
			}
		}
		if back := removeEmulationPrevention(out); !bytes.Equal(back, in) {
			t.Errorf("% x -> % x -> % x", in, out, back)
		}
	}
}

func FuzzParseStamp(f *testing.F) {
	for _, tc := range stampCases() {
		f.Add(tc.nalu)
	}
	f.Fuzz(func(t *testing.T, nalu []byte) {
		s, ok, err := ParseStamp(nalu, testKeys)
		if !ok && err != nil {
			t.Fatalf("ok=false with error %v", err)
		}
		if ok && err == nil {
			// A verified stamp re-encodes to a NAL unit that parses the same.
			again, ok2, err2 := ParseStamp(StampNALU(testKey(s.Camera), s), testKeys)
			if !ok2 || err2 != nil || again.Camera != s.Camera || again.Seq != s.Seq || !again.Time.Equal(s.Time) {
				t.Fatalf("re-encode of %+v: %+v %v %v", s, again, ok2, err2)
			}
		}
	})
}

// TestStampFFmpegTrace has ffmpeg's own bitstream reader (trace_headers)
// parse our SEI: payload type 5, the size we wrote, our UUID, and every
// payload byte after emulation prevention is removed.
func TestStampFFmpegTrace(t *testing.T) {
	t.Parallel()
	g, err := NewGenerator(32, 32, 10, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "t.h264")
	writeClip(t, path, g, "cam-trace", 3)
	log := ffmpegTrace(t, "-i", path, "-c", "copy", "-bsf:v", "trace_headers", "-f", "null", "-")
	payloadLen := 16 + 2 + len("cam-trace") + 8 + 8 + stampMACLen
	for _, want := range []string{
		"last_payload_type_byte                               00000101 = 5",
		fmt.Sprintf("last_payload_size_byte                               %08b = %d", payloadLen, payloadLen),
		"uuid_iso_iec_11578[0]                                10001111 = 143",
		fmt.Sprintf("user_data_payload_byte[%d]", payloadLen-17),
	} {
		if n := strings.Count(log, want); n != 3 {
			t.Errorf("trace has %d × %q, want 3", n, want)
		}
	}
	if n := strings.Count(log, fmt.Sprintf("user_data_payload_byte[%d]", payloadLen-16)); n != 0 {
		t.Errorf("ffmpeg read %d payload bytes past the end", n)
	}
	// The payload holds "cam-trace" after version and length.
	for i, ch := range []byte("cam-trace") {
		re := regexp.MustCompile(fmt.Sprintf(`user_data_payload_byte\[%d\] +%08b = %d\n`, i+2, ch, ch))
		if len(re.FindAllString(log, -1)) != 3 {
			t.Errorf("camera byte %d not found in trace", i)
		}
	}
}
