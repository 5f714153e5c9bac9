package stills

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/testkit"
)

// TestOfflineCameraShowsItsLastDecodedStill: a camera that never uploads
// and goes offline still has a picture for its card: the last keyframe
// decoded while it was live, marked as a fallback with its capture time,
// at the width asked for or another. Not to a grant whose epoch began
// after it (no violation either), and not after a handover.
func TestOfflineCameraShowsItsLastDecodedStill(t *testing.T) {
	e := newEnv(t)
	pub := publish(t, e.hub, camA)
	live, err := e.svc.Get(context.Background(), grant(camA), Request{Width: 320})
	if err != nil {
		t.Fatal(err)
	}
	pub.Close()
	testkit.WaitFor(t, 5*time.Second, "camera offline", func() error {
		if e.hub.Online(camA, access.StreamMain) {
			return errors.New("still online")
		}
		return nil
	})
	for _, width := range []int{320, 640} {
		st, err := e.svc.Get(context.Background(), grant(camA), Request{Width: width})
		if err != nil {
			t.Fatalf("offline, width %d: %v; want the last decoded still", width, err)
		}
		if !bytes.Equal(st.JPEG, live.JPEG) || !st.Fallback || !st.Captured.Equal(live.Captured) || st.Device != camA {
			t.Fatalf("offline, width %d: %d bytes captured %v fallback %v; want the live still of %v",
				width, len(st.JPEG), st.Captured, st.Fallback, live.Captured)
		}
	}
	if _, err := e.svc.Get(context.Background(), grant(camA), Request{MaxAge: time.Nanosecond}); !errors.Is(err, ErrOffline) {
		t.Errorf("offline with a max_age the last still cannot meet: %v, want ErrOffline", err)
	}
	young := issuer.MintLeased("u-test", camA, access.AudienceWeb, time.Hour, nil, time.Now())
	if _, err := e.svc.Get(context.Background(), young, Request{Width: 320}); !errors.Is(err, ErrOffline) {
		t.Errorf("a grant whose epoch began after the still: %v, want ErrOffline", err)
	}
	if v := counterValue(e.violations); v != 0 {
		t.Errorf("violations = %v, want 0", v)
	}
	if err := e.svc.Handover(camA); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Get(context.Background(), grant(camA), Request{Width: 320}); !errors.Is(err, ErrOffline) {
		t.Errorf("after a handover: %v, want ErrOffline", err)
	}
}
