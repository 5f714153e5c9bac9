package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"vigil/internal/access"
	"vigil/internal/record"
)

// pinView is a pin as the API shows it.
type pinView struct {
	ID    int64     `json:"id"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Event int64     `json:"event,omitempty"`
}

// pinner is the signed-in viewer of the camera in the path (the pins
// routes take no stream token: a pin is its pinner's).
func (m *Media) pinner(r *http.Request) (access.Grant, error) {
	return viewerGrant(m.Accounts, r, access.StreamMain)
}

// pins lists the viewer's pins of the camera.
func (m *Media) pins(w http.ResponseWriter, r *http.Request) error {
	g, err := m.pinner(r)
	if err != nil {
		return err
	}
	pins, err := m.Pins.List(r.Context(), g)
	if err != nil {
		return notFoundUnless(err)
	}
	out := make([]pinView, 0, len(pins))
	for _, p := range pins {
		out = append(out, pinView{ID: p.ID, Start: p.Start, End: p.End, Event: p.Event})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"pins": out})
}

// pin keeps an event's clip ({"event": id}) or a span ({"start", "end"})
// of the camera from retention while the viewer keeps their access.
func (m *Media) pin(w http.ResponseWriter, r *http.Request) error {
	g, err := m.pinner(r)
	if err != nil {
		return err
	}
	var body pinView
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	p, err := m.Pins.Pin(r.Context(), g, body.Event, body.Start, body.End)
	if err != nil {
		return unopened(err, errNoEvent)
	}
	return writeJSON(w, http.StatusCreated, pinView{ID: p.ID, Start: p.Start, End: p.End, Event: p.Event})
}

// unpin removes one of the viewer's pins of the camera.
func (m *Media) unpin(w http.ResponseWriter, r *http.Request) error {
	g, err := m.pinner(r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("pin"), 10, 64)
	if err != nil {
		return record.ErrNoPin
	}
	if err := m.Pins.Unpin(r.Context(), g, id); err != nil {
		return notFoundUnless(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
