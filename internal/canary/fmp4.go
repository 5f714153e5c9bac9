package canary

import (
	"fmt"

	"vigil/internal/fmp4read"
)

// checkFragment checks every video sample of one or more moof+mdat
// fragments (a segment or part of HLS, a fragment of progressive MP4).
// Every sample that parses as AVCC is checked as video, whatever its
// track; a sample that does not is the cameras' G.711 audio (silence, 0xFF
// bytes: its "length" runs past the sample) on a track that carries no
// video, and is counted.
func checkFragment(v *Visit, b []byte) error {
	samples, err := fmp4read.Samples(b)
	if err != nil {
		return err
	}
	video := map[int]bool{}
	for _, s := range samples {
		au, err := s.H264()
		if err != nil {
			if video[s.Track] {
				return fmt.Errorf("canary: %w", err)
			}
			v.Audio(1)
			continue
		}
		video[s.Track] = true
		if !v.Frame(au) {
			return nil
		}
	}
	return nil
}
