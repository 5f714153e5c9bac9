//go:build canarymutant

package record

import (
	"fmt"
	"time"

	"vigil/internal/mutant"
)

// indexIgnoresEpoch is true when mutant.RecordIndexNoEpoch is planted:
// playback looks a camera's recordings up by device alone, of any epoch
// and from any time, as if the index had no epoch column.
func indexIgnoresEpoch() bool { return mutant.On(mutant.RecordIndexNoEpoch) }

// eventsIgnoreEpoch is true when mutant.EventListNoEpoch is planted: the
// event listing finds a camera's events by device alone.
func eventsIgnoreEpoch() bool { return mutant.On(mutant.EventListNoEpoch) }

// pathKey, when mutant.RecordKeyPath is planted, keys a segment's object
// by a path string, its stream and the second it started, not by its
// device and segment: cameras that start a segment in the same second
// share one object, the last one stored.
func pathKey(tg Target, start time.Time) (string, bool) {
	if !mutant.On(mutant.RecordKeyPath) {
		return "", false
	}
	return fmt.Sprintf("rec/%s/%d.seg", tg.Stream, start.Unix()), true
}
