// Package smarthome holds what the assistants' fulfillments (google/ and
// alexa/) share: the cameras a link exposes, the state an assistant was
// last told of them and what changed since, and the poll and retry loops
// their reporters run. It knows nothing of either assistant's messages,
// nor of storage or HTTP routing.
package smarthome

import (
	"context"
	"slices"
	"time"

	"vigil/internal/access"
)

// Camera is a camera a link's user may see.
type Camera struct {
	ID   access.DeviceID
	Name string
}

// Exposed returns the cameras of cams that the link exposes (devices, the
// ones its user chose), in the order the user chose them.
func Exposed(cams []Camera, devices []access.DeviceID) []Camera {
	var out []Camera
	for _, id := range devices {
		if i := slices.IndexFunc(cams, func(c Camera) bool { return c.ID == id }); i >= 0 {
			out = append(out, cams[i])
		}
	}
	return out
}

// State is what an assistant was last told of a link's cameras.
type State struct {
	Cameras []access.DeviceID
	Online  map[access.DeviceID]bool
}

// StateOf is the state of cams now.
func StateOf(cams []Camera, online func(access.DeviceID) bool) State {
	s := State{Online: map[access.DeviceID]bool{}}
	for _, c := range cams {
		s.Cameras = append(s.Cameras, c.ID)
		s.Online[c.ID] = online(c.ID)
	}
	return s
}

// Change is what differs between two states of a link.
type Change struct {
	// Added and Gone are the cameras that joined and left the link's view.
	Added, Gone []access.DeviceID
	// Flipped are the cameras in both whose connectivity changed, with
	// their connectivity now.
	Flipped map[access.DeviceID]bool
}

// Since is the change from before to s; against the zero State every
// camera is Added.
func (s State) Since(before State) Change {
	c := Change{Flipped: map[access.DeviceID]bool{}}
	for _, id := range s.Cameras {
		was, ok := before.Online[id]
		switch {
		case !slices.Contains(before.Cameras, id):
			c.Added = append(c.Added, id)
		case ok && was != s.Online[id]:
			c.Flipped[id] = s.Online[id]
		}
	}
	for _, id := range before.Cameras {
		if !slices.Contains(s.Cameras, id) {
			c.Gone = append(c.Gone, id)
		}
	}
	return c
}

// Poll calls fn at once and then every interval until ctx ends. A poll
// that overruns delays the next one rather than overlapping it.
func Poll(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		fn(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Retry calls try until it succeeds, says not to try again, or has been
// called attempts times, waiting first, then twice as long, and so on,
// between calls (the backoff both assistants ask for on 429 and 5xx).
func Retry(ctx context.Context, attempts int, first time.Duration, try func() (again bool, err error)) error {
	wait := first
	for attempt := 1; ; attempt++ {
		again, err := try()
		if err == nil || !again || attempt >= attempts {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}
