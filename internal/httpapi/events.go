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
	// Pin is the viewer's pin of the event (DELETE .../pins/{pin}), 0 when
	// they have none.
	Pin int64 `json:"pin,omitempty"`
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
// with its thumbnail's URL, the recordings around it and the viewer's pin
// of it.
func (m *Media) events(w http.ResponseWriter, r *http.Request) error {
	g, evs, err := m.listEvents(r)
	if err != nil {
		return err
	}
	out, err := m.eventViews(r, g, evs)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"events": out})
}

// reviewItem is a record.ReviewItem as the API shows it: its events and
// one clip over all of them.
type reviewItem struct {
	Start  time.Time   `json:"start"`
	End    time.Time   `json:"end"`
	Kinds  []string    `json:"kinds"`
	Clip   string      `json:"clip,omitempty"`
	Events []eventView `json:"events"`
}

// review lists the camera's events as review items (record.Review): those
// that overlap or follow within a few seconds merged, items never
// overlapping, each with its events and a clip over them.
func (m *Media) review(w http.ResponseWriter, r *http.Request) error {
	g, evs, err := m.listEvents(r)
	if err != nil {
		return err
	}
	views, err := m.eventViews(r, g, evs)
	if err != nil {
		return err
	}
	out := []reviewItem{}
	i := 0
	for _, it := range record.Review(evs, record.ReviewGap) {
		ri := reviewItem{Start: it.Start, End: it.End, Events: views[i : i+len(it.Events)]}
		i += len(it.Events)
		for _, k := range it.Kinds {
			ri.Kinds = append(ri.Kinds, string(k))
		}
		wf, _ := m.Events.Window(it.Events[0])
		_, wt := m.Events.Window(record.Event{Start: it.Start, End: it.End})
		for _, v := range ri.Events {
			if v.Clip != "" {
				ri.Clip = clipURL(g.Device(), wf, wt)
			}
		}
		out = append(out, ri)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

// listEvents authorizes the request's viewer of the camera in the path
// and lists its events in [?from, ?to) that the viewer may see.
func (m *Media) listEvents(r *http.Request) (access.Grant, []record.Event, error) {
	g, err := viewerGrant(m.Accounts, r, access.StreamMain)
	if err != nil {
		return g, nil, err
	}
	from, to, err := timeRange(r)
	if err != nil {
		return g, nil, err
	}
	evs, err := m.Events.List(r.Context(), g, from, to)
	if err != nil {
		return g, nil, notFoundUnless(err)
	}
	return g, evs, nil
}

// eventViews are evs as the API shows them, with the recordings around
// each and the viewer's pins, noting the viewing in the access history.
func (m *Media) eventViews(r *http.Request, g access.Grant, evs []record.Event) ([]eventView, error) {
	var spans []record.Span
	var err error
	if len(evs) > 0 && m.Recordings != nil {
		from, to := m.Events.Window(evs[0])
		for _, e := range evs {
			if _, wt := m.Events.Window(e); wt.After(to) {
				to = wt
			}
		}
		if spans, err = m.Recordings.Timeline(r.Context(), g, access.StreamMain, from, to); err != nil {
			return nil, notFoundUnless(err)
		}
	}
	pins := map[int64]int64{} // event to the viewer's pin of it
	if m.Pins != nil && callerOf(r).Token == nil {
		mine, err := m.Pins.List(r.Context(), g)
		if err != nil {
			return nil, notFoundUnless(err)
		}
		for _, p := range mine {
			if p.Event != 0 {
				pins[p.Event] = p.ID
			}
		}
	}
	if err := m.Record.Seen(g, "events", r.RemoteAddr); err != nil {
		return nil, err
	}
	out := make([]eventView, 0, len(evs))
	for _, e := range evs {
		wf, wt := m.Events.Window(e)
		v := viewOf(e, around(spans, wf, wt, func(s record.Span) span { return spanOf(g.Device(), s) }))
		v.Pin = pins[e.ID]
		if len(v.Clips) > 0 {
			v.Clip = clipURL(g.Device(), wf, wt)
		}
		out = append(out, v)
	}
	return out, nil
}

// around are the spans that overlap [wf, wt), as view shows them, each
// cut to it by its URL's start and end.
func around(spans []record.Span, wf, wt time.Time, view func(record.Span) span) []span {
	out := []span{}
	for _, s := range spans {
		if end := s.Start.Add(s.Duration); s.Start.Before(wt) && end.After(wf) {
			sp := view(s)
			sp.URL += "&start=" + url.QueryEscape(wf.UTC().Format(time.RFC3339Nano)) + "&end=" + url.QueryEscape(wt.UTC().Format(time.RFC3339Nano))
			out = append(out, sp)
		}
	}
	return out
}

// clipURL is the URL of the device's main stream over [from, to) as one
// MP4 file.
func clipURL(device access.DeviceID, from, to time.Time) string {
	q := url.Values{"stream": {string(access.StreamMain)}, "from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)}}
	return fmt.Sprintf("/api/cameras/%s/recordings/clip.mp4?%s", device, q.Encode())
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
	return writeThumb(w, jpeg)
}

// writeThumb writes a thumbnail opened for one viewer: never cached.
func writeThumb(w http.ResponseWriter, jpeg []byte) error {
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "private, no-store")
	_, err := w.Write(jpeg)
	return err
}
