package httpapi

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/fmp4"
	"vigil/internal/hls"
	"vigil/internal/hub"
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
	// Record starts a viewing session in the access history; nil records
	// nothing. A viewer whose session cannot be recorded is not served.
	Record  func(g access.Grant, output, remote string) (Recorded, error)
	Logger  *slog.Logger
	metrics *outputMetrics

	hlsMu   sync.Mutex
	hlsSeen map[hlsViewer]time.Time // guarded by hlsMu; last HLS session recorded per viewer
}

// hlsViewer names an HLS viewer: HLS has no sessions, so a viewer is a
// user, camera and client host seen within hlsSessionGap.
type hlsViewer struct {
	user   access.UserID
	device access.DeviceID
	host   string
}

// hlsSessionGap is how long an HLS viewer may be silent and still count as
// the same viewing session.
const hlsSessionGap = time.Minute

// recordHLS records an HLS viewing session on a playlist request, once per
// viewer per hlsSessionGap. Its bytes are not counted.
func (m *Media) recordHLS(g access.Grant, r *http.Request) error {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	k, now := hlsViewer{g.User(), g.Device(), host}, time.Now()
	m.hlsMu.Lock()
	if m.hlsSeen == nil {
		m.hlsSeen = map[hlsViewer]time.Time{}
	}
	last, seen := m.hlsSeen[k]
	m.hlsSeen[k] = now
	if len(m.hlsSeen) > 10000 {
		for v, t := range m.hlsSeen {
			if now.Sub(t) > hlsSessionGap {
				delete(m.hlsSeen, v)
			}
		}
	}
	m.hlsMu.Unlock()
	if seen && now.Sub(last) < hlsSessionGap {
		return nil
	}
	rec, err := m.record(g, "hls", r)
	if err != nil {
		return err
	}
	rec.End()
	return nil
}

type outputMetrics struct {
	viewers *prometheus.GaugeVec
	bytes   *prometheus.CounterVec
}

func newOutputMetrics(reg prometheus.Registerer) *outputMetrics {
	m := &outputMetrics{
		viewers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_http_viewers", Help: "Open long-lived HTTP media responses (MP4, MJPEG).",
		}, []string{"output"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_http_media_bytes_total", Help: "Media bytes written to HTTP viewers.",
		}, []string{"output"}),
	}
	reg.MustRegister(m.viewers, m.bytes)
	return m
}

// routes registers the media routes on mux.
func (m *Media) routes(mux *Router, reg prometheus.Registerer) {
	m.metrics = newOutputMetrics(reg)
	mux.Handle("GET /api/cameras/{id}/live.mp4", serve(m.Logger, m.liveMP4))
	mux.Handle("GET /api/cameras/{id}/hls/index.m3u8", serve(m.Logger, m.multivariant))
	mux.Handle("GET /api/cameras/{id}/hls/{stream}/{variant}/{file}", serve(m.Logger, m.hlsFile))
	mux.Handle("GET /api/cameras/{id}/still.jpg", serve(m.Logger, m.still))
	mux.Handle("PUT /api/cameras/{id}/still.jpg", serve(m.Logger, m.upload))
	mux.Handle("GET /api/cameras/{id}/mjpeg", serve(m.Logger, m.mjpeg))
	if m.WebRTC != nil {
		m.whepRoutes(mux)
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

// Recorded is a viewing session being recorded.
type Recorded interface {
	Add(n int)
	End()
}

type noRecord struct{}

func (noRecord) Add(int) {}
func (noRecord) End()    {}

// record starts the access-history record of a request's viewing session.
func (m *Media) record(g access.Grant, output string, r *http.Request) (Recorded, error) {
	if m.Record == nil {
		return noRecord{}, nil
	}
	rec, err := m.Record(g, output, r.RemoteAddr)
	if err != nil {
		return nil, httpError(http.StatusServiceUnavailable, "viewing is not possible right now", err)
	}
	return rec, nil
}

// countingWriter counts the bytes of a long-lived response.
type countingWriter struct {
	w   http.ResponseWriter
	c   prometheus.Counter
	rec Recorded
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
	g, err := viewerGrant(m.Authn, m.Accounts, r, stream)
	return g, stream, err
}

// viewerStill authorizes the request's viewer of the camera in the path
// and reads the still it asks for.
func (m *Media) viewerStill(r *http.Request) (access.Grant, stills.Request, error) {
	req, err := stillRequest(r)
	if err != nil {
		return access.Grant{}, req, err
	}
	g, err := viewerGrant(m.Authn, m.Accounts, r, req.Stream)
	return g, req, err
}

func (m *Media) liveMP4(w http.ResponseWriter, r *http.Request) error {
	g, stream, err := m.viewerStream(r)
	if err != nil {
		return err
	}
	rd, err := m.Hub.Read(g, stream)
	if err != nil {
		return notFoundUnless(err)
	}
	defer rd.Close()
	rec, err := m.record(g, "mp4", r)
	if err != nil {
		return err
	}
	defer rec.End()
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("Cache-Control", "private, no-store")
	viewers := m.metrics.viewers.WithLabelValues("mp4")
	viewers.Inc()
	defer viewers.Dec()
	rc := http.NewResponseController(w)
	out := countingWriter{w, m.metrics.bytes.WithLabelValues("mp4"), rec}
	err = fmp4.Stream(r.Context(), out, func() { rc.Flush() }, rd)
	m.Logger.Debug("mp4 viewer ended", "camera", g.Device(), "user", g.User(), "reason", err)
	return nil // the response has started: nothing more to say to the client
}

func (m *Media) multivariant(w http.ResponseWriter, r *http.Request) error {
	g, tok, err := viewer(m.Authn, m.Accounts, r, "")
	if err != nil {
		return err
	}
	var streams []access.StreamID
	for _, s := range []access.StreamID{access.StreamMain, access.StreamSub} {
		if tok.Opens(s) { // a token for one stream opens that one only
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
	if err := m.recordHLS(g, r); err != nil {
		return err
	}
	m.HLS.Multivariant(w, r, g, streams, v)
	return nil
}

func (m *Media) hlsFile(w http.ResponseWriter, r *http.Request) error {
	stream, err := access.ParseStreamID(r.PathValue("stream"))
	if err != nil {
		return errNotFound
	}
	g, err := viewerGrant(m.Authn, m.Accounts, r, stream)
	if err != nil {
		return err
	}
	v, err := hls.ParseVariant(r.PathValue("variant"))
	if err != nil {
		return errNotFound
	}
	if strings.HasSuffix(r.PathValue("file"), ".m3u8") {
		if err := m.recordHLS(g, r); err != nil {
			return err
		}
	}
	m.HLS.ServeFile(w, r, g, stream, v, r.PathValue("file"))
	return nil
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
	rec, err := m.record(g, "still", r)
	if err != nil {
		return err
	}
	defer rec.End()
	rec.Add(len(st.JPEG))
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

func (m *Media) upload(w http.ResponseWriter, r *http.Request) error {
	device, err := camera(m.Accounts, r)
	if err != nil {
		return err
	}
	stream, err := streamParam(r)
	if err != nil {
		return err
	}
	body := http.MaxBytesReader(w, r.Body, maxUploadBody)
	if err := m.Stills.Upload(r.Context(), device, stream, body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
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
	// The first frame is fetched before any header is written, so an
	// offline or forbidden camera still gets a proper status.
	if _, err := m.Stills.Get(r.Context(), g, req); err != nil {
		return notFoundUnless(err)
	}
	rec, err := m.record(g, "mjpeg", r)
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
