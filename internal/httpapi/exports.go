package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/household"
	"vigil/internal/record"
)

// ExportGrants mints grants for exports (auth.Service): the one place that
// decides who reads an export, and ends them when it is deleted.
type ExportGrants interface {
	ExportGrant(ctx context.Context, c auth.Caller, e auth.Export) (access.Grant, error)
	EndExport(ctx context.Context, g access.Grant, id int64)
}

var _ ExportGrants = (*auth.Service)(nil)

// errNoExport is the one answer for an export that does not exist, is
// another household's, or is past its deadline: no probing for ids.
var errNoExport = httpError(http.StatusNotFound, "no such export", nil)

// exportView is an export as its household lists it.
type exportView struct {
	ID     int64           `json:"id"`
	Camera access.DeviceID `json:"camera"`
	// Name is the camera's name when it was released.
	Name     string    `json:"name"`
	Released time.Time `json:"released"`
	// First and Last bound the footage kept (absent: none was recorded).
	First    time.Time `json:"first,omitzero"`
	Last     time.Time `json:"last,omitzero"`
	Size     int64     `json:"size"`
	Deadline time.Time `json:"deadline"`
}

// exportRoutes registers the exports' routes: a person's, signed in (a
// stream token or an account link reads no export).
func (m *Media) exportRoutes(mux *Router) {
	person := func(h handlerFunc) http.Handler { return serve(m.Logger, m.Authn.signedIn(auth.ScopeView, h)) }
	mux.Handle("GET /api/exports", person(m.exports))
	mux.Handle("DELETE /api/exports/{id}", person(m.deleteExport))
	mux.Handle("GET /api/exports/{id}/recordings", person(m.exportTimeline))
	mux.Handle("GET /api/exports/{id}/recordings/{rec}/video.mp4", m.writeDeadlines("recording", person(m.exportMP4)))
	mux.Handle("GET /api/exports/{id}/events", person(m.exportEvents))
	mux.Handle("GET /api/exports/{id}/events/{event}/thumb.jpg", person(m.exportThumb))
}

// exportEvents lists the export's events (captured in its epoch before the
// release), each with its thumbnail's URL and the export's recordings of
// the main stream around it, noting the viewing in the access history.
func (m *Media) exportEvents(w http.ResponseWriter, r *http.Request) error {
	g, id, err := m.exportGrant(r)
	if err != nil {
		return err
	}
	evs, err := m.Exports.EventList(r.Context(), g, id)
	if err != nil {
		return unopened(err, errNoExport)
	}
	var spans []record.Span
	if len(evs) > 0 {
		if spans, err = m.Exports.Timeline(r.Context(), g, id, access.StreamMain); err != nil {
			return unopened(err, errNoExport)
		}
	}
	if err := m.Record.Seen(g, household.OutputExport, r.RemoteAddr); err != nil {
		return err
	}
	out := make([]eventView, 0, len(evs))
	for _, e := range evs {
		wf, wt := m.Events.Window(e)
		v := viewOf(e, around(spans, wf, wt, func(s record.Span) span { return exportSpan(g.Device(), id, s) }))
		if e.Thumb != "" {
			v.Thumb = fmt.Sprintf("/api/exports/%d/events/%d/thumb.jpg", id, e.ID)
		}
		out = append(out, v)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"events": out})
}

// exportThumb serves the thumbnail of one of the export's events, opened
// under the export's key.
func (m *Media) exportThumb(w http.ResponseWriter, r *http.Request) error {
	g, id, err := m.exportGrant(r)
	if err != nil {
		return err
	}
	ev, err := strconv.ParseInt(r.PathValue("event"), 10, 64)
	if err != nil {
		return errNoEvent
	}
	jpeg, err := m.Exports.Thumbnail(r.Context(), g, id, ev)
	if err != nil {
		return unopened(err, errNoEvent)
	}
	if err := m.Record.Seen(g, household.OutputExport, r.RemoteAddr); err != nil {
		return err
	}
	return writeThumb(w, jpeg)
}

// exportSpan is one of export id's recordings as its timeline shows it.
func exportSpan(device access.DeviceID, id int64, s record.Span) span {
	v := spanOf(device, s)
	v.URL = fmt.Sprintf("/api/exports/%d/recordings/%d/video.mp4?stream=%s", id, s.ID, s.Stream)
	return v
}

// exports lists the caller's household's exports.
func (m *Media) exports(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	list, err := m.Exports.List(r.Context(), c.ID)
	if err != nil {
		return err
	}
	out := make([]exportView, 0, len(list))
	for _, e := range list {
		out = append(out, exportView{ID: e.ID, Camera: e.Device, Name: e.Name, Released: e.Released, First: e.First, Last: e.Last,
			Size: e.Size, Deadline: e.Deadline})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"exports": out})
}

// exportGrant is the caller's grant for the export in the path.
func (m *Media) exportGrant(r *http.Request) (access.Grant, int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return access.Grant{}, 0, errNoExport
	}
	e, err := m.Exports.Find(r.Context(), id)
	if err != nil {
		return access.Grant{}, 0, unopened(err, errNoExport)
	}
	g, err := m.ExportGrants.ExportGrant(r.Context(), callerOf(r), auth.Export{ID: e.ID, Device: e.Device, Household: e.Household,
		Epoch: e.Epoch, Released: e.Released, Deadline: e.Deadline})
	if err != nil {
		return access.Grant{}, 0, &HTTPError{Code: errNoExport.Code, Msg: errNoExport.Msg, Err: err}
	}
	return g, id, nil
}

// exportStream is the caller's grant for the export in the path and the
// stream it asks for (?stream).
func (m *Media) exportStream(r *http.Request) (access.Grant, int64, access.StreamID, error) {
	stream, err := streamParam(r)
	if err != nil {
		return access.Grant{}, 0, "", err
	}
	g, id, err := m.exportGrant(r)
	return g, id, stream, err
}

// exportTimeline lists the export's recordings of ?stream, noting the
// viewing in the access history.
func (m *Media) exportTimeline(w http.ResponseWriter, r *http.Request) error {
	g, id, stream, err := m.exportStream(r)
	if err != nil {
		return err
	}
	spans, err := m.Exports.Timeline(r.Context(), g, id, stream)
	if err != nil {
		return unopened(err, errNoExport)
	}
	if err := m.Record.Seen(g, household.OutputExport, r.RemoteAddr); err != nil {
		return err
	}
	out := make([]span, 0, len(spans))
	for _, s := range spans {
		out = append(out, exportSpan(g.Device(), id, s))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"spans": out})
}

// exportMP4 serves one of the export's recordings, or the part of it
// between ?start and ?end, as an MP4 file with Range support; a recording
// the release cut short ends at its last GOP before the release.
func (m *Media) exportMP4(w http.ResponseWriter, r *http.Request) error {
	g, id, stream, err := m.exportStream(r)
	if err != nil {
		return err
	}
	rec, err := strconv.ParseInt(r.PathValue("rec"), 10, 64)
	if err != nil {
		return errNoRecording
	}
	clip, err := m.Exports.Open(r.Context(), g, id, rec)
	if err != nil {
		return unopened(err, errNoRecording)
	}
	if clip.Recording().Stream != stream {
		return errNoRecording
	}
	body, err := clipBody(r, clip)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("download") == "1" { // a name of typed values only
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.mp4"`, g.Device(),
			clip.Recording().Start.UTC().Format("20060102T150405Z")))
	}
	return m.serveRecording(w, r, g, clip, household.OutputExport, clip.Recording().Start, body)
}

// deleteExport ends the export now: its secret is destroyed, its footage
// deleted, its grants ended.
func (m *Media) deleteExport(w http.ResponseWriter, r *http.Request) error {
	g, id, err := m.exportGrant(r)
	if err != nil {
		return err
	}
	err = m.Exports.Delete(r.Context(), g, id)
	if err != nil {
		return unopened(err, errNoExport)
	}
	m.ExportGrants.EndExport(r.Context(), g, id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
