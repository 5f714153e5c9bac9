package app

import (
	"testing"
	"time"

	"vigil/internal/access"
)

// waitBack waits until a camera whose session ended at a handover (a claim
// or a release) publishes again, with a keyframe of its new session cached.
func (a *testApp) waitBack(t *testing.T, id access.DeviceID) {
	t.Helper()
	g := access.NewIssuer().Mint("u-test", id, access.AudienceWeb, time.Minute)
	deadline := time.Now().Add(15 * time.Second)
	for _, err := a.hub.Keyframe(g, access.StreamMain); err != nil; _, err = a.hub.Keyframe(g, access.StreamMain) {
		if time.Now().After(deadline) {
			t.Fatalf("camera %s never came back after changing hands", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
