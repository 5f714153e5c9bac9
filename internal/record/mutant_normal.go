//go:build !canarymutant

package record

import (
	"context"
	"time"

	"vigil/internal/access"
)

// See mutant_canary.go: in a normal build no bug is planted.

func indexIgnoresEpoch() bool { return false }

func eventsIgnoreEpoch() bool { return false }

func pathKey(Target, time.Time) (string, bool) { return "", false }

func joinEgressFirstClip() bool { return false }

func thumbIgnoresEpoch() bool { return false }

func pinsIgnoreEpoch() bool { return false }

func unpinByIDOnly() bool { return false }

func exportNoEnd() bool { return false }

func (l *Library) joinSpans(_ context.Context, _ access.Grant, _ access.StreamID, spans []Span, _, _ time.Time) []Span {
	return spans
}

func (l *Library) joinOpen(ctx context.Context, g access.Grant, id int64) (*Clip, error) {
	return l.Open(ctx, g, id)
}

func (x *Exports) rowsNoEnd(context.Context, Export, access.StreamID) ([]Recording, error) {
	return nil, nil
}
