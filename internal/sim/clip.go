package sim

import (
	"fmt"
	"os"
)

// ClipUnit is one access unit of a recorded clip.
type ClipUnit struct {
	// NALUs are the unit's NAL units without start codes.
	NALUs [][]byte
	// Key is true for an IDR access unit.
	Key bool
}

// LoadClip reads an H.264 Annex-B file and splits it into access units
// (boundaries at AUD, SPS, PPS, SEI or a slice with first_mb_in_slice 0 after
// a slice, §7.4.1.2.3). Units before the first IDR are dropped, so a clip
// always starts with a keyframe; a clip with no IDR is an error.
func LoadClip(path string) ([]ClipUnit, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sim: load clip: %w", err)
	}
	var units []ClipUnit
	for _, au := range SplitAccessUnits(SplitAnnexB(b)) {
		u := ClipUnit{NALUs: au}
		for _, n := range au {
			if naluType(n) == naluIDR {
				u.Key = true
			}
		}
		if len(units) == 0 && !u.Key {
			continue
		}
		units = append(units, u)
	}
	if len(units) == 0 {
		return nil, fmt.Errorf("sim: load clip %s: no IDR access unit", path)
	}
	if sps, pps := clipParams(units); sps == nil || pps == nil {
		return nil, fmt.Errorf("sim: load clip %s: no SPS/PPS before the first IDR", path)
	}
	return units, nil
}

// clipParams returns the SPS and PPS of a clip's first unit.
func clipParams(units []ClipUnit) (sps, pps []byte) {
	if len(units) == 0 {
		return nil, nil
	}
	for _, n := range units[0].NALUs {
		switch naluType(n) {
		case naluSPS:
			sps = n
		case naluPPS:
			pps = n
		}
	}
	return sps, pps
}
