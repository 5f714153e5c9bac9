package webrtc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
)

// injecting is a Source that hands out a foreign unit as its at-th unit,
// as a mixed-up cache would, once gate is closed.
type injecting struct {
	*hub.Reader
	foreign *media.Unit
	at, n   int
	gate    chan struct{}
}

func (s *injecting) Next(ctx context.Context) (*media.Unit, error) {
	if s.n+1 == s.at {
		select {
		case <-s.gate:
			s.n++
			return s.foreign, nil
		case <-ctx.Done(): // a session draining what is queued: not yet
			return nil, ctx.Err()
		}
	}
	u, err := s.Reader.Next(ctx)
	if err == nil {
		s.n++
	}
	return u, err
}

// TestEgressRefusalWritesNothing: a unit of another camera, or of the
// same camera's earlier session, reaching a session is refused by the
// egress check: none of its bytes go out (the viewer sees no foreign
// stamp, and nothing at all when it came first), the session ends, and
// the violation is counted.
func TestEgressRefusalWritesNothing(t *testing.T) {
	cases := []struct {
		name string
		at   int // the foreign unit's place
		// foreign returns a unit the viewer's reader must refuse.
		foreign func(t *testing.T, h *hub.Hub) *media.Unit
		// mismatch: the grant check itself refuses (another device).
		mismatch bool
	}{
		{"other camera first", 1, otherCameraUnit, true},
		{"other camera mid-stream", 10, otherCameraUnit, true},
		{"earlier session of the same camera", 10, earlierSessionUnit, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			h := hub.New(hub.Config{Logger: quiet()})
			foreign := tc.foreign(t, h)
			publish(t, h, "cam-a", false)
			s := newServer(t, nil)
			v := newViewer(t, false)
			src := &injecting{Reader: read(t, h, grant("cam-a", nil)), foreign: foreign, at: tc.at, gate: make(chan struct{})}
			ss, _ := connect(t, s, v, src, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := v.WaitUnits(ctx, tc.at-1); err != nil {
				t.Fatal(err)
			}
			close(src.gate)
			err := ended(t, ss, 5*time.Second)
			if !errors.Is(err, errEgress) {
				t.Fatalf("ended with %v, want an egress refusal", err)
			}
			var mismatch *access.MismatchError
			if errors.As(err, &mismatch) != tc.mismatch {
				t.Fatalf("ended with %v; a device mismatch: %v, want %v", err, !tc.mismatch, tc.mismatch)
			}
			t.Logf("%v", err)
			time.Sleep(100 * time.Millisecond) // anything sent has arrived
			if n := v.Stats().VideoPackets; tc.at == 1 && n != 0 {
				t.Fatalf("%d packets reached the viewer", n)
			}
			if c := v.Checker().Counts(); c["cam-b"] != 0 || c["cam-a"] != tc.at-1 {
				t.Fatalf("stamps %v, want the %d of cam-a before the foreign unit", c, tc.at-1)
			}
			if n := testutil.ToFloat64(h.Metrics().Violations); n != 1 {
				t.Fatalf("violations counter %v, want 1", n)
			}
		})
	}
}

// otherCameraUnit is cam-b's keyframe.
func otherCameraUnit(t *testing.T, h *hub.Hub) *media.Unit {
	t.Helper()
	publish(t, h, "cam-b", false)
	r := read(t, h, grant("cam-b", nil))
	defer r.Close()
	u, err := r.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// earlierSessionUnit is a keyframe of cam-a's previous publisher session,
// which the publish that follows replaces.
func earlierSessionUnit(t *testing.T, h *hub.Hub) *media.Unit {
	t.Helper()
	old := publish(t, h, "cam-a", false)
	r := read(t, h, grant("cam-a", nil))
	defer r.Close()
	u, err := r.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if u.Owner().Session != old.Pub.Owner().Session {
		t.Fatal("unit of the wrong session")
	}
	return u
}
