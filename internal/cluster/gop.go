package cluster

import (
	"context"
	"errors"
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

// ServeGOP answers GOP requests for the publisher session owner, whose
// tracks and start desc gives, from gop until the returned subscription is
// closed. The home node serves while it holds the stream's claim.
func (b *Bus) ServeGOP(desc Description, gop GOPSource) (*nats.Subscription, error) {
	return b.serveGOP(desc, gop, func(inbox string) (*Sender, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		snd, err := b.Sender(ctx, desc.Owner)
		if err != nil {
			return nil, err
		}
		snd.subject = inbox
		return snd, nil
	})
}

// serveGOP is ServeGOP with answers sealed by the senders newReply makes.
func (b *Bus) serveGOP(desc Description, gop GOPSource, newReply func(inbox string) (*Sender, error)) (*nats.Subscription, error) {
	device, stream := desc.Owner.Device, desc.Owner.Stream
	sub, err := b.nc.Subscribe(gopSubject(device, stream), func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		snd, err := newReply(m.Reply)
		if err == nil {
			err = b.answerGOP(snd, desc, gopAnswer(desc, gop))
		}
		if err != nil {
			b.log.Warn("GOP request not answered", "camera", device, "stream", stream, "error", err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: serve GOP of %s/%s: %w", device, stream, err)
	}
	return sub, nil
}

// answerGOP seals the description and units for the inbox with snd, a
// sender of their own: a reply never shares a key, or counters, with the
// live sender.
func (b *Bus) answerGOP(snd *Sender, desc Description, units []*media.Unit) error {
	if err := snd.sendDescription(desc.Tracks, desc.Start); err != nil {
		return err
	}
	for _, u := range units {
		if err := snd.Send(u); err != nil { // ErrNotOwner for a unit of another session
			return err
		}
	}
	return b.nc.Publish(snd.subject, nil)
}

// Bootstrap asks the home node for the stream's description and cached
// GOP and returns them, opened under the subscription's device key: a
// reply that does not open is counted and yields nothing. It fails with
// ErrNoHome when no node serves the stream. Call it after Subscribe, so
// that no unit falls between the GOP and the live ones (a unit in both is
// delivered twice; its sequence number tells).
func (s *Subscription) Bootstrap(ctx context.Context) (*Description, []*media.Unit, error) {
	inbox := s.b.nc.NewInbox()
	sub, err := s.b.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: GOP of %s/%s: %w", s.device, s.stream, err)
	}
	defer sub.Unsubscribe()
	if err := s.b.nc.PublishRequest(gopSubject(s.device, s.stream), inbox, nil); err != nil {
		return nil, nil, fmt.Errorf("cluster: GOP of %s/%s: %w", s.device, s.stream, err)
	}
	var asm assembler
	var desc *Description
	var units []*media.Unit
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, nil, fmt.Errorf("%w: %s/%s", ErrNoHome, s.device, s.stream)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("cluster: GOP of %s/%s: no complete answer: %w", s.device, s.stream, err)
		}
		if len(m.Data) == 0 { // the end of the answer, or the server's "no responders"
			if desc == nil {
				return nil, nil, fmt.Errorf("%w: %s/%s", ErrNoHome, s.device, s.stream)
			}
			return desc, units, nil
		}
		sealed, err := asm.add(m.Data)
		if err == nil && sealed == nil {
			continue
		}
		var msg message
		if err == nil {
			msg, err = s.open(sealed)
		}
		if err == nil && (desc == nil) != (msg.desc != nil) {
			err = fmt.Errorf("%w: an answer must start with one description", errFrame)
		}
		if err != nil {
			s.b.refused.Add(1)
			return nil, nil, fmt.Errorf("cluster: GOP of %s/%s refused: %w", s.device, s.stream, err)
		}
		switch {
		case msg.desc != nil:
			desc = msg.desc
		case msg.unit != nil && msg.unit.Owner() == desc.Owner:
			units = append(units, msg.unit)
		}
	}
}
