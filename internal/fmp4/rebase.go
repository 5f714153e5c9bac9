package fmp4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	mfmp4 "github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// ErrBadFragment means a fragment's moof box is not one Rebase can
// rewrite: cut short, or a box size that does not add up.
var ErrBadFragment = errors.New("fmp4: malformed moof box")

// Timescales reads an init segment's tracks: each track's timescale (ticks
// a second) by track id.
func Timescales(init []byte) (map[uint32]uint32, error) {
	var in mfmp4.Init
	if err := in.Unmarshal(bytes.NewReader(init)); err != nil {
		return nil, fmt.Errorf("fmp4: init segment: %w", err)
	}
	out := make(map[uint32]uint32, len(in.Tracks))
	for _, t := range in.Tracks {
		out[uint32(t.ID)] = t.TimeScale
	}
	return out, nil
}

// MoofSize is the size of the moof box that head (at least its first 8
// bytes) starts with.
func MoofSize(head []byte) (int, error) {
	if len(head) < 8 || string(head[4:8]) != "moof" {
		return 0, ErrBadFragment
	}
	n := binary.BigEndian.Uint32(head)
	if n < 8 || n > MaxMoof {
		return 0, ErrBadFragment
	}
	return int(n), nil
}

// MaxMoof bounds the moof boxes Rebase reads.
const MaxMoof = 1 << 20

// Rebase rewrites a moof box in place (ISO/IEC 14496-12 §8.8.4, §8.8.12):
// its sequence number becomes seq and each track fragment's base media
// decode time (tfdt) moves by shift(track id) ticks, so that fragments of
// separate files play as one. A time that would fall below zero, or out
// of a version 0 tfdt's 32 bits, is an error.
func Rebase(moof []byte, seq uint32, shift func(track uint32) int64) error {
	if _, err := MoofSize(moof); err != nil {
		return err
	}
	return eachBox(moof[8:], func(typ string, body []byte) error {
		switch typ {
		case "mfhd":
			if len(body) < 8 {
				return ErrBadFragment
			}
			binary.BigEndian.PutUint32(body[4:], seq)
		case "traf":
			return rebaseTraf(body, shift)
		}
		return nil
	})
}

// rebaseTraf moves the tfdt of one track fragment by its track's shift.
func rebaseTraf(traf []byte, shift func(uint32) int64) error {
	var track uint32
	seen := false
	return eachBox(traf, func(typ string, body []byte) error {
		switch typ {
		case "tfhd":
			if len(body) < 8 {
				return ErrBadFragment
			}
			track, seen = binary.BigEndian.Uint32(body[4:]), true
		case "tfdt":
			if !seen || len(body) < 8 {
				return ErrBadFragment
			}
			d := shift(track)
			if body[0] == 1 {
				if len(body) < 12 {
					return ErrBadFragment
				}
				t := int64(binary.BigEndian.Uint64(body[4:])) + d
				if t < 0 {
					return fmt.Errorf("%w: decode time below zero", ErrBadFragment)
				}
				binary.BigEndian.PutUint64(body[4:], uint64(t))
				return nil
			}
			t := int64(binary.BigEndian.Uint32(body[4:])) + d
			if t < 0 || t > 1<<32-1 {
				return fmt.Errorf("%w: decode time out of a 32-bit tfdt", ErrBadFragment)
			}
			binary.BigEndian.PutUint32(body[4:], uint32(t))
		}
		return nil
	})
}

// eachBox calls f with the type and body of each box in b, in order.
func eachBox(b []byte, f func(typ string, body []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return ErrBadFragment
		}
		n := binary.BigEndian.Uint32(b)
		if n < 8 || uint64(n) > uint64(len(b)) {
			return ErrBadFragment
		}
		if err := f(string(b[4:8]), b[8:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
