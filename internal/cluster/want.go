package cluster

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"vigil/internal/access"
	"vigil/internal/media"
)

// Interest: a home node publishes a camera stream's units only while some
// node wants them. A node with a feed of the stream says so every
// wantEvery with a want message on the stream's want subject, sealed like
// everything on the bus (a node without the device's current epoch key
// cannot make a home node publish); a want holds for wantTTL, so a feed
// that ends, or a node that dies, stops the traffic within that. A GOP
// request is a want too (Homed.Claim).
//
//	want: 4 (sealed with session and sequence 0)
const (
	kindWant  = 4
	wantEvery = 2 * time.Second
	wantTTL   = 3*wantEvery + time.Second // two wants may be lost
)

// wantSubject is where nodes say they want a camera stream's units.
func wantSubject(device access.DeviceID, stream access.StreamID) string {
	return "vigil.want." + string(device) + "." + string(stream)
}

// serveWants calls wanted(wantTTL) for each want of owner's stream that
// opens in the epoch whose secret is epoch, until the returned
// subscription is closed. Others are counted as refused.
func (b *Bus) serveWants(owner media.Owner, epoch []byte, wanted func(time.Duration)) (*nats.Subscription, error) {
	o, err := b.sealer.NewBusOpener(owner.Device, epoch, owner.Stream)
	if err != nil {
		return nil, err
	}
	sub, err := b.nc.Subscribe(wantSubject(owner.Device, owner.Stream), func(m *nats.Msg) {
		_, _, plain, err := o.Open(m.Data)
		if err != nil || len(plain) != 1 || plain[0] != kindWant {
			b.refused.Add(1)
			return
		}
		wanted(wantTTL)
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: wants of %s/%s: %w", owner.Device, owner.Stream, err)
	}
	return sub, nil
}

// Want tells the stream's home node that this node wants its units, for
// wantTTL. A feed calls it every wantEvery.
func (s *Subscription) Want() error {
	s.mu.Lock()
	sealer := s.wants
	s.mu.Unlock()
	sealed, err := sealer.Seal(0, 0, []byte{kindWant})
	if err != nil {
		return err
	}
	if err := s.b.nc.Publish(wantSubject(s.device, s.stream), sealed); err != nil {
		return fmt.Errorf("cluster: want %s/%s: %w", s.device, s.stream, err)
	}
	return nil
}

// wantLoop says this node wants the stream at once and every wantEvery
// until done is closed.
func (s *Subscription) wantLoop(done <-chan struct{}) {
	tick := time.NewTicker(wantEvery)
	defer tick.Stop()
	for {
		if err := s.Want(); err != nil {
			s.b.log.Debug("want not sent", "camera", s.device, "stream", s.stream, "error", err)
		}
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}
