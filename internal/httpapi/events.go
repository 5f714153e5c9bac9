package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/record"
)

// ContinuousFlags keeps which of each camera's streams are recorded all
// the time (the store).
type ContinuousFlags interface {
	SetContinuous(ctx context.Context, id access.DeviceID, c record.Continuous) error
	Continuous(ctx context.Context, id access.DeviceID) (record.Continuous, error)
}

// errNoEvent is the one answer for an event that does not exist, is
// another camera's or epoch's, has no thumbnail or did not open.
var errNoEvent = httpError(http.StatusNotFound, "no such event", nil)

// eventBody is an event as a camera or its owner marks it; start defaults
// to now; thumbnail is a JPEG (base64 in JSON).
type eventBody struct {
	Kind      string    `json:"kind"`
	Start     time.Time `json:"start,omitzero"`
	End       time.Time `json:"end,omitzero"`
	Score     float64   `json:"score"`
	Thumbnail []byte    `json:"thumbnail,omitempty"`
}

// eventView is an event as the API shows it: its thumbnail's URL and the
// recordings that cover it, cut to its pre- and post-roll.
type eventView struct {
	ID    int64     `json:"id"`
	Kind  string    `json:"kind"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
	Score float64   `json:"score"`
	Thumb string    `json:"thumb,omitempty"`
	// Clip is the event's pre-roll to post-roll as one MP4 (clip.mp4),
	// when anything of it is recorded; Clips are the recordings it joins.
	Clip  string `json:"clip,omitempty"`
	Clips []span `json:"clips"`
}

// maxEventBody bounds an event's JSON: a thumbnail in base64 and the rest.
const maxEventBody = record.MaxThumb*4/3 + 4<<10

// markEvent keeps an event of the camera in the path, marked by the camera
// itself (its push credential, as for still uploads) or by its owner.
func (a *API) markEvent(w http.ResponseWriter, r *http.Request) error {
	device, err := a.eventMarker(r)
	if err != nil {
		return err
	}
	var body eventBody
	if err := decodeJSON(w, r, &body, maxEventBody); err != nil {
		return err
	}
	if body.Start.IsZero() {
		body.Start = time.Now()
	}
	e, err := a.Events.Mark(r.Context(), device, record.Event{Kind: record.EventKind(body.Kind), Start: body.Start,
		End: body.End, Score: body.Score}, body.Thumbnail)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, viewOf(e, nil))
}

// eventMarker is the camera whose events r may mark: the camera's own
// credential (HTTP Basic, the camera id as the user), or a signed-in
// caller who manages it.
func (a *API) eventMarker(r *http.Request) (access.DeviceID, error) {
	if name, _, ok := r.BasicAuth(); ok && name == r.PathValue("id") {
		return camera(a.Auth, r)
	}
	c, err := a.Authn.user(r, auth.ScopeManage)
	if err != nil {
		return "", err
	}
	return a.owned(withCaller(r, c))
}

// continuous shows which of the owned camera's streams are recorded all
// the time.
func (a *API) continuous(w http.ResponseWriter, r *http.Request) error {
	device, err := a.owned(r)
	if err != nil {
		return err
	}
	c, err := a.Continuous.Continuous(r.Context(), device)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

// setContinuous switches continuous recording of the owned camera's
// streams; a stream switched off is recorded around events only, from the
// recorder's next poll.
func (a *API) setContinuous(w http.ResponseWriter, r *http.Request) error {
	device, err := a.owned(r)
	if err != nil {
		return err
	}
	var c record.Continuous
	if err := readJSON(w, r, &c); err != nil {
		return err
	}
	if err := a.Continuous.SetContinuous(r.Context(), device, c); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c)
}

// events lists the camera's events with a start in [?from, ?to) that the
// viewer may see (the current epoch's, from the viewer's epoch on), each
// with its thumbnail's URL and the recordings around it.
func (m *Media) events(w http.ResponseWriter, r *http.Request) error {
	g, err := viewerGrant(m.Accounts, r, access.StreamMain)
	if err != nil {
		return err
	}
	from, to, err := timeRange(r)
	if err != nil {
		return err
	}
	evs, err := m.Events.List(r.Context(), g, from, to)
	if err != nil {
		return notFoundUnless(err)
	}
	var spans []record.Span
	if len(evs) > 0 && m.Recordings != nil {
		from, to := m.Events.Window(evs[0])
		for _, e := range evs {
			if _, wt := m.Events.Window(e); wt.After(to) {
				to = wt
			}
		}
		if spans, err = m.Recordings.Timeline(r.Context(), g, access.StreamMain, from, to); err != nil {
			return notFoundUnless(err)
		}
	}
	if err := m.Record.Seen(g, "events", r.RemoteAddr); err != nil {
		return err
	}
	out := make([]eventView, 0, len(evs))
	for _, e := range evs {
		wf, wt := m.Events.Window(e)
		v := viewOf(e, []span{})
		q := url.Values{"stream": {string(access.StreamMain)}, "from": {wf.UTC().Format(time.RFC3339Nano)}, "to": {wt.UTC().Format(time.RFC3339Nano)}}
		for _, s := range spans {
			if end := s.Start.Add(s.Duration); s.Start.Before(wt) && end.After(wf) {
				sp := spanOf(g.Device(), s)
				sp.URL += "&start=" + url.QueryEscape(wf.UTC().Format(time.RFC3339Nano)) + "&end=" + url.QueryEscape(wt.UTC().Format(time.RFC3339Nano))
				v.Clips = append(v.Clips, sp)
			}
		}
		if len(v.Clips) > 0 {
			v.Clip = fmt.Sprintf("/api/cameras/%s/recordings/clip.mp4?%s", g.Device(), q.Encode())
		}
		out = append(out, v)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"events": out})
}

// viewOf is e as the API shows it, with clips.
func viewOf(e record.Event, clips []span) eventView {
	v := eventView{ID: e.ID, Kind: string(e.Kind), Start: e.Start, End: e.End, Score: e.Score, Clips: clips}
	if e.Thumb != "" {
		v.Thumb = fmt.Sprintf("/api/cameras/%s/events/%d/thumb.jpg", e.Device, e.ID)
	}
	return v
}

// eventThumb serves an event's thumbnail, opened under the camera's key
// for the viewer's grant.
func (m *Media) eventThumb(w http.ResponseWriter, r *http.Request) error {
	g, err := viewerGrant(m.Accounts, r, access.StreamMain)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("event"), 10, 64)
	if err != nil {
		return errNoEvent
	}
	jpeg, err := m.Events.Thumbnail(r.Context(), g, id)
	if err != nil {
		return unopened(err, errNoEvent)
	}
	if err := m.Record.Seen(g, "events", r.RemoteAddr); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "private, no-store")
	_, err = w.Write(jpeg)
	return err
}
