//go:build !canarymutant

package hub

// publishKey and removed are where the canary plants a session mix-up (see
// package mutant); in normal builds a camera's session goes to its own
// stream. Callers hold h.mu.
func (h *Hub) publishKey(k streamKey) streamKey { return k }

func (h *Hub) removed(streamKey) {}
