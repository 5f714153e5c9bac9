package httpapi

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"vigil/internal/access"
	"vigil/internal/record"
)

// errNoRecording is the one answer for a recording that does not exist, is
// another camera's or epoch's, or did not open: no probing for ids.
var errNoRecording = httpError(http.StatusNotFound, "no such recording", nil)

// errSpanDamaged answers a clip whose span needs a recording that is
// missing or damaged: none of it is served, rather than a file cut short.
var errSpanDamaged = httpError(http.StatusNotFound, "a recording this span needs is missing or damaged; ask for a span around it", nil)

// span is a recorded stretch on the timeline, as the API shows it.
type span struct {
	ID         int64     `json:"id"`
	Stream     string    `json:"stream"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	DurationMS int64     `json:"duration_ms"`
	Size       int64     `json:"size"`
	URL        string    `json:"url"`
}

// timeRange reads ?from and ?to (RFC 3339); they default to the last day.
func timeRange(r *http.Request) (from, to time.Time, err error) {
	q := r.URL.Query()
	to, from = time.Now(), time.Now().Add(-24*time.Hour)
	for _, p := range []struct {
		key string
		t   *time.Time
	}{{"from", &from}, {"to", &to}} {
		if s := q.Get(p.key); s != "" {
			if *p.t, err = time.Parse(time.RFC3339Nano, s); err != nil {
				return from, to, httpError(http.StatusBadRequest, p.key+" must be an RFC 3339 time such as 2026-12-02T13:00:00Z", nil)
			}
		}
	}
	if !from.Before(to) {
		return from, to, httpError(http.StatusBadRequest, "from must be before to", nil)
	}
	return from, to, nil
}

// spans authorizes the request's viewer of the camera in the path and
// returns the recorded spans of ?stream in [?from, ?to) that the viewer
// may see, noting the viewing in the access history.
func (m *Media) spans(r *http.Request) (access.Grant, access.StreamID, []record.Span, error) {
	g, stream, err := m.viewerStream(r)
	if err != nil {
		return g, stream, nil, err
	}
	from, to, err := timeRange(r)
	if err != nil {
		return g, stream, nil, err
	}
	spans, err := m.Recordings.Timeline(r.Context(), g, stream, from, to)
	if err != nil {
		return g, stream, nil, notFoundUnless(err)
	}
	return g, stream, spans, m.Record.Seen(g, "recordings", r.RemoteAddr)
}

// timeline lists the camera's recorded spans of ?stream in [?from, ?to).
func (m *Media) timeline(w http.ResponseWriter, r *http.Request) error {
	g, _, spans, err := m.spans(r)
	if err != nil {
		return err
	}
	out := make([]span, 0, len(spans))
	for _, s := range spans {
		out = append(out, spanOf(g.Device(), s))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"spans": out})
}

// spanOf is the device's recorded span s as the API shows it.
func spanOf(device access.DeviceID, s record.Span) span {
	return span{ID: s.ID, Stream: string(s.Stream), Start: s.Start, End: s.Start.Add(s.Duration),
		DurationMS: s.Duration.Milliseconds(), Size: s.Size,
		URL: fmt.Sprintf("/api/cameras/%s/recordings/%d/video.mp4?stream=%s", device, s.ID, s.Stream)}
}

// recordingMP4 serves a recording, or the part of it between ?start and
// ?end (RFC 3339, cut to whole GOPs), as an MP4 file with Range support.
func (m *Media) recordingMP4(w http.ResponseWriter, r *http.Request) error {
	g, stream, err := m.viewerStream(r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("rec"), 10, 64)
	if err != nil {
		return errNoRecording
	}
	clip, err := m.Recordings.Open(r.Context(), g, id)
	if err != nil {
		return unopened(err, errNoRecording)
	}
	rec := clip.Recording()
	if rec.Stream != stream {
		return errNoRecording
	}
	body, err := clipBody(r, clip)
	if err != nil {
		return err
	}
	return m.serveRecording(w, r, g, clip, "recording", rec.Start, body)
}

// unopened is what a client is told of a recording or thumbnail that did
// not open: answer (404), whether it does not exist, is another camera's
// or epoch's, or is damaged.
func unopened(err error, answer *HTTPError) error {
	if errors.Is(err, record.ErrNotFound) || errors.Is(err, record.ErrIsolation) || errors.Is(err, record.ErrDamaged) {
		return &HTTPError{Code: answer.Code, Msg: answer.Msg, Err: err}
	}
	return notFoundUnless(err)
}

// serveRecording serves body, recorded from start, with Range support and
// src's egress check before every write, noted in the access history as
// output. A player reads a recording in
// many ranged requests (seeking, HLS byte ranges): one viewing session,
// not a history line per request. The status line is held back until the
// first byte is ready: a body whose first read fails (a joined recording
// opened when a Range first reaches it, found missing) is answered with
// unopened's clean 404, not a 206 with no bytes. Once bytes are out, a
// failure ends the response short of its Content-Length, and the server
// closes the connection: nothing is padded.
func (m *Media) serveRecording(w http.ResponseWriter, r *http.Request, g access.Grant, src interface{ Egress(time.Time) error },
	output string, start time.Time, body io.ReadSeeker) error {
	if err := m.Record.Seen(g, output, r.RemoteAddr); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Recording-Start", start.UTC().Format(time.RFC3339Nano))
	out := &egressWriter{ResponseWriter: w, clip: src, bytes: m.metrics.bytes.WithLabelValues("recording").Add}
	in := &failReader{ReadSeeker: body}
	http.ServeContent(out, r, "", start, in)
	if out.held == 0 {
		return nil
	}
	err := out.err
	if err == nil {
		err = in.err // nothing written: a single range, read on this goroutine
	}
	if err != nil {
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified",
			"Content-Disposition", "X-Recording-Start"} {
			h.Del(k)
		}
		return unopened(err, errNoRecording)
	}
	w.WriteHeader(out.held) // a HEAD, or an empty range
	return nil
}

// failReader keeps the first error its reads met (io.EOF aside).
type failReader struct {
	io.ReadSeeker
	err error
}

func (f *failReader) Read(p []byte) (int, error) {
	n, err := f.ReadSeeker.Read(p)
	if err != nil && err != io.EOF && f.err == nil {
		f.err = err
	}
	return n, err
}

// joinedMP4 serves the camera's recordings of ?stream over [?from, ?to)
// as one MP4 file across their boundaries (record.Library.Join), with
// Range support: a player seeks anywhere in the span. A request for the
// whole file checks every recording before its first byte (Joined.Check);
// a Range request opens each recording it reaches before reading it, so a
// seek costs a store round trip for what it touches, not for the span.
func (m *Media) joinedMP4(w http.ResponseWriter, r *http.Request) error {
	g, stream, err := m.viewerStream(r)
	if err != nil {
		return err
	}
	from, to, err := timeRange(r)
	if err != nil {
		return err
	}
	j, err := m.Recordings.Join(r.Context(), g, stream, from, to)
	if err == nil && (r.Header.Get("Range") == "" || r.Header.Get("If-Range") != "") { // may be answered whole
		err = j.Check(r.Context())
	}
	if err != nil {
		return spanRefused(err)
	}
	if r.URL.Query().Get("download") == "1" { // a name of typed values only
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.mp4"`, g.Device(), j.Start.UTC().Format("20060102T150405Z")))
	}
	err = m.serveRecording(w, r, g, j, "recording", j.Start, j.File())
	if errors.Is(err, record.ErrDamaged) {
		return spanRefused(err)
	}
	return err
}

// spanRefused is what a client is told of a join that cannot be served:
// a recording the span needs that is missing or damaged is said so
// (checked before the first byte: a clean answer, not a file cut short).
func spanRefused(err error) error {
	if errors.Is(err, record.ErrDamaged) {
		return &HTTPError{Code: errSpanDamaged.Code, Msg: errSpanDamaged.Msg, Err: err}
	}
	return unopened(err, errNoRecording)
}

// clipBody is the clip cut to ?start and ?end, or the whole of it.
func clipBody(r *http.Request, clip *record.Clip) (io.ReadSeeker, error) {
	q := r.URL.Query()
	if q.Get("start") == "" && q.Get("end") == "" {
		return clip.File(), nil
	}
	rec := clip.Recording()
	from, to := time.Duration(0), rec.Duration
	for _, p := range []struct {
		key string
		d   *time.Duration
	}{{"start", &from}, {"end", &to}} {
		if s := q.Get(p.key); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, httpError(http.StatusBadRequest, p.key+" must be an RFC 3339 time", nil)
			}
			*p.d = t.Sub(rec.Start)
		}
	}
	if from >= to {
		return nil, httpError(http.StatusBadRequest, "start must be before end", nil)
	}
	return clip.Span(from, to), nil
}

// egressWriter runs the clip's egress check right before every write of
// its bytes (invariant 3); on a refusal nothing more is written. It holds
// back a 200 or 206 status line until the first write (see
// serveRecording).
type egressWriter struct {
	http.ResponseWriter
	clip  interface{ Egress(time.Time) error } // *record.Clip, *record.Joined
	bytes func(float64)
	err   error
	held  int  // the status line held back, until the first write
	wrote bool // a status line went out
}

func (e *egressWriter) WriteHeader(code int) {
	if !e.wrote && (code == http.StatusOK || code == http.StatusPartialContent) {
		e.held = code
		return
	}
	e.wrote = true
	e.ResponseWriter.WriteHeader(code)
}

func (e *egressWriter) Write(p []byte) (int, error) {
	if e.err == nil {
		e.err = e.clip.Egress(time.Now())
	}
	if e.err != nil {
		return 0, e.err
	}
	if !e.wrote {
		e.wrote = true
		e.ResponseWriter.WriteHeader(cmp.Or(e.held, http.StatusOK))
		e.held = 0
	}
	n, err := e.ResponseWriter.Write(p)
	e.bytes(float64(n))
	return n, err
}

// vod writes an HLS VOD playlist (RFC 8216 §4.3.3.5 PLAYLIST-TYPE VOD) of
// the camera's recordings of ?stream in [?from, ?to): per recording its
// init segment (EXT-X-MAP) and its GOPs as byte ranges of its video.mp4,
// a discontinuity between recordings. Nothing is re-muxed; the media
// requests go through video.mp4 and its egress check. A stream token in
// the query is kept in the URIs.
func (m *Media) vod(w http.ResponseWriter, r *http.Request) error {
	_, stream, spans, err := m.spans(r)
	if err != nil {
		return err
	}
	q := url.Values{"stream": {string(stream)}}
	if tok := r.URL.Query().Get("token"); tok != "" {
		q.Set("token", tok)
	}
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	w.Header().Set("Cache-Control", "private, no-store")
	_, err = io.WriteString(w, vodPlaylist(spans, q.Encode()))
	return err
}

// vodPlaylist is the playlist of spans; query goes on every URI.
func vodPlaylist(spans []record.Span, query string) string {
	var b strings.Builder
	target := 1
	for _, s := range spans {
		for i := range s.Fragments {
			target = max(target, int(math.Ceil(fragmentDuration(s, i).Seconds())))
		}
	}
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-TARGETDURATION:%d\n", target)
	for n, s := range spans {
		if len(s.Fragments) == 0 {
			continue
		}
		uri := fmt.Sprintf("%d/video.mp4?%s", s.ID, query)
		if n > 0 {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", s.Start.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		fmt.Fprintf(&b, "#EXT-X-MAP:URI=\"%s\",BYTERANGE=\"%d@0\"\n", uri, s.Fragments[0].Offset)
		for i, f := range s.Fragments {
			end := s.Size
			if i+1 < len(s.Fragments) {
				end = s.Fragments[i+1].Offset
			}
			fmt.Fprintf(&b, "#EXTINF:%.3f,\n#EXT-X-BYTERANGE:%d@%d\n%s\n", fragmentDuration(s, i).Seconds(), end-f.Offset, f.Offset, uri)
		}
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return b.String()
}

// fragmentDuration is how long fragment i of s plays.
func fragmentDuration(s record.Span, i int) time.Duration {
	if i+1 < len(s.Fragments) {
		return s.Fragments[i+1].Time - s.Fragments[i].Time
	}
	return s.Duration - s.Fragments[i].Time
}
