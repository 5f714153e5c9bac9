package app

import (
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/testkit"
)

// waitBack waits until a camera whose session ended at a handover (a claim
// or a release) publishes again, with a keyframe of its new session cached.
func (a *testApp) waitBack(t *testing.T, id access.DeviceID, streams ...access.StreamID) {
	t.Helper()
	if len(streams) == 0 {
		streams = []access.StreamID{access.StreamMain}
	}
	g := access.NewIssuer().Mint("u-test", id, access.AudienceWeb, time.Minute)
	for _, s := range streams {
		testkit.WaitFor(t, 15*time.Second, "keyframe of camera "+string(id)+" ("+string(s)+") after changing hands", func() error {
			_, err := a.hub.Keyframe(g, s)
			return err
		})
	}
}
