package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"vigil/internal/access"
	"vigil/internal/media"
	"vigil/internal/seal"
)

// EpochSource gives the secret of a device's current ownership epoch (the
// store keeps it and replaces it when the camera changes hands).
type EpochSource interface {
	EpochSecret(ctx context.Context, device access.DeviceID) ([]byte, error)
}

// Bus carries camera units between nodes over NATS, sealed (invariant 4):
// every unit is sealed under its device's key for the current ownership
// epoch, with device, stream, session and sequence number bound to it. A
// receiving node opens with the key of the device it subscribed for, so
// the device of whatever it delivers is the one whose key opened the seal,
// never one read from a subject; anything else is counted and dropped.
type Bus struct {
	nc      *nats.Conn
	sealer  *seal.Sealer
	epochs  EpochSource
	log     *slog.Logger
	refused atomic.Uint64 // bus messages dropped: malformed, or not opening for the subscription's device
	dropped atomic.Uint64 // units a home node's full send queue dropped (Homed.Send)
	sent    atomic.Uint64 // bytes published (chunk frames)
	got     atomic.Uint64 // bytes received on subscriptions (chunk frames)
}

// NewBus returns a bus over nc sealing with sealer.
func NewBus(nc *nats.Conn, sealer *seal.Sealer, epochs EpochSource, log *slog.Logger) *Bus {
	return &Bus{nc: nc, sealer: sealer, epochs: epochs, log: log}
}

// BytesSent counts the bytes this node published on the bus.
func (b *Bus) BytesSent() uint64 { return b.sent.Load() }

// BytesReceived counts the bytes this node's subscriptions received.
func (b *Bus) BytesReceived() uint64 { return b.got.Load() }

// Dropped counts the units this node's home sessions dropped because
// their send queue was full (the bus too slow for them).
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

// Refused counts bus messages dropped because they were malformed or did
// not open for the device they were received for.
func (b *Bus) Refused() uint64 { return b.refused.Load() }

// subject is where a camera stream's units are published. Device and
// stream ids hold only [a-z0-9-], which are valid subject tokens.
func subject(device access.DeviceID, stream access.StreamID) string {
	return "vigil.media." + string(device) + "." + string(stream)
}

// Sender publishes one camera publisher session's units on the bus.
type Sender struct {
	b       *Bus
	owner   media.Owner
	subject string
	sealer  *seal.BusSealer
	epoch   []byte // the epoch secret sealer was made with, for replies in the same epoch
	id      uint64 // tells this sender's chunks apart from others' on the subject
	msgs    atomic.Uint64
}

// Sender returns a sender for the units of the publisher session owner,
// sealed in the device's current epoch. The caller must have authenticated
// the camera as owner.Device.
func (b *Bus) Sender(ctx context.Context, owner media.Owner) (*Sender, error) {
	epoch, err := b.epochs.EpochSecret(ctx, owner.Device)
	if err != nil {
		return nil, fmt.Errorf("cluster: sender for %s/%s: epoch: %w", owner.Device, owner.Stream, err)
	}
	return b.sender(owner, epoch, subject(owner.Device, owner.Stream))
}

// sender returns a sender of owner's units to subj, sealing in epoch.
func (b *Bus) sender(owner media.Owner, epoch []byte, subj string) (*Sender, error) {
	sealer, err := b.sealer.NewBusSealer(owner.Device, epoch, owner.Stream)
	if err != nil {
		return nil, fmt.Errorf("cluster: sender for %s/%s: %w", owner.Device, owner.Stream, err)
	}
	var id [8]byte
	rand.Read(id[:])
	return &Sender{b: b, owner: owner, subject: subj, sealer: sealer, epoch: epoch, id: binary.BigEndian.Uint64(id[:])}, nil
}

// reply returns a sender to inbox in s's epoch, with a key and counters
// of its own: a GOP bootstrap answer of s's session is sealed in the
// epoch its units were captured in, never in a newer owner's.
func (s *Sender) reply(inbox string) (*Sender, error) {
	return s.b.sender(s.owner, s.epoch, inbox)
}

// Send seals u and publishes it. A unit of any other camera session is
// refused with ErrNotOwner: a sender seals only what its camera produced.
func (s *Sender) Send(u *media.Unit) error {
	frames, err := s.frames(u)
	if err != nil {
		return err
	}
	return s.publish(frames)
}

// SendEnd publishes the sealed end of the sender's publisher session:
// remote feeds of it end at once.
func (s *Sender) SendEnd() error {
	return s.sendPlain(0, []byte{kindEnd})
}

// sendDescription publishes the session's sealed track description.
func (s *Sender) sendDescription(tracks []*media.Track, start time.Time) error {
	plain, err := encodeDescription(tracks, start)
	if err != nil {
		return err
	}
	return s.sendPlain(0, plain)
}

// sendPlain seals an encoded message of the sender's session and publishes it.
func (s *Sender) sendPlain(seq uint64, plain []byte) error {
	sealed, err := s.sealer.Seal(s.owner.Session, seq, plain)
	if err != nil {
		return err
	}
	frames, err := chunks(s.id, s.msgs.Add(1), sealed, int(s.b.nc.MaxPayload()))
	if err != nil {
		return err
	}
	return s.publish(frames)
}

func (s *Sender) publish(frames [][]byte) error {
	for _, f := range frames {
		s.b.sent.Add(uint64(len(f)))
		if err := s.b.nc.Publish(s.subject, f); err != nil {
			return fmt.Errorf("cluster: publish %s: %w", s.subject, err)
		}
	}
	return nil
}

// frames seals u and cuts it into chunk frames.
func (s *Sender) frames(u *media.Unit) ([][]byte, error) {
	if u.Owner() != s.owner {
		return nil, fmt.Errorf("%w: unit of %+v, sender of %+v", ErrNotOwner, u.Owner(), s.owner)
	}
	plain, err := encodeUnit(u)
	if err != nil {
		return nil, err
	}
	sealed, err := s.sealer.Seal(u.Owner().Session, u.Seq, plain)
	if err != nil {
		return nil, err
	}
	return chunks(s.id, s.msgs.Add(1), sealed, int(s.b.nc.MaxPayload()))
}

// Subscription receives one camera stream's units from the bus.
type Subscription struct {
	b       *Bus
	device  access.DeviceID
	stream  access.StreamID
	deliver func(*media.Unit)
	end     func(media.Owner) // may be nil
	sub     *nats.Subscription
	asm     assembler // used by the subscription's one delivery goroutine only

	mu        sync.Mutex // guards opener, epoch, wants, refreshed
	opener    *seal.BusOpener
	epoch     []byte          // identity of opener's epoch (seal.EpochID)
	wants     *seal.BusSealer // seals the subscription's wants, in the same epoch
	refreshed time.Time       // last time the epoch secret was read
}

// Subscribe delivers the units of device's stream published on the bus,
// in order, on one goroutine, until Close. deliver must not block for
// long (it is NATS's delivery goroutine; a slow one makes the server drop
// messages for this subscription). Every unit delivered is owned by device:
// it opened under device's key.
func (b *Bus) Subscribe(ctx context.Context, device access.DeviceID, stream access.StreamID, deliver func(*media.Unit)) (*Subscription, error) {
	return b.subscribe(ctx, device, stream, deliver, nil)
}

// subscribe is Subscribe that also calls end (when not nil) with the
// session of each sealed end message.
func (b *Bus) subscribe(ctx context.Context, device access.DeviceID, stream access.StreamID, deliver func(*media.Unit), end func(media.Owner)) (*Subscription, error) {
	s := &Subscription{b: b, device: device, stream: stream, deliver: deliver, end: end}
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	sub, err := b.nc.Subscribe(listenOn(subject(device, stream), stream), s.handle)
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe %s/%s: %w", device, stream, err)
	}
	s.sub = sub
	return s, nil
}

// Close ends the subscription.
func (s *Subscription) Close() error { return s.sub.Unsubscribe() }

// Rekey makes the subscription open only what is sealed in the device's
// current ownership epoch. The node calls it when the camera changes
// hands, so frames still sealed in the old epoch are refused from then on.
// (A frame of a newer epoch than the subscription knows makes it reread
// the epoch by itself, at most once a second.)
func (s *Subscription) Rekey(ctx context.Context) error { return s.refresh(ctx) }

// refresh reads the device's current epoch secret and makes an opener for it.
func (s *Subscription) refresh(ctx context.Context) error {
	epoch, err := s.b.epochs.EpochSecret(ctx, s.device)
	if err != nil {
		return fmt.Errorf("cluster: subscribe %s/%s: epoch: %w", s.device, s.stream, err)
	}
	o, err := s.b.sealer.NewBusOpener(s.device, epoch, s.stream)
	id := seal.EpochID(epoch)
	var w *seal.BusSealer
	if err == nil {
		w, err = s.b.sealer.NewBusSealer(s.device, epoch, s.stream)
	}
	clear(epoch)
	if err != nil {
		return fmt.Errorf("cluster: subscribe %s/%s: %w", s.device, s.stream, err)
	}
	s.mu.Lock()
	s.opener, s.epoch, s.wants, s.refreshed = o, id, w, time.Now()
	s.mu.Unlock()
	return nil
}

// handle reassembles, opens and delivers one bus message.
func (s *Subscription) handle(m *nats.Msg) {
	s.b.got.Add(uint64(len(m.Data)))
	sealed, err := s.asm.add(m.Data)
	if err == nil && sealed == nil {
		return // more chunks to come
	}
	var msg message
	if err == nil {
		msg, err = s.openFrom(m.Subject, sealed)
	}
	if err == nil && msg.desc != nil {
		err = fmt.Errorf("%w: a description on the live subject", errFrame)
	}
	if err != nil {
		s.refuse(err)
		return
	}
	switch {
	case msg.unit != nil:
		s.deliver(msg.unit)
	case s.end != nil:
		s.end(msg.end)
	}
}

// refuse counts a refused message; a flood is counted, not logged per message.
func (s *Subscription) refuse(err error) {
	if s.b.refused.Add(1)%100 == 1 {
		s.b.log.Warn("bus message refused", "camera", s.device, "stream", s.stream, "refused_total", s.b.refused.Load(), "error", err)
	}
}

// open opens a sealed message and decodes it, owned by the
// subscription's device. When it fails to open, the camera may have changed
// hands: the epoch secret is read again (at most once a second) and the
// message tried once more.
func (s *Subscription) open(sealed []byte) (message, error) {
	s.mu.Lock()
	o, epoch, stale := s.opener, s.epoch, time.Since(s.refreshed) > time.Second
	s.mu.Unlock()
	session, seq, plain, err := o.Open(sealed)
	if errors.Is(err, seal.ErrOpen) && stale {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		rerr := s.refresh(ctx)
		cancel()
		if rerr == nil {
			s.mu.Lock()
			o, epoch = s.opener, s.epoch
			s.mu.Unlock()
			session, seq, plain, err = o.Open(sealed)
		}
	}
	if err != nil {
		return message{}, err
	}
	owner := media.Owner{Device: o.Device(), Stream: s.stream, Session: session}
	msg, err := decodeMessage(owner, seq, plain)
	if msg.desc != nil {
		msg.desc.Epoch = epoch // the epoch whose key opened it
	}
	return msg, err
}
