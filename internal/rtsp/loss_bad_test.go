package rtsp

import (
	"log"
	"strings"
	"testing"
	"time"

	"vigil/internal/media"
)

// TestPacketLossNotLoggedPerPacket has a camera lose a packet before each
// of 50 frames. Loss on a poor network is normal: it must be counted and
// reported through the server's slog logger with the camera's name, at most
// a line now and then, never printed per event to the process's standard
// logger (where gortsplib falls back when the handler has no OnPacketsLost).
// Not parallel: it captures the standard logger.
func TestPacketLossNotLoggedPerPacket(t *testing.T) {
	var std syncBuffer
	prev, flags := log.Writer(), log.Flags()
	log.SetOutput(&std)
	t.Cleanup(func() { log.SetOutput(prev); log.SetFlags(flags) })

	e, lc := startLogged(t, "cam-loss")
	p := startPublisher(t, e.addr, "cam-loss", "pw-cam-loss")
	hr := hubReader(t, e.hub, "cam-loss")
	units := collect(t.Context(), hr)
	for range 50 {
		p.seq[p.video()]++ // a packet lost on the way
		p.keyframe(t, "frame")
	}
	p.keyframe(t, "last")
	units.waitFor(t, func(u *media.Unit) bool { return containsTag(u, "last") })
	time.Sleep(100 * time.Millisecond)

	if out := std.String(); strings.TrimSpace(out) != "" {
		lines := strings.Count(out, "\n")
		t.Errorf("the server wrote %d lines to the standard logger, without the camera's name; first: %q",
			lines, strings.SplitN(out, "\n", 2)[0])
	}
	if n := lc.count("lost"); n > 2 {
		t.Errorf("packet loss logged %d times; want it counted and logged at most now and then", n)
	}
}
