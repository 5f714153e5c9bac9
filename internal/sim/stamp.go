package sim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// Stamp is what a simulated camera writes into every access unit it sends.
type Stamp struct {
	Camera string
	Seq    uint64
	Time   time.Time
}

// Keys looks up the stamp key of a camera; it returns nil for an unknown camera.
type Keys func(camera string) []byte

// stampUUID is the uuid_iso_iec_11578 of our user_data_unregistered SEI
// messages (a random v4 UUID, fixed for Vigil).
var stampUUID = [16]byte{
	0x8f, 0x3c, 0x61, 0x0e, 0x5a, 0x2d, 0x4b, 0x97,
	0xa4, 0x1c, 0x7e, 0x53, 0xd0, 0x66, 0xb2, 0x19,
}

const (
	stampVersion = 1
	stampMACLen  = 16
	// seiUserDataUnregistered is payloadType 5 (H.264 Annex D.1.6, H.265 D.2.7).
	seiUserDataUnregistered = 5
	// maxCameraLen bounds the camera id, whose length is one byte.
	maxCameraLen = 255
	// naluTypeH265PrefixSEI is PREFIX_SEI_NUT (H.265 Table 7-1).
	naluTypeH265PrefixSEI = 39
)

// CameraKey derives a camera's stamp key: HMAC-SHA256(secret, camera).
func CameraKey(secret []byte, camera string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(camera))
	return m.Sum(nil)
}

// StaticKeys returns a Keys that derives every camera's key from secret with
// CameraKey.
func StaticKeys(secret []byte) Keys {
	return func(camera string) []byte { return CameraKey(secret, camera) }
}

// stampPayload builds the user_data_unregistered payload: UUID, version,
// camera id (1-byte length), seq, capture time (unix nanos), and the first 16
// bytes of HMAC-SHA256 over everything before it. Camera ids longer than 255
// bytes are truncated; callers keep ids short.
func stampPayload(key []byte, s Stamp) []byte {
	cam := s.Camera
	if len(cam) > maxCameraLen {
		cam = cam[:maxCameraLen]
	}
	p := make([]byte, 0, 16+1+1+len(cam)+8+8+stampMACLen)
	p = append(p, stampUUID[:]...)
	p = append(p, stampVersion, byte(len(cam)))
	p = append(p, cam...)
	p = binary.BigEndian.AppendUint64(p, s.Seq)
	p = binary.BigEndian.AppendUint64(p, uint64(s.Time.UnixNano()))
	return append(p, stampMAC(key, p)...)
}

func stampMAC(key, fields []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(fields)
	return m.Sum(nil)[:stampMACLen]
}

// seiRBSP wraps one SEI message into an sei_rbsp (H.264 §7.3.2.3.1): the
// payloadType and payloadSize are coded as runs of 0xFF plus a last byte.
func seiRBSP(payloadType int, payload []byte) []byte {
	rbsp := make([]byte, 0, len(payload)+8)
	rbsp = appendSEIValue(rbsp, payloadType)
	rbsp = appendSEIValue(rbsp, len(payload))
	rbsp = append(rbsp, payload...)
	return append(rbsp, 0x80) // rbsp_trailing_bits
}

func appendSEIValue(b []byte, v int) []byte {
	for v >= 255 {
		b = append(b, 0xff)
		v -= 255
	}
	return append(b, byte(v))
}

// StampNALU returns an H.264 SEI NAL unit (nal_ref_idc 0, type 6, no start
// code) carrying s, authenticated under key.
func StampNALU(key []byte, s Stamp) []byte {
	rbsp := seiRBSP(seiUserDataUnregistered, stampPayload(key, s))
	return addEmulationPrevention([]byte{naluSEI}, rbsp)
}

// StampNALUH265 returns the same stamp as an H.265 prefix SEI NAL unit
// (type 39, nuh_layer_id 0, nuh_temporal_id_plus1 1).
func StampNALUH265(key []byte, s Stamp) []byte {
	rbsp := seiRBSP(seiUserDataUnregistered, stampPayload(key, s))
	return addEmulationPrevention([]byte{naluTypeH265PrefixSEI << 1, 1}, rbsp)
}

// ParseStamp looks for our stamp in an H.264 NAL unit. ok is false, with a
// nil error, if the unit is not an SEI or holds no message with our UUID. If
// it does, ok is true and err reports a malformed stamp, an unknown camera or
// a MAC that does not verify.
func ParseStamp(nalu []byte, keys Keys) (Stamp, bool, error) {
	if naluType(nalu) != naluSEI {
		return Stamp{}, false, nil
	}
	return parseSEI(nalu[1:], keys)
}

// ParseStampH265 is ParseStamp for H.265 prefix SEI NAL units.
func ParseStampH265(nalu []byte, keys Keys) (Stamp, bool, error) {
	if len(nalu) < 2 || (nalu[0]>>1)&0x3f != naluTypeH265PrefixSEI {
		return Stamp{}, false, nil
	}
	return parseSEI(nalu[2:], keys)
}

// parseSEI walks the sei_message()s of an SEI payload (still with emulation
// prevention) and parses the first user_data_unregistered message that
// carries our UUID.
func parseSEI(ebsp []byte, keys Keys) (Stamp, bool, error) {
	// Cheap reject: our UUID has no 0x0000 run, so it survives emulation
	// prevention unchanged.
	if !bytes.Contains(ebsp, stampUUID[:]) {
		return Stamp{}, false, nil
	}
	b := removeEmulationPrevention(ebsp)
	for len(b) > 0 && !(len(b) == 1 && b[0] == 0x80) {
		typ, n, ok := readSEIValue(b)
		if !ok {
			return Stamp{}, false, nil
		}
		b = b[n:]
		size, n, ok := readSEIValue(b)
		if !ok {
			return Stamp{}, false, nil
		}
		b = b[n:]
		if size > len(b) {
			if typ == seiUserDataUnregistered && bytes.HasPrefix(b, stampUUID[:]) {
				return Stamp{}, true, fmt.Errorf("%w: payloadSize %d exceeds %d bytes left", ErrMalformed, size, len(b))
			}
			return Stamp{}, false, nil
		}
		payload := b[:size]
		b = b[size:]
		if typ == seiUserDataUnregistered && bytes.HasPrefix(payload, stampUUID[:]) {
			s, err := parseStampPayload(payload, keys)
			return s, true, err
		}
	}
	return Stamp{}, false, nil
}

func readSEIValue(b []byte) (v, n int, ok bool) {
	for n < len(b) {
		c := b[n]
		n++
		v += int(c)
		if c != 0xff {
			return v, n, true
		}
		if v > 1<<24 {
			return 0, 0, false
		}
	}
	return 0, 0, false
}

func parseStampPayload(p []byte, keys Keys) (Stamp, error) {
	fields := p
	p = p[len(stampUUID):]
	if len(p) < 2 {
		return Stamp{}, fmt.Errorf("%w: %d bytes after UUID", ErrMalformed, len(p))
	}
	if p[0] != stampVersion {
		return Stamp{}, fmt.Errorf("%w: version %d", ErrMalformed, p[0])
	}
	camLen := int(p[1])
	p = p[2:]
	if want := camLen + 8 + 8 + stampMACLen; len(p) != want {
		return Stamp{}, fmt.Errorf("%w: %d bytes after camera length, want %d", ErrMalformed, len(p), want)
	}
	s := Stamp{Camera: string(p[:camLen])}
	p = p[camLen:]
	s.Seq = binary.BigEndian.Uint64(p)
	s.Time = time.Unix(0, int64(binary.BigEndian.Uint64(p[8:])))
	mac := p[16:]
	fields = fields[:len(fields)-stampMACLen]
	key := keys(s.Camera)
	if key == nil {
		return s, fmt.Errorf("%w: %q", ErrUnknownCamera, s.Camera)
	}
	if !hmac.Equal(mac, stampMAC(key, fields)) {
		return s, fmt.Errorf("%w: camera %q seq %d", ErrBadMAC, s.Camera, s.Seq)
	}
	return s, nil
}
