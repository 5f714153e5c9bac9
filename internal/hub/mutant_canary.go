//go:build canarymutant

package hub

import "vigil/internal/mutant"

// lastRemoved is the stream whose publisher left last (a package variable
// only in canarymutant builds; guarded by the hub's mu).
var lastRemoved *streamKey

// publishKey attaches a reconnecting camera's session to the slot of the
// camera that disconnected last, while that slot is free, when
// mutant.WrongStream is planted. Caller holds h.mu.
func (h *Hub) publishKey(k streamKey) streamKey {
	if !mutant.On(mutant.WrongStream) || lastRemoved == nil {
		return k
	}
	last := *lastRemoved
	lastRemoved = nil
	if last != k && h.streams[last] == nil && h.streams[k] == nil {
		return last
	}
	return k
}

// removed remembers k as the last stream left. Caller holds h.mu.
func (h *Hub) removed(k streamKey) {
	if mutant.On(mutant.WrongStream) {
		lastRemoved = &k
	}
}

// handoverKeepsStreams is true when mutant.ReleaseKeepsGOP is planted: a
// camera that changes hands keeps its publisher session, hub stream and
// GOP cache.
func handoverKeepsStreams() bool { return mutant.On(mutant.ReleaseKeepsGOP) }

// deliverUnchecked is true when mutant.DeliverUnchecked is planted: the
// deliverer hands units over without the egress check.
func deliverUnchecked() bool { return mutant.On(mutant.DeliverUnchecked) }
