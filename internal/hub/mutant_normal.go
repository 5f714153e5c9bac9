//go:build !canarymutant

package hub

// publishKey and removed are where the canary plants a session mix-up (see
// package mutant); in normal builds a camera's session goes to its own
// stream. Callers hold h.mu.
func (h *Hub) publishKey(k streamKey) streamKey { return k }

func (h *Hub) removed(streamKey) {}

// handoverKeepsStreams is where the canary plants a handover that leaves
// the camera's stream and GOP cache behind; in normal builds it drops them.
func handoverKeepsStreams() bool { return false }

// deliverUnchecked is where the canary plants a deliverer that skips its
// egress check; in normal builds every delivered unit passes it.
func deliverUnchecked() bool { return false }
