package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"vigil/internal/access"
	"vigil/internal/media"
)

// GOP bootstrap: a node starting a remote-fed stream asks the camera's home
// node for its cached GOP (the units since the last keyframe) by
// request-reply, then goes live on the camera's subject. The reply is the
// GOP's units, each sealed and chunked as on the live subject, published to
// the requester's inbox and ended by an empty message. It is sealed like
// everything on the bus, so a reply from the wrong camera's cache does not
// open.

// gopSubject is where a camera stream's home node answers GOP requests.
func gopSubject(device access.DeviceID, stream access.StreamID) string {
	return "vigil.gop." + string(device) + "." + string(stream)
}

// GOPSource returns the units of a camera stream's cached GOP, keyframe
// first (nil when it has none yet). They must all be of one publisher session.
type GOPSource func() []*media.Unit

// ServeGOP answers GOP requests for device's stream from gop until the
// returned subscription is closed. The home node serves while it holds
// the stream's claim.
func (b *Bus) ServeGOP(device access.DeviceID, stream access.StreamID, gop GOPSource) (*nats.Subscription, error) {
	sub, err := b.nc.Subscribe(gopSubject(device, stream), func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		if err := b.answerGOP(m.Reply, device, stream, gop()); err != nil {
			b.log.Warn("GOP request not answered", "camera", device, "stream", stream, "error", err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: serve GOP of %s/%s: %w", device, stream, err)
	}
	return sub, nil
}

// answerGOP seals units for the inbox with a sender of their own: a reply
// never shares a key, or counters, with the live sender.
func (b *Bus) answerGOP(inbox string, device access.DeviceID, stream access.StreamID, units []*media.Unit) error {
	if len(units) > 0 {
		owner := units[0].Owner()
		if owner.Device != device || owner.Stream != stream {
			return fmt.Errorf("%w: GOP of %s/%s asked for %s/%s", ErrNotOwner, owner.Device, owner.Stream, device, stream)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		snd, err := b.Sender(ctx, owner)
		cancel()
		if err != nil {
			return err
		}
		snd.subject = inbox
		for _, u := range units {
			if err := snd.Send(u); err != nil {
				return err
			}
		}
	}
	return b.nc.Publish(inbox, nil)
}

// Bootstrap asks the home node for the stream's cached GOP and returns its
// units, opened under the subscription's device key: a reply that does not
// open is counted and yields nothing. Call it after Subscribe, so that no
// unit falls between the GOP and the live ones (a unit in both is
// delivered twice; its sequence number tells).
func (s *Subscription) Bootstrap(ctx context.Context) ([]*media.Unit, error) {
	inbox := s.b.nc.NewInbox()
	sub, err := s.b.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("cluster: GOP of %s/%s: %w", s.device, s.stream, err)
	}
	defer sub.Unsubscribe()
	if err := s.b.nc.PublishRequest(gopSubject(s.device, s.stream), inbox, nil); err != nil {
		return nil, fmt.Errorf("cluster: GOP of %s/%s: %w", s.device, s.stream, err)
	}
	var asm assembler
	var units []*media.Unit
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("cluster: GOP of %s/%s: no complete answer: %w", s.device, s.stream, err)
		}
		if len(m.Data) == 0 {
			return units, nil
		}
		sealed, err := asm.add(m.Data)
		if err == nil && sealed == nil {
			continue
		}
		var u *media.Unit
		if err == nil {
			u, err = s.open(sealed)
		}
		if err != nil {
			s.b.refused.Add(1)
			return nil, fmt.Errorf("cluster: GOP of %s/%s refused: %w", s.device, s.stream, err)
		}
		if len(units) == 0 || u.Owner() == units[0].Owner() {
			units = append(units, u)
		}
	}
}
