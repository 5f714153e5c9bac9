//go:build canarymutant

package record

import (
	"context"
	"fmt"
	"slices"
	"time"

	"vigil/internal/access"
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

// joinEgressFirstClip is true when mutant.JoinEgressFirstClip is planted:
// Joined.Egress checks the first recording only.
func joinEgressFirstClip() bool { return mutant.On(mutant.JoinEgressFirstClip) }

// joinSpans, when mutant.JoinEgressFirstClip is planted, is the join's
// first span followed by every other recording of the device's current
// epoch over [from, to): the grant's epoch is not applied after the first.
func (l *Library) joinSpans(ctx context.Context, g access.Grant, stream access.StreamID, spans []Span, from, to time.Time) []Span {
	if !joinEgressFirstClip() || len(spans) == 0 {
		return spans
	}
	epoch, secret, err := l.Index.Epoch(ctx, g.Device())
	clear(secret)
	if err != nil {
		return spans
	}
	rows, err := l.Index.Recordings(ctx, g.Device(), stream, epoch, from, to)
	if err != nil {
		return spans
	}
	out := spans[:1:1]
	for _, r := range rows {
		if !slices.ContainsFunc(spans, func(s Span) bool { return s.ID == r.ID }) {
			out = append(out, Span{ID: r.ID, Stream: r.Stream, Start: r.Start, Duration: r.Duration, Size: r.Size, Fragments: r.Fragments, object: r.Object})
		}
	}
	return append(out, spans[1:]...)
}

// joinOpen opens a joined recording; when mutant.JoinEgressFirstClip is
// planted, any of the device's current epoch, from any time.
func (l *Library) joinOpen(ctx context.Context, g access.Grant, id int64) (*Clip, error) {
	if !joinEgressFirstClip() {
		return l.Open(ctx, g, id)
	}
	return l.openIf(ctx, g, id, func(g access.Grant, rec Recording, epoch, _ time.Time) bool {
		return rec.Device == g.Device() && rec.Epoch.Equal(epoch)
	})
}

// thumbIgnoresEpoch is true when mutant.EventThumbNoEpoch is planted: an
// event's thumbnail is served to any grant of its device.
func thumbIgnoresEpoch() bool { return mutant.On(mutant.EventThumbNoEpoch) }

// pinsIgnoreEpoch is true when mutant.PinListNoEpoch is planted: the pin
// listing finds a camera's pins by device alone.
func pinsIgnoreEpoch() bool { return mutant.On(mutant.PinListNoEpoch) }

// unpinByIDOnly is true when mutant.PinDeleteIDOnly is planted: an unpin
// deletes the pin with the id, whatever its camera and pinner.
func unpinByIDOnly() bool { return mutant.On(mutant.PinDeleteIDOnly) }

// exportNoEnd is true when mutant.ExportNoEnd is planted: an export's
// recordings are looked up by device alone from its epoch on, past the
// release.
func exportNoEnd() bool { return mutant.On(mutant.ExportNoEnd) }

// rowsNoEnd is the export's recordings of stream as mutant.ExportNoEnd
// finds them: the device's of any epoch that started at or after the
// export's epoch.
func (x *Exports) rowsNoEnd(ctx context.Context, e Export, stream access.StreamID) ([]Recording, error) {
	all, err := x.Library.Index.OldestRecordings(ctx, e.Device, 10_000)
	var out []Recording
	for _, r := range all {
		if r.Stream == stream && !r.Start.Before(e.Epoch) {
			out = append(out, r)
		}
	}
	return out, err
}
