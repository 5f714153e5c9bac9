package media

import "testing"

func TestClockRoundTripIsExact(t *testing.T) {
	for _, rate := range []int64{90000, 48000, 44100, 8000, 16000} {
		for _, v := range []int64{0, 1, 5999, 6000, 6001, 89999, 90000, 1<<32 + 7, -6000, -1} {
			if got := DurationToClock(ClockToDuration(v, rate), rate); got != v {
				t.Errorf("rate %d: %d -> %v -> %d", rate, v, ClockToDuration(v, rate), got)
			}
		}
	}
}
