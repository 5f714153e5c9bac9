package record

import (
	"context"
	"errors"
	"fmt"
	"time"

	"vigil/internal/access"
)

// Pin keeps a span of a camera's footage from retention: a person who may
// view the camera pinned it (an event's clip, or a span they chose). It
// belongs to the epoch it was made in and holds only while its pinner
// keeps their access: a camera's next owner never inherits it, and a
// sharee's pins end with the share.
type Pin struct {
	ID     int64 // assigned by AddPin
	Device access.DeviceID
	// Epoch is the device's EpochStarted when the pin was made.
	Epoch time.Time
	User  access.UserID
	Start time.Time
	End   time.Time
	// Event is the pinned event's id, 0 for a span.
	Event   int64
	Created time.Time
}

// covers reports whether the pin keeps rec.
func (p Pin) covers(rec Recording) bool {
	return p.Device == rec.Device && p.Epoch.Equal(rec.Epoch) && p.Start.Before(rec.End()) && p.End.After(rec.Start)
}

// PinIndex files pins (store/sqlite and store/postgres implement it).
type PinIndex interface {
	AddPin(ctx context.Context, p Pin) (int64, error)
	// Pins lists the device's pins of every epoch, by start.
	Pins(ctx context.Context, device access.DeviceID) ([]Pin, error)
	DeletePin(ctx context.Context, id int64) error
}

// Errors of Pins.
var (
	// ErrNoPin means no pin of the caller's has the id.
	ErrNoPin = errors.New("record: no such pin")
	// ErrBadPin means a pin's span is empty, too long, or before what the
	// caller may see.
	ErrBadPin = errors.New("record: bad pin")
	// ErrTooManyPins means the camera has MaxPins pins of its epoch.
	ErrTooManyPins = errors.New("record: too many pins on this camera; unpin some first")
)

// Limits on pins.
const (
	// MaxPinSpan bounds one pin's span.
	MaxPinSpan = 24 * time.Hour
	// MaxPins bounds a camera's pins in one epoch.
	MaxPins = 1000
)

// Pins pins and unpins footage for grants.
type Pins struct {
	Index interface {
		PinIndex
		EventIndex
		Epoch(ctx context.Context, device access.DeviceID) (time.Time, []byte, error)
	}
	// Events gives an event's window (its pre- and post-roll).
	Events *Events
	// Now defaults to time.Now.
	Now func() time.Time
}

func (ps *Pins) now() time.Time {
	if ps.Now == nil {
		return time.Now()
	}
	return ps.Now()
}

// Pin pins [start, end) of the grant's device for the grant's user, or
// the window of event (when not 0). The span is cut to start at the
// grant's epoch (nobody pins what they may not see).
func (ps *Pins) Pin(ctx context.Context, g access.Grant, event int64, start, end time.Time) (Pin, error) {
	now := ps.now()
	if err := g.Live(now); err != nil {
		return Pin{}, err
	}
	if g.User() == "" {
		return Pin{}, fmt.Errorf("%w: only a person pins", ErrBadPin)
	}
	epoch, secret, err := ps.Index.Epoch(ctx, g.Device())
	if err != nil {
		return Pin{}, err
	}
	clear(secret)
	if event != 0 {
		e, err := ps.Index.Event(ctx, event)
		if err != nil || e.Device != g.Device() || !e.Epoch.Equal(epoch) || g.Check(e.Device, e.Start, now) != nil {
			return Pin{}, ErrNotFound
		}
		start, end = ps.Events.Window(e)
	}
	if !start.Before(end) || end.Sub(start) > MaxPinSpan {
		return Pin{}, fmt.Errorf("%w: the span must end after it starts, within a day", ErrBadPin)
	}
	// Nobody pins what they may not see: the span starts no earlier than
	// the grant's epoch (an event's pre-roll may reach before it).
	if start = latest(start, g.Epoch(), epoch); !start.Before(end) {
		return Pin{}, fmt.Errorf("%w: the span ends before you may see this camera", ErrBadPin)
	}
	pins, err := ps.Index.Pins(ctx, g.Device())
	if err != nil {
		return Pin{}, err
	}
	if len(pins) >= MaxPins {
		return Pin{}, ErrTooManyPins
	}
	p := Pin{Device: g.Device(), Epoch: epoch, User: g.User(), Start: start, End: end, Event: event, Created: now}
	p.ID, err = ps.Index.AddPin(ctx, p)
	return p, err
}

// List lists the pins of the grant's device that its user made in the
// current epoch.
func (ps *Pins) List(ctx context.Context, g access.Grant) ([]Pin, error) {
	if err := g.Live(ps.now()); err != nil {
		return nil, err
	}
	epoch, secret, err := ps.Index.Epoch(ctx, g.Device())
	if err != nil {
		return nil, err
	}
	clear(secret)
	all, err := ps.Index.Pins(ctx, g.Device())
	out := []Pin{}
	for _, p := range all {
		if pinsIgnoreEpoch() || p.Epoch.Equal(epoch) && p.User == g.User() && !p.Created.Before(g.Epoch()) {
			out = append(out, p)
		}
	}
	return out, err
}

// Unpin removes pin id, which the grant's user made on its device.
func (ps *Pins) Unpin(ctx context.Context, g access.Grant, id int64) error {
	if unpinByIDOnly() {
		return ps.Index.DeletePin(ctx, id)
	}
	mine, err := ps.List(ctx, g)
	if err != nil {
		return err
	}
	for _, p := range mine {
		if p.ID == id {
			return ps.Index.DeletePin(ctx, id)
		}
	}
	return ErrNoPin
}
