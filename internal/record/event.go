package record

import (
	"context"
	"time"

	"vigil/internal/access"
)

// Event is something a camera (or its owner) marked: motion, a sound, a
// person, a ring, with its time span and score. It belongs to the epoch
// in which it was marked, like a recording.
type Event struct {
	ID     int64 // assigned by AddEvent
	Device access.DeviceID
	// Epoch is the device's EpochStarted when the event was marked; its
	// thumbnail is sealed under that epoch's secret.
	Epoch time.Time
	Kind  EventKind
	Start time.Time
	// End is zero when the camera gave none.
	End   time.Time
	Score float64
	// ThumbID names the sealed thumbnail (its associated data) and Thumb
	// is its blob key; "" when the event has none.
	ThumbID uint64
	Thumb   string
}

// EventKind is what an event is of.
type EventKind string

// Event kinds.
const (
	EventMotion EventKind = "motion"
	EventSound  EventKind = "sound"
	EventPerson EventKind = "person"
	EventRing   EventKind = "ring"
)

// Valid reports whether k is one of the kinds above.
func (k EventKind) Valid() bool {
	switch k {
	case EventMotion, EventSound, EventPerson, EventRing:
		return true
	}
	return false
}

// Continuous says which of a camera's streams are recorded all the time;
// one that is not is recorded around its camera's events.
type Continuous struct {
	Main bool `json:"main"`
	Sub  bool `json:"sub"`
}

// EventIndex files events and each camera's continuous-recording flags
// (store/sqlite and store/postgres implement it).
type EventIndex interface {
	AddEvent(ctx context.Context, e Event) (int64, error)
	// Events lists up to limit of the device's events of the epoch that
	// started at epoch with a start in [from, to), by start.
	Events(ctx context.Context, device access.DeviceID, epoch, from, to time.Time, limit int) ([]Event, error)
	// Event returns one event by id, or an error wrapping a not-found
	// error.
	Event(ctx context.Context, id int64) (Event, error)
	SetContinuous(ctx context.Context, device access.DeviceID, c Continuous) error
	Continuous(ctx context.Context, device access.DeviceID) (Continuous, error)
	// OldestEvents lists up to limit of the device's events of every
	// epoch, oldest first (retention deletes from there).
	OldestEvents(ctx context.Context, device access.DeviceID, limit int) ([]Event, error)
	// DeleteEvent removes an event's row (its thumbnail is the caller's).
	DeleteEvent(ctx context.Context, id int64) error
	// AllContinuous is every device's flags (the recorder's targets).
	AllContinuous(ctx context.Context) (map[access.DeviceID]Continuous, error)
}
