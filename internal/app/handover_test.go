package app

import (
	"testing"
	"time"

	"vigil/internal/access"
)

// waitBack waits until a camera whose session ended at a handover (a claim
// or a release) publishes again, with a keyframe of its new session cached.
func (a *testApp) waitBack(t *testing.T, id access.DeviceID, streams ...access.StreamID) {
	t.Helper()
	if len(streams) == 0 {
		streams = []access.StreamID{access.StreamMain}
	}
	g := access.NewIssuer().Mint("u-test", id, access.AudienceWeb, time.Minute)
	deadline := time.Now().Add(15 * time.Second)
	for _, s := range streams {
		for _, err := a.hub.Keyframe(g, s); err != nil; _, err = a.hub.Keyframe(g, s) {
			if time.Now().After(deadline) {
				t.Fatalf("camera %s (%s) never came back after changing hands", id, s)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
