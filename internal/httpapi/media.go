package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/audit"
	"vigil/internal/auth"
	"vigil/internal/fmp4"
	"vigil/internal/hls"
	"vigil/internal/hub"
	"vigil/internal/record"
	"vigil/internal/stills"
	"vigil/internal/webrtc"
)

// Media serves the camera outputs over HTTP: progressive MP4, HLS (LL-HLS,
// fMP4, MPEG-TS), JPEG stills (and camera uploads of them), MJPEG and
// WebRTC signaling (WHEP). Every read is made with a grant for the camera
// in the path.
type Media struct {
	Accounts Accounts
	Authn    *Authenticator
	Hub      *hub.Hub
	HLS      *hls.Manager
	Stills   *stills.Service
	// WebRTC serves WHEP and Google's WebRTC signaling; nil leaves them out.
	WebRTC *webrtc.Server
	// Recordings serves the timeline and recorded MP4s; nil leaves them out.
	Recordings *record.Library
	// Events lists cameras' events and serves their thumbnails; nil leaves
	// them out.
	Events *record.Events
	// Pins pins and unpins footage; nil leaves the pins routes out.
	Pins *record.Pins
	// Exports lists, serves and deletes the footage households kept when
	// they released cameras, with grants from ExportGrants; nil leaves
	// /api/exports out.
	Exports      *record.Exports
	ExportGrants ExportGrants
	// Record records viewing sessions in the access history; nil records
	// nothing. A viewer whose session cannot be recorded is not served.
	Record *audit.Recorder
	Logger *slog.Logger
	// WriteTimeout bounds every write of a media response; a viewer that
	// takes nothing for that long is dropped. It defaults to 10 seconds.
	WriteTimeout time.Duration
	// MaxOutputsPerUser bounds one user's open live.mp4 and MJPEG
	// responses. It defaults to 16.
	MaxOutputsPerUser int
	// Dropped counts viewers dropped for taking no data, by output label;
	// nil registers vigil_viewers_dropped_total on the routes' registry.
	Dropped *prometheus.CounterVec
	metrics *outputMetrics
	outputs *auth.Cap // long-lived outputs open per user
	mp4     *auth.Viewer[*hub.Reader]
	mp4Back *auth.Viewer[*hub.Reader] // from the GOP before the cached one (Hub.ReadBack)
}

type outputMetrics struct {
	viewers *prometheus.GaugeVec
	bytes   *prometheus.CounterVec
	dropped *prometheus.CounterVec
}

func newOutputMetrics(reg prometheus.Registerer, dropped *prometheus.CounterVec) *outputMetrics {
	m := &outputMetrics{
		viewers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_http_viewers", Help: "Open long-lived HTTP media responses (MP4, MJPEG).",
		}, []string{"output"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_http_media_bytes_total", Help: "Media bytes written to HTTP viewers.",
		}, []string{"output"}),
	}
	reg.MustRegister(m.viewers, m.bytes)
	if m.dropped = dropped; dropped == nil {
		m.dropped = NewDropped()
		reg.MustRegister(m.dropped)
	}
	return m
}

// NewDropped returns vigil_viewers_dropped_total, by output, for the
// caller to register: every output that drops a viewer counts there.
func NewDropped() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_viewers_dropped_total", Help: "Viewers dropped because they took no data within the write timeout.",
	}, []string{"output"})
}

// routes registers the media routes on mux.
func (m *Media) routes(mux *Router, reg prometheus.Registerer) {
	m.metrics = newOutputMetrics(reg, m.Dropped)
	perUser := m.MaxOutputsPerUser
	if perUser <= 0 {
		perUser = defaultMaxOutputsPerUser
	}
	m.outputs = auth.NewCap(perUser)
	m.mp4 = &auth.Viewer[*hub.Reader]{Callers: m.Authn.Credentials, Auth: m.Accounts, Output: "mp4", Open: m.Hub.Read,
		Record: m.Record, PerUser: m.outputs}
	back := *m.mp4
	back.Open = m.Hub.ReadBack
	m.mp4Back = &back
	// live.mp4 is its own edge: View resolves the caller (see liveMP4).
	mux.Handle("GET /api/cameras/{id}/live.mp4", m.writeDeadlines("mp4", serve(m.Logger, m.liveMP4)))
	mux.Handle("GET /api/cameras/{id}/hls/index.m3u8", m.writeDeadlines("hls", serve(m.Logger, m.Authn.viewing(m.multivariant))))
	mux.Handle("GET /api/cameras/{id}/hls/{stream}/{variant}/{file}", m.writeDeadlines("hls", serve(m.Logger, m.Authn.viewing(m.hlsFile))))
	mux.Handle("GET /api/cameras/{id}/still.jpg", m.writeDeadlines("still", serve(m.Logger, m.Authn.viewing(m.still))))
	mux.Handle("PUT /api/cameras/{id}/still.jpg", serve(m.Logger, m.upload))
	mux.Handle("GET /api/cameras/{id}/mjpeg", m.writeDeadlines("mjpeg", serve(m.Logger, m.Authn.viewing(m.mjpeg))))
	if m.WebRTC != nil {
		m.whepRoutes(mux)
	}
	if m.Recordings != nil {
		mux.Handle("GET /api/cameras/{id}/recordings", serve(m.Logger, m.Authn.viewing(m.timeline)))
		mux.Handle("GET /api/cameras/{id}/recordings/vod.m3u8", serve(m.Logger, m.Authn.viewing(m.vod)))
		mux.Handle("GET /api/cameras/{id}/recordings/clip.mp4", m.writeDeadlines("recording", serve(m.Logger, m.Authn.viewing(m.joinedMP4))))
		mux.Handle("GET /api/cameras/{id}/recordings/{rec}/video.mp4", m.writeDeadlines("recording", serve(m.Logger, m.Authn.viewing(m.recordingMP4))))
	}
	if m.Events != nil {
		mux.Handle("GET /api/cameras/{id}/events", serve(m.Logger, m.Authn.viewing(m.events)))
		mux.Handle("GET /api/cameras/{id}/events/{event}/thumb.jpg", m.writeDeadlines("still", serve(m.Logger, m.Authn.viewing(m.eventThumb))))
		mux.Handle("GET /api/cameras/{id}/review", serve(m.Logger, m.Authn.viewing(m.review)))
	}
	if m.Pins != nil { // a person's, signed in: a stream token pins nothing
		person := func(h handlerFunc) http.Handler { return serve(m.Logger, m.Authn.signedIn(auth.ScopeView, h)) }
		mux.Handle("GET /api/cameras/{id}/pins", person(m.pins))
		mux.Handle("POST /api/cameras/{id}/pins", person(m.pin))
		mux.Handle("DELETE /api/cameras/{id}/pins/{pin}", person(m.unpin))
	}
	if m.Exports != nil {
		m.exportRoutes(mux)
	}
}

// maxUploadBody bounds what is read of an upload at all; stills enforces
// its own, smaller limit.
const maxUploadBody = 16 << 20

// notFoundUnless is err for a client when the table knows it (offline,
// a refused token), else "no such camera": a read the requester may not
// make looks like a camera that does not exist.
func notFoundUnless(err error) error {
	if he := clientError(err); he.Code != http.StatusInternalServerError {
		return he
	}
	return &HTTPError{Code: http.StatusNotFound, Msg: errNotFound.Msg, Err: err}
}

// countingWriter counts the bytes of a long-lived response.
type countingWriter struct {
	w   http.ResponseWriter
	c   prometheus.Counter
	rec *audit.Session
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.c.Add(float64(n))
	c.rec.Add(n)
	return n, err
}

// viewerStream authorizes the request's viewer of the camera in the path
// and reads the stream it asks for (?stream).
func (m *Media) viewerStream(r *http.Request) (access.Grant, access.StreamID, error) {
	stream, err := streamParam(r)
	if err != nil {
		return access.Grant{}, "", err
	}
	g, err := viewerGrant(m.Accounts, r, stream)
	return g, stream, err
}

// viewerStill authorizes the request's viewer of the camera in the path
// and reads the still it asks for.
func (m *Media) viewerStill(r *http.Request) (access.Grant, stills.Request, error) {
	req, err := stillRequest(r)
	if err != nil {
		return access.Grant{}, req, err
	}
	g, err := viewerGrant(m.Accounts, r, req.Stream)
	return g, req, err
}

// liveMP4 serves a live progressive MP4: one call (auth.Viewer.View)
// resolves the caller from what the request presents (as the viewing
// middleware would), grants it, takes its place under the per-user cap,
// opens the hub reader and starts the viewing record; then fmp4 writes.
// Control leaves httpapi once before the first byte.
func (m *Media) liveMP4(w http.ResponseWriter, r *http.Request) error {
	device, err := access.ParseDeviceID(r.PathValue("id"))
	if err != nil {
		return errNotFound
	}
	stream, err := streamParam(r)
	if err != nil {
		return err
	}
	// ?from=previous starts one GOP earlier, as LL-HLS does: a browser
	// holds its first frame until it has buffered about a second past it,
	// which the hub's current GOP, just begun, may not hold yet. The page
	// asks for it and plays faster until it is at the live edge; other
	// players, which play at 1x, start at the cached keyframe.
	viewer := m.mp4
	if r.URL.Query().Get("from") == "previous" {
		viewer = m.mp4Back
	}
	pr := presented(r, true)
	v, err := viewer.View(r.Context(), pr, viewUse(device, stream))
	if err != nil {
		return m.refusedView(pr, err)
	}
	defer v.Close()
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("Cache-Control", "private, no-store")
	viewers := m.metrics.viewers.WithLabelValues("mp4")
	viewers.Inc()
	defer viewers.Dec()
	rc := http.NewResponseController(w)
	out := countingWriter{w, m.metrics.bytes.WithLabelValues("mp4"), v.Record}
	err = fmp4.Stream(r.Context(), out, func() { rc.Flush() }, v.Media)
	m.Logger.Debug("mp4 viewer ended", "camera", device, "user", v.Grant.User(), "reason", err)
	return nil // the response has started: nothing more to say to the client
}

// refusedView is what the presenter of pr is told of a refused View, by
// which of its steps refused it.
func (m *Media) refusedView(pr auth.Presented, err error) error {
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return refusedCaller(pr, err)
	case errors.Is(err, auth.ErrNotGranted):
		return refusedGrant(pr.Token != "", err)
	case errors.Is(err, auth.ErrTooManyViews):
		return m.tooManyOutputs(err)
	case errors.Is(err, audit.ErrUnrecorded):
		return err
	}
	return notFoundUnless(err)
}

func (m *Media) multivariant(w http.ResponseWriter, r *http.Request) error {
	g, err := viewerGrant(m.Accounts, r, "")
	if err != nil {
		return err
	}
	var streams []access.StreamID
	tok := callerOf(r).Token
	for _, s := range []access.StreamID{access.StreamMain, access.StreamSub} {
		if tok == nil || tok.Opens(s) { // a token for one stream opens that one only
			streams = append(streams, s)
		}
	}
	name := r.URL.Query().Get("variant")
	if name == "" {
		name = string(hls.VariantLL)
	}
	v, err := hls.ParseVariant(name)
	if err != nil {
		return httpError(http.StatusBadRequest, err.Error(), nil)
	}
	if err := m.Record.Seen(g, "hls", r.RemoteAddr); err != nil { // HLS bytes are not counted
		return err
	}
	return m.HLS.Multivariant(w, r, g, streams, v)
}

func (m *Media) hlsFile(w http.ResponseWriter, r *http.Request) error {
	stream, err := access.ParseStreamID(r.PathValue("stream"))
	if err != nil {
		return errNotFound
	}
	g, err := viewerGrant(m.Accounts, r, stream)
	if err != nil {
		return err
	}
	v, err := hls.ParseVariant(r.PathValue("variant"))
	if err != nil {
		return errNotFound
	}
	if strings.HasSuffix(r.PathValue("file"), ".m3u8") {
		if err := m.Record.Seen(g, "hls", r.RemoteAddr); err != nil {
			return err
		}
	}
	return m.HLS.ServeFile(w, r, g, stream, v, r.PathValue("file"))
}

// stillRequest reads ?stream, ?max_age (seconds) and ?width.
func stillRequest(r *http.Request) (stills.Request, error) {
	q := r.URL.Query()
	stream, err := streamParam(r)
	if err != nil {
		return stills.Request{}, err
	}
	req := stills.Request{Stream: stream}
	if s := q.Get("max_age"); s != "" {
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil || secs <= 0 || secs > 86400*365 {
			return req, httpError(http.StatusBadRequest, "max_age must be seconds between 0 and one year", nil)
		}
		req.MaxAge = time.Duration(secs * float64(time.Second))
	}
	if s := q.Get("width"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 16 || n > 3840 {
			return req, httpError(http.StatusBadRequest, "width must be 16 to 3840 pixels", nil)
		}
		req.Width = n
	}
	return req, nil
}

func (m *Media) still(w http.ResponseWriter, r *http.Request) error {
	g, req, err := m.viewerStill(r)
	if err != nil {
		return err
	}
	st, err := m.Stills.Get(r.Context(), g, req)
	if err != nil {
		return notFoundUnless(err)
	}
	// A still is a sessionless view, like HLS: a tile refreshing every few
	// seconds is one history line per viewer per audit.SessionGap, not two
	// fsynced writes per picture (which capped stills at ~200/s and starved
	// every other write at the store's gate).
	if err := m.Record.Seen(g, "still", r.RemoteAddr); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Length", strconv.Itoa(len(st.JPEG)))
	h.Set("X-Still-Captured", st.Captured.UTC().Format(time.RFC3339Nano))
	h.Set("X-Still-Source", st.Source)
	h.Set("X-Still-Fallback", strconv.FormatBool(st.Fallback))
	n, _ := w.Write(st.JPEG)
	m.metrics.bytes.WithLabelValues("still").Add(float64(n))
	return nil
}

// upload keeps a camera's still. With ?event=KIND (motion, sound, person,
// ring) it also marks an event of the camera now, the still its thumbnail
// (when it is small enough for one), and answers with the event.
func (m *Media) upload(w http.ResponseWriter, r *http.Request) error {
	device, err := camera(m.Accounts, r)
	if err != nil {
		return err
	}
	stream, err := streamParam(r)
	if err != nil {
		return err
	}
	kind := record.EventKind(r.URL.Query().Get("event"))
	if kind != "" && (m.Events == nil || !kind.Valid()) {
		return httpError(http.StatusBadRequest, "event must be motion, sound, person or ring, with recording on", nil)
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, maxUploadBody)
	var data []byte
	if kind != "" {
		if data, err = io.ReadAll(body); err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	if err := m.Stills.Upload(r.Context(), device, stream, body); err != nil {
		return err
	}
	if kind == "" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if len(data) > record.MaxThumb {
		data = nil // the camera's still is taken instead
	}
	e, err := m.Events.Mark(r.Context(), device, record.Event{Kind: kind, Start: time.Now()}, data)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, viewOf(e, nil))
}

func (m *Media) mjpeg(w http.ResponseWriter, r *http.Request) error {
	g, req, err := m.viewerStill(r)
	if err != nil {
		return err
	}
	fps := 2.0
	if s := r.URL.Query().Get("fps"); s != "" {
		if fps, err = strconv.ParseFloat(s, 64); err != nil || fps < 0.1 || fps > 30 {
			return httpError(http.StatusBadRequest, "fps must be between 0.1 and 30", nil)
		}
	}
	release, err := m.takeOutput(g)
	if err != nil {
		return err
	}
	defer release()
	// The first frame is fetched before any header is written, so an
	// offline or forbidden camera still gets a proper status.
	if _, err := m.Stills.Get(r.Context(), g, req); err != nil {
		return notFoundUnless(err)
	}
	rec, err := m.Record.Start(g, "mjpeg", r.RemoteAddr)
	if err != nil {
		return err
	}
	defer rec.End()
	w.Header().Set("Content-Type", fmt.Sprintf("multipart/x-mixed-replace; boundary=%s", stills.Boundary))
	w.Header().Set("Cache-Control", "private, no-store")
	viewers := m.metrics.viewers.WithLabelValues("mjpeg")
	viewers.Inc()
	defer viewers.Dec()
	rc := http.NewResponseController(w)
	out := countingWriter{w, m.metrics.bytes.WithLabelValues("mjpeg"), rec}
	err = m.Stills.MJPEG(r.Context(), io.Writer(out), func() { rc.Flush() }, g, req, fps)
	m.Logger.Debug("mjpeg viewer ended", "camera", g.Device(), "user", g.User(), "reason", err)
	return nil
}
