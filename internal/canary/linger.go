package canary

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// FaultLinger is a camera connecting again, on another node, while its
// old connection lingers (a cluster's fault).
const FaultLinger = "camera reconnects while its old connection lingers"

// KindHomedTwice is a camera with live sessions on two nodes long after
// the newer one claimed it: the claim did not fence the old home node,
// which keeps serving (and answering GOP requests for) a session the
// camera has left. It is seen from the cameras' side, not a viewer's.
const KindHomedTwice = "homed-twice"

// lingerBound is how long two sessions of one camera may both live. The
// newer session's claim fences the older within a watch delivery, or at
// the old holder's next renewal (every 5 s), which fails; a holder that
// cannot reach the claims bucket at all fences itself when its claim may
// have lapsed (the TTL, 15 s, less one renewal period after its last
// renewal). The bound is the TTL and some: a clean 3-node run under load
// ~30 with a bound of 10 s saw two cameras homed twice, each in the calm
// right after a route cut, while the cluster recovered.
const lingerBound = 20 * time.Second

// lingerCameras recreates, for a few publishing cameras at once, a camera
// that reconnects before its old connection has timed out (a path that
// stalled, a camera's watchdog): a second session of its main stream opens
// through the balancer, to any node, while the first lives. One of the two
// must end within lingerBound — the older, fenced by the newer's claim,
// or the newer, fenced when the older reconnects and claims in turn;
// both alive past it is a camera homed twice.
func (s *schedule) lingerCameras(ctx context.Context, _ int) error {
	cams := s.fleet.publishers()
	var wg sync.WaitGroup
	for _, i := range s.rng.Perm(len(cams))[:min(3, len(cams))] {
		wg.Go(func() { s.linger(ctx, cams[i]) })
	}
	wg.Wait()
	return nil
}

func (s *schedule) linger(ctx context.Context, c *Camera) {
	if !c.busy.TryLock() { // changing hands
		return
	}
	defer c.busy.Unlock()
	f := s.fleet
	f.mu.Lock()
	r := f.running[runKey(c, false)]
	f.mu.Unlock()
	if r == nil || r.cam.Sessions() == 0 {
		return
	}
	old := r.cam.Reconnects()
	dup := f.camera(c, false, s.proxies.addr(s.proxies.camera))
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		dup.Run(dctx)
	}()
	defer func() { cancel(); <-done }()
	for began := time.Now(); dup.Sessions() == 0; {
		if sleep(ctx, 50*time.Millisecond); ctx.Err() != nil || time.Since(began) > 10*time.Second {
			return
		}
	}
	s.add(FaultLinger, 1)
	for began := time.Now(); time.Since(began) < lingerBound; {
		if dup.Reconnects() > 0 || r.cam.Reconnects() > old {
			return
		}
		if sleep(ctx, 100*time.Millisecond); ctx.Err() != nil {
			return
		}
	}
	s.check.violation(Violation{Kind: KindHomedTwice, Output: "cluster", Requested: c.ID,
		Detail: fmt.Sprintf("two sessions of the camera's main stream both lived %s after the second reached RECORD", lingerBound)})
}
