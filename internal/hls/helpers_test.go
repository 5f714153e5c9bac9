package hls

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/prometheus/client_golang/prometheus"

	"vigil/internal/access"
	"vigil/internal/hub"
	"vigil/internal/media"
	"vigil/internal/testkit/simcam"
)

var (
	issuer = access.NewIssuer()
	secret = []byte("hls test secret")
)

const (
	fps = 15
	gop = 15 // one keyframe a second
)

func grant(d access.DeviceID) access.Grant {
	return issuer.Mint("u1", d, access.AudienceWeb, time.Hour)
}

// testLogger logs warnings and errors to the test.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// publish feeds a stamped simulated camera into a hub in real time:
// H.264 at 15 fps with a keyframe every second, plus, if audio is set, a
// track of that format (G.711 or AAC) with a unit per 20 ms (G.711) or per
// AAC frame. It stops when the test ends or the publisher is replaced.
func publish(t *testing.T, h *hub.Hub, device access.DeviceID, stream access.StreamID, w, ht int, audio format.Format) *simcam.Feed {
	t.Helper()
	cam := simcam.New(t, simcam.Config{ID: string(device), Secret: secret, Width: w, Height: ht, FPS: fps, GOP: gop})
	f := simcam.Publish(t, h, device, stream, cam, silence(audio))
	if err := f.Frame(); err != nil {
		t.Fatal(err)
	}
	f.Live(t)
	return f
}

// silence is a silent track of format a, or nil without one.
func silence(a format.Format) *simcam.Audio {
	if a == nil {
		return nil
	}
	track := &media.Track{Kind: media.Audio, Format: a}
	switch a.(type) {
	case *format.MPEG4Audio:
		return &simcam.Audio{Track: track, Frames: [][]byte{{0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c}}, // a silent AAC-LC frame
			Dur: media.ClockToDuration(1024, int64(a.ClockRate()))}
	default: // G.711
		return &simcam.Audio{Track: track, Frames: [][]byte{make([]byte, 160)}, Dur: 20 * time.Millisecond}
	}
}

// fixture is a hub with cameras and an HTTP server in front of a Manager.
type fixture struct {
	h    *hub.Hub
	hreg *prometheus.Registry
	m    *Manager
	srv  *httptest.Server
}

// newFixture starts a hub, a Manager and a server. Routes:
//
//	/g/{device}/{variant}.m3u8                  Multivariant with a grant for device
//	/g/{device}/{stream}/{variant}/{file}       ServeFile with a grant for device
func newFixture(t *testing.T, cfg *Config) *fixture {
	t.Helper()
	reg := prometheus.NewRegistry()
	h := hub.New(hub.Config{Logger: testLogger(t), Metrics: hub.NewMetrics(reg)})
	if cfg == nil {
		cfg = &Config{}
	}
	cfg.Hub = h
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	m, err := New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /g/{device}/{mv}", func(w http.ResponseWriter, r *http.Request) {
		d, err := access.ParseDeviceID(r.PathValue("device"))
		v, err2 := ParseVariant(strings.TrimSuffix(r.PathValue("mv"), ".m3u8"))
		if err != nil || err2 != nil {
			http.NotFound(w, r)
			return
		}
		gw := &guard{ResponseWriter: w}
		respond(t, gw, m.Multivariant(gw, r, grant(d), []access.StreamID{access.StreamMain, access.StreamSub}, v))
	})
	mux.HandleFunc("GET /g/{device}/{stream}/{variant}/{file}", func(w http.ResponseWriter, r *http.Request) {
		d, err := access.ParseDeviceID(r.PathValue("device"))
		s, err2 := access.ParseStreamID(r.PathValue("stream"))
		v, err3 := ParseVariant(r.PathValue("variant"))
		if err != nil || err2 != nil || err3 != nil {
			http.NotFound(w, r)
			return
		}
		gw := &guard{ResponseWriter: w}
		respond(t, gw, m.ServeFile(gw, r, grant(d), s, v, r.PathValue("file")))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		m.Close()
		srv.Close()
	})
	return &fixture{h: h, hreg: reg, m: m, srv: srv}
}

func (f *fixture) url(path string) string { return f.srv.URL + path }

// guard is a ResponseWriter that notes whether the Manager wrote to it.
type guard struct {
	http.ResponseWriter
	touched bool
}

func (g *guard) WriteHeader(code int) { g.touched = true; g.ResponseWriter.WriteHeader(code) }

func (g *guard) Write(p []byte) (int, error) {
	g.touched = true
	return g.ResponseWriter.Write(p)
}

// untouched reports whether nothing was written to g, headers included.
func (g *guard) untouched() bool { return !g.touched && len(g.Header()) == 0 }

// statuses stand in for the caller's table (httpapi's clientErrors, tested
// there): the status a test sees names the error the Manager returned.
var statuses = []struct {
	err  error
	code int
	msg  string // empty: no body at all
}{
	{ErrRefused, http.StatusForbidden, ""},
	{ErrNoFile, http.StatusNotFound, ""},
	{ErrOffline, http.StatusServiceUnavailable, "camera offline"},
	{ErrNotReady, http.StatusServiceUnavailable, "camera has sent no picture yet"},
	{ErrIdle, http.StatusServiceUnavailable, "stream restarting, retry"},
	{ErrStalled, http.StatusServiceUnavailable, "stream restarting, retry"},
	{ErrClosed, http.StatusServiceUnavailable, "shutting down"},
	{ErrUnsupported, http.StatusNotFound, "variant not available for this camera"},
	{ErrNoTracks, http.StatusNotFound, "variant not available for this camera"},
	{ErrBadRequest, http.StatusBadRequest, "bad request"},
}

// respond answers a request the Manager failed with err, after checking
// that the Manager wrote nothing of its own.
func respond(t *testing.T, w *guard, err error) {
	if err == nil {
		return
	}
	if !w.untouched() {
		t.Errorf("the Manager wrote to the response and returned %v", err)
		return
	}
	code, msg := http.StatusInternalServerError, "internal error"
	for _, s := range statuses {
		if errors.Is(err, s.err) {
			code, msg = s.code, s.msg
			break
		}
	}
	if msg == "" {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(code)
		return
	}
	http.Error(w, msg, code)
}

// serveRecorded serves a file straight into a recorder; on an error it
// checks that the Manager wrote nothing.
func (f *fixture) serveRecorded(t *testing.T, g access.Grant, s access.StreamID, v Variant, file string) (*httptest.ResponseRecorder, error) {
	t.Helper()
	rec := httptest.NewRecorder()
	gw := &guard{ResponseWriter: rec}
	err := f.m.ServeFile(gw, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/x", nil), g, s, v, file)
	if err != nil && (!gw.untouched() || rec.Body.Len() != 0) {
		t.Errorf("ServeFile wrote %d bytes (headers %v) and returned %v", rec.Body.Len(), rec.Header(), err)
	}
	return rec, err
}

// get fetches u and returns the status and body.
func get(t *testing.T, u string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", u, err)
	}
	return resp.StatusCode, b
}

// mustGet fetches u and fails the test unless it answers 200.
func mustGet(t *testing.T, u string) []byte {
	t.Helper()
	code, b := get(t, u)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %q", u, code, b)
	}
	return b
}

func resolve(base, ref string) string {
	b, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		panic(err)
	}
	return b.ResolveReference(r).String()
}

// --- A small playlist parser written from RFC 8216 and its LL-HLS update
// (draft-pantos-hls-rfc8216bis), independent of gohlslib's. ---

// tag is one "#EXT..." line: its name and its value, parsed as an attribute
// list (§4.2) when it has one.
type tag struct {
	name  string
	value string
	attrs map[string]string
}

// segment is a Media Segment: the tags before its URI line.
type segment struct {
	seq      int
	duration float64 // EXTINF
	uri      string
	gap      bool
	parts    []part
	pdt      time.Time // EXT-X-PROGRAM-DATE-TIME, if given
}

type part struct {
	duration    float64
	uri         string
	independent bool
}

type mediaPlaylist struct {
	tags      map[string][]tag // every tag, in order, by name
	version   int
	target    int // EXT-X-TARGETDURATION
	msn       int // EXT-X-MEDIA-SEQUENCE
	mapURI    string
	segments  []segment
	tailParts []part // parts after the last segment (of the segment in progress)
	partTgt   float64
	hint      *tag
}

type variantStream struct {
	attrs map[string]string
	uri   string
}

type parsedMultivariant struct {
	tags     map[string][]tag
	variants []variantStream
}

// parseAttrs parses an attribute list (§4.2): AttributeName=AttributeValue
// pairs separated by commas, quoted strings kept without their quotes.
func parseAttrs(s string) (map[string]string, error) {
	m := map[string]string{}
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("attribute list %q: no name", s)
		}
		name := s[:eq]
		for _, c := range name {
			if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return nil, fmt.Errorf("attribute name %q: bad character %q", name, c)
			}
		}
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("attribute %s: unterminated quoted string", name)
			}
			val, s = s[1:1+end], s[2+end:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("attribute %s repeated", name)
		}
		m[name] = val
		if s != "" {
			if s[0] != ',' {
				return nil, fmt.Errorf("attribute %s: junk %q after value", name, s)
			}
			s = s[1:]
		}
	}
	return m, nil
}

func lines(b []byte) ([]string, error) {
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	var out []string
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if len(out) == 0 || out[0] != "#EXTM3U" {
		return nil, fmt.Errorf("playlist does not start with #EXTM3U (§4.3.1.1)")
	}
	return out, sc.Err()
}

// attrTags are the tags whose value is an attribute list.
var attrTags = map[string]bool{
	"EXT-X-STREAM-INF": true, "EXT-X-MEDIA": true, "EXT-X-MAP": true, "EXT-X-PART": true,
	"EXT-X-PART-INF": true, "EXT-X-SERVER-CONTROL": true, "EXT-X-PRELOAD-HINT": true,
	"EXT-X-SKIP": true, "EXT-X-RENDITION-REPORT": true,
}

func parseTag(l string) (tag, error) {
	name, value, _ := strings.Cut(l[1:], ":")
	tg := tag{name: name, value: value}
	if attrTags[name] {
		a, err := parseAttrs(value)
		if err != nil {
			return tg, fmt.Errorf("%s: %w", name, err)
		}
		tg.attrs = a
	}
	return tg, nil
}

func parseMedia(b []byte) (*mediaPlaylist, error) {
	ls, err := lines(b)
	if err != nil {
		return nil, err
	}
	p := &mediaPlaylist{tags: map[string][]tag{}, target: -1}
	var cur segment
	haveInf := false
	for _, l := range ls[1:] {
		switch {
		case l == "":
		case strings.HasPrefix(l, "#EXT"):
			tg, err := parseTag(l)
			if err != nil {
				return nil, err
			}
			p.tags[tg.name] = append(p.tags[tg.name], tg)
			switch tg.name {
			case "EXT-X-STREAM-INF":
				return nil, fmt.Errorf("a media playlist holds EXT-X-STREAM-INF (§4.1: a playlist is media or multivariant, not both)")
			case "EXT-X-VERSION":
				p.version, err = strconv.Atoi(tg.value)
			case "EXT-X-TARGETDURATION":
				p.target, err = strconv.Atoi(tg.value) // §4.3.3.1: decimal-integer
			case "EXT-X-MEDIA-SEQUENCE":
				p.msn, err = strconv.Atoi(tg.value)
			case "EXT-X-MAP":
				p.mapURI = tg.attrs["URI"]
			case "EXT-X-GAP":
				cur.gap = true
			case "EXT-X-PROGRAM-DATE-TIME":
				cur.pdt, err = time.Parse(time.RFC3339Nano, tg.value)
			case "EXTINF":
				d, _, _ := strings.Cut(tg.value, ",")
				cur.duration, err = strconv.ParseFloat(d, 64)
				haveInf = true
			case "EXT-X-PART":
				var pt part
				pt.duration, err = strconv.ParseFloat(tg.attrs["DURATION"], 64)
				pt.uri = tg.attrs["URI"]
				pt.independent = tg.attrs["INDEPENDENT"] == "YES"
				cur.parts = append(cur.parts, pt)
			case "EXT-X-PART-INF":
				p.partTgt, err = strconv.ParseFloat(tg.attrs["PART-TARGET"], 64)
			case "EXT-X-PRELOAD-HINT":
				p.hint = &tg
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", l, err)
			}
		case strings.HasPrefix(l, "#"): // comment
		default:
			if !haveInf {
				return nil, fmt.Errorf("URI %q without EXTINF (§4.3.2.1)", l)
			}
			cur.uri = l
			cur.seq = p.msn + len(p.segments)
			p.segments = append(p.segments, cur)
			cur, haveInf = segment{}, false
		}
	}
	p.tailParts = cur.parts
	return p, nil
}

func parseMultivariant(b []byte) (*parsedMultivariant, error) {
	ls, err := lines(b)
	if err != nil {
		return nil, err
	}
	p := &parsedMultivariant{tags: map[string][]tag{}}
	var pending *tag
	for _, l := range ls[1:] {
		switch {
		case l == "":
		case strings.HasPrefix(l, "#EXT"):
			tg, err := parseTag(l)
			if err != nil {
				return nil, err
			}
			switch tg.name {
			case "EXTINF", "EXT-X-TARGETDURATION", "EXT-X-MEDIA-SEQUENCE", "EXT-X-PART":
				return nil, fmt.Errorf("a multivariant playlist holds the media tag %s", tg.name)
			case "EXT-X-STREAM-INF":
				pending = &tg
			}
			p.tags[tg.name] = append(p.tags[tg.name], tg)
		case strings.HasPrefix(l, "#"):
		default:
			if pending == nil {
				return nil, fmt.Errorf("URI %q not after EXT-X-STREAM-INF", l)
			}
			p.variants = append(p.variants, variantStream{attrs: pending.attrs, uri: l})
			pending = nil
		}
	}
	if pending != nil {
		return nil, fmt.Errorf("EXT-X-STREAM-INF without a URI line (§4.3.4.2)")
	}
	return p, nil
}

// haveFFmpeg skips the test without ffmpeg.
func haveFFmpeg(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	if os.Getenv("VIGIL_SKIP_FFMPEG") != "" {
		t.Skip("VIGIL_SKIP_FFMPEG set")
	}
}

// TestRunStopsTheMuxersWhenItsContextEnds: Run returns when its context
// ends, and from then on the manager serves nothing (ErrClosed).
func TestRunStopsTheMuxersWhenItsContextEnds(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without a hub: no error")
	}
	m, err := New(Config{Hub: hub.New(hub.Config{}), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
	r := httptest.NewRequest("GET", "/index.m3u8", nil)
	err = m.ServeFile(httptest.NewRecorder(), r, grant("cam-aaa"), access.StreamMain, VariantLL, "index.m3u8")
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("a request after Run returned: %v, want ErrClosed", err)
	}
}
