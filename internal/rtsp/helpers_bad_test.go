package rtsp

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"

	"vigil/internal/access"
	vauth "vigil/internal/auth"
	"vigil/internal/hub"
)

// logRec is one captured log record, its attributes flattened to strings.
type logRec struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// logCapture is a slog.Handler that keeps every record for the test to inspect.
type logCapture struct {
	mu    *sync.Mutex
	recs  *[]logRec
	attrs []slog.Attr
}

func newLogCapture() *logCapture {
	return &logCapture{mu: &sync.Mutex{}, recs: &[]logRec{}}
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	rec := logRec{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range c.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	c.mu.Lock()
	*c.recs = append(*c.recs, rec)
	c.mu.Unlock()
	return nil
}

func (c *logCapture) WithAttrs(as []slog.Attr) slog.Handler {
	n := *c
	n.attrs = append(append([]slog.Attr(nil), c.attrs...), as...)
	return &n
}

func (c *logCapture) WithGroup(string) slog.Handler { return c }

// find returns the first record whose message contains msg and whose
// "camera" attribute is camera.
func (c *logCapture) find(msg string, camera access.DeviceID) (logRec, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range *c.recs {
		if strings.Contains(r.msg, msg) && r.attrs["camera"] == string(camera) {
			return r, true
		}
	}
	return logRec{}, false
}

// wait waits up to d for a record like find's.
func (c *logCapture) wait(msg string, camera access.DeviceID, d time.Duration) (logRec, bool) {
	deadline := time.Now().Add(d)
	for {
		if r, ok := c.find(msg, camera); ok {
			return r, true
		}
		if time.Now().After(deadline) {
			return logRec{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countFor counts records whose message contains msg and that name camera.
func (c *logCapture) countFor(msg string, camera access.DeviceID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range *c.recs {
		if strings.Contains(r.msg, msg) && r.attrs["camera"] == string(camera) {
			n++
		}
	}
	return n
}

func (c *logCapture) count(msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range *c.recs {
		if strings.Contains(r.msg, msg) {
			n++
		}
	}
	return n
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, r := range *c.recs {
		fmt.Fprintf(&b, "%s %q %v\n", r.level, r.msg, r.attrs)
	}
	return b.String()
}

// startLogged is start with every server and hub log line captured.
func startLogged(t *testing.T, cameras ...access.DeviceID) (*env, *logCapture) {
	t.Helper()
	known := map[access.DeviceID]bool{}
	for _, c := range cameras {
		known[c] = true
	}
	lc := newLogCapture()
	log := slog.New(lc)
	h := hub.New(hub.Config{Logger: log})
	var s *Server
	for try := 0; ; try++ {
		rtp := 20000 + 2*mrand.IntN(10000)
		var err error
		s, err = New(Config{Address: "127.0.0.1:0", Hub: h, Auth: fakeAuth{known}, ReadTimeout: 5 * time.Second,
			UDPRTPAddress: fmt.Sprintf("127.0.0.1:%d", rtp), UDPRTCPAddress: fmt.Sprintf("127.0.0.1:%d", rtp+1),
			Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Start()
		if err == nil {
			break
		}
		if try == 20 {
			t.Fatal(err)
		}
	}
	t.Cleanup(s.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", lc)
		}
	})
	return &env{srv: s, hub: h, addr: s.Addr().String()}, lc
}

// rawConn is a hand-written RTSP client.
type rawConn struct {
	t    *testing.T
	addr string
	c    net.Conn
	br   *bufio.Reader
	cseq int
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, addr: addr, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) write(b []byte) error {
	r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := r.c.Write(b)
	return err
}

// read reads one response, waiting at most 5 s.
func (r *rawConn) read() (*base.Response, error) {
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var res base.Response
	if err := res.Unmarshal(r.br); err != nil {
		return nil, err
	}
	return &res, nil
}

// request sends method url with a CSeq and the extra header lines, and
// reads the response.
// An ANNOUNCE carries a valid SDP of one H.264 track.
func (r *rawConn) request(method, url string, hdr ...string) (*base.Response, error) {
	r.cseq++
	msg := fmt.Sprintf("%s %s RTSP/1.0\r\nCSeq: %d\r\n", method, url, r.cseq)
	for _, h := range hdr {
		msg += h + "\r\n"
	}
	if method == "ANNOUNCE" {
		msg += fmt.Sprintf("Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(announceSDP), announceSDP)
	} else {
		msg += "\r\n"
	}
	if err := r.write([]byte(msg)); err != nil {
		return nil, err
	}
	return r.read()
}

func (r *rawConn) mustStatus(res *base.Response, err error, want base.StatusCode) *base.Response {
	r.t.Helper()
	if err != nil {
		r.t.Fatalf("want %d, got error %v", want, err)
	}
	if res.StatusCode != want {
		r.t.Fatalf("want %d, got %d %s", want, res.StatusCode, res.StatusMessage)
	}
	return res
}

// closedWithin reports whether the server closes the connection within d;
// it fails the test if the server sends anything meanwhile.
func (r *rawConn) closedWithin(d time.Duration) bool {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, 512)
	n, err := r.br.Read(b)
	if n > 0 {
		r.t.Fatalf("server sent %q where a close was expected", b[:n])
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil // EOF or reset
}

func (r *rawConn) mustClose() {
	r.t.Helper()
	if !r.closedWithin(3 * time.Second) {
		r.t.Fatal("server kept the connection open")
	}
}

// challenge does an unauthenticated DESCRIBE of url and returns the Digest
// challenge of the 401.
func (r *rawConn) challenge(url string) headers.Authenticate {
	r.t.Helper()
	res := r.expect(base.StatusUnauthorized, "DESCRIBE", url)
	for _, v := range res.Header["WWW-Authenticate"] {
		var a headers.Authenticate
		if a.Unmarshal(base.HeaderValue{v}) == nil && a.Method == headers.AuthMethodDigest {
			return a
		}
	}
	r.t.Fatalf("no Digest challenge in %v", res.Header)
	return headers.Authenticate{}
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// digestAuth is an Authorization header line with an RFC 2617 response made
// from a password, independently of the server's code.
func digestAuth(method, uri, user, pass, nonce string) string {
	ha1 := md5hex(user + ":" + vauth.Realm + ":" + pass)
	resp := md5hex(ha1 + ":" + nonce + ":" + md5hex(method+":"+uri))
	return fmt.Sprintf(`Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s"`,
		user, vauth.Realm, nonce, uri, resp)
}

// bgRead has ffmpeg decode n video frames of url in the background.
type bgRead struct {
	done chan struct{}
	out  string
	err  error
}

func startRead(ctx context.Context, t *testing.T, url string, n int) *bgRead {
	t.Helper()
	needFFmpeg(t)
	r := &bgRead{done: make(chan struct{})}
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-rtsp_transport", "tcp",
		"-i", url, "-frames:v", fmt.Sprint(n), "-f", "null", "-")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.done)
		r.err = cmd.Wait()
		r.out = out.String()
	}()
	t.Cleanup(func() { cmd.Process.Kill(); <-r.done })
	return r
}

func (r *bgRead) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// check waits for the read and fails unless ffmpeg decoded everything cleanly.
func (r *bgRead) check(t *testing.T, what string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(40 * time.Second):
		t.Fatalf("%s: ffmpeg reader never finished", what)
	}
	if r.err != nil || strings.TrimSpace(r.out) != "" {
		t.Fatalf("%s: ffmpeg reader failed: %v\n%s", what, r.err, r.out)
	}
}

// hubReader attaches a hub reader to a camera's main stream with a fresh grant.
func hubReader(t *testing.T, h *hub.Hub, d access.DeviceID) *hub.Reader {
	t.Helper()
	r, err := h.Read(issuer.Mint("admin", d, access.AudienceRTSP, time.Hour), access.StreamMain)
	if err != nil {
		t.Fatalf("read %s: %v", d, err)
	}
	t.Cleanup(r.Close)
	return r
}

func (r *rawConn) expect(want base.StatusCode, method, url string, hdr ...string) *base.Response {
	r.t.Helper()
	res, err := r.request(method, url, hdr...)
	return r.mustStatus(res, err, want)
}

func (r *rawConn) expectRead(want base.StatusCode) *base.Response {
	r.t.Helper()
	res, err := r.read()
	return r.mustStatus(res, err, want)
}

const announceSDP = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=bad\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n" +
	"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\na=control:trackID=0\r\n"
