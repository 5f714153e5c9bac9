package rtsp

import (
	"context"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"

	"vigil/internal/access"
)

// badClientCase is one misbehaving raw TCP client. The good camera is
// publishing and being read while it runs.
type badClientCase struct {
	name string
	run  func(t *testing.T, e *env, lc *logCapture)
}

// The paths the bad clients aim at: a known camera that is not publishing,
// and the good camera that is.
const (
	badCam  access.DeviceID = "cam-bad"
	goodCam access.DeviceID = "cam-good"
)

func badClientCases() []badClientCase {
	url := func(e *env, d access.DeviceID) string { return "rtsp://" + e.addr + "/" + string(d) }
	return []badClientCase{
		{"malformed request line: wrong protocol", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			c.write([]byte("DESCRIBE " + url(e, badCam) + " RTSP/2.0\r\nCSeq: 1\r\n\r\n"))
			c.mustClose()
		}},
		{"malformed request line: bad URL", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			c.write([]byte("DESCRIBE http://[::1/cam-bad RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
			c.mustClose()
		}},
		{"malformed request line: no URL", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			c.write([]byte("DESCRIBE RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
			c.mustClose()
		}},
		{"oversized URL", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			c.write([]byte("DESCRIBE " + url(e, badCam) + "/" + strings.Repeat("a", 4096) + " RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
			c.mustClose()
		}},
		{"oversized header value", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			c.write([]byte("OPTIONS " + url(e, badCam) + " RTSP/1.0\r\nCSeq: 1\r\nX-Big: " +
				strings.Repeat("x", 64<<10) + "\r\n\r\n"))
			c.mustClose()
		}},
		{"too many headers", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			var b strings.Builder
			b.WriteString("OPTIONS " + url(e, badCam) + " RTSP/1.0\r\nCSeq: 1\r\n")
			for i := range 1000 {
				fmt.Fprintf(&b, "X-H%d: v\r\n", i)
			}
			b.WriteString("\r\n")
			c.write([]byte(b.String()))
			c.mustClose()
		}},
		{"1 MB Content-Length", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			// Only the header is sent: the server must refuse the size, not wait for the body.
			c.write([]byte("ANNOUNCE " + url(e, badCam) + " RTSP/1.0\r\nCSeq: 1\r\n" +
				"Content-Type: application/sdp\r\nContent-Length: 1048576\r\n\r\n"))
			c.mustClose()
		}},
		{"unknown method", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			c.expect(base.StatusNotImplemented, "REDIRECT", url(e, badCam))
			// The connection still works.
			c.expect(base.StatusOK, "OPTIONS", url(e, badCam))
		}},
		{"unknown method that reads as garbage", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			c.write([]byte("FROB " + url(e, badCam) + " RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
			res, err := c.read()
			if err == nil && res.StatusCode < 400 {
				t.Fatalf("FROB got %d", res.StatusCode)
			}
			if err == nil {
				c.mustClose()
			}
		}},
		{"no CSeq", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			c.write([]byte("OPTIONS " + url(e, badCam) + " RTSP/1.0\r\n\r\n"))
			c.expectRead(base.StatusBadRequest)
			c.mustClose()
		}},
		{"two CSeq", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			c.write([]byte("OPTIONS " + url(e, badCam) + " RTSP/1.0\r\nCSeq: 1\r\nCSeq: 2\r\n\r\n"))
			c.expectRead(base.StatusBadRequest)
			c.mustClose()
		}},
		{"garbage bytes, then a request", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			c.write(garbage(8 << 10))
			// The server skips what is not a request and answers the next one.
			c.expect(base.StatusOK, "OPTIONS", url(e, badCam))
		}},
		{"garbage bytes that look like a response", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			c.write([]byte("RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n"))
			c.mustClose()
		}},
		{"interleaved frame before any session", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			frame := append([]byte{'$', 0, 0, 12}, garbage(12)...)
			c.write(frame)
			c.mustClose()
		}},
		{"interleaved frame after a DESCRIBE, before SETUP", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			ch := c.challenge(url(e, goodCam))
			c.expect(base.StatusOK, "DESCRIBE", url(e, goodCam),
				digestAuth("DESCRIBE", url(e, goodCam), "admin", "secret", ch.Nonce))
			c.write(append([]byte{'$', 1, 0x05, 0xdc}, garbage(1500)...))
			c.mustClose()
		}},
		{"malformed Authorization", func(t *testing.T, e *env, _ *logCapture) {
			for _, h := range malformedAuthorization {
				c := dialRaw(t, e.addr)
				c.challenge(url(e, badCam))
				c.expect(base.StatusUnauthorized, "DESCRIBE", url(e, badCam), h)
				// TestMalformedAuthorization checks the challenge and the log.
			}
		}},
		{"Digest with the wrong password", func(t *testing.T, e *env, lc *logCapture) {
			c := dialRaw(t, e.addr)
			ch := c.challenge(url(e, badCam))
			if ch.Realm != "vigil" || ch.Nonce == "" {
				t.Fatalf("challenge %+v", ch)
			}
			c.expect(base.StatusUnauthorized, "DESCRIBE", url(e, badCam),
				digestAuth("DESCRIBE", url(e, badCam), "admin", "wrong", ch.Nonce))
			c.mustClose()
			if _, ok := lc.wait("rtsp viewer refused", badCam, 2*time.Second); !ok {
				t.Error("no log line names the camera")
			}
		}},
		{"camera publishing with the wrong password", func(t *testing.T, e *env, lc *logCapture) {
			c := dialRaw(t, e.addr)
			ch := c.challenge(url(e, badCam))
			c.expect(base.StatusUnauthorized, "ANNOUNCE", url(e, badCam),
				digestAuth("ANNOUNCE", url(e, badCam), string(badCam), "pw-cam-good", ch.Nonce))
			c.mustClose()
			if _, ok := lc.wait("rtsp camera refused", badCam, 2*time.Second); !ok {
				t.Error("no log line names the camera")
			}
		}},
		{"viewer Digest for another camera replayed", func(t *testing.T, e *env, lc *logCapture) {
			c := dialRaw(t, e.addr)
			ch := c.challenge(url(e, goodCam))
			auth := digestAuth("DESCRIBE", url(e, goodCam), "admin", "secret", ch.Nonce)
			c.expect(base.StatusOK, "DESCRIBE", url(e, goodCam), auth)
			// Same connection, same nonce, a valid response — for the other path.
			// 404 would mean the credential was accepted (cam-bad is offline).
			c.expect(base.StatusUnauthorized, "DESCRIBE", url(e, badCam), auth)
			c.mustClose()
			if _, ok := lc.wait("rtsp viewer refused", badCam, 2*time.Second); !ok {
				t.Error("no log line names the camera")
			}
		}},
		{"viewer Digest replayed on a new connection", func(t *testing.T, e *env, _ *logCapture) {
			c := dialRaw(t, e.addr)
			ch := c.challenge(url(e, goodCam))
			auth := digestAuth("DESCRIBE", url(e, goodCam), "admin", "secret", ch.Nonce)
			c.expect(base.StatusOK, "DESCRIBE", url(e, goodCam), auth)
			c2 := dialRaw(t, e.addr)
			c2.expect(base.StatusUnauthorized, "DESCRIBE", url(e, goodCam), auth)
			c2.mustClose()
		}},
		{"camera Digest for another camera replayed", func(t *testing.T, e *env, lc *logCapture) {
			for _, make := range []func(nonce string) string{
				// cam-good's valid response for cam-good's path.
				func(n string) string {
					return digestAuth("ANNOUNCE", url(e, goodCam), string(goodCam), "pw-cam-good", n)
				},
				// cam-good's credential for cam-bad's path.
				func(n string) string {
					return digestAuth("ANNOUNCE", url(e, badCam), string(goodCam), "pw-cam-good", n)
				},
				// cam-bad's name with cam-good's password.
				func(n string) string {
					return digestAuth("ANNOUNCE", url(e, badCam), string(badCam), "pw-cam-good", n)
				},
			} {
				c := dialRaw(t, e.addr)
				ch := c.challenge(url(e, badCam))
				res, err := c.request("ANNOUNCE", url(e, badCam), make(ch.Nonce))
				c.mustStatus(res, err, base.StatusUnauthorized)
				c.mustClose()
			}
			if _, ok := lc.wait("rtsp camera refused", badCam, 2*time.Second); !ok {
				t.Error("no log line names the camera")
			}
			if e.hub.Online(badCam, access.StreamMain) {
				t.Fatal("cam-bad is online")
			}
		}},
		{"Basic auth with the right password", func(t *testing.T, e *env, lc *logCapture) {
			c := dialRaw(t, e.addr)
			basic := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("admin:secret"))
			c.expect(base.StatusUnauthorized, "DESCRIBE", url(e, badCam), basic)
			c.mustClose()
			if _, ok := lc.wait("rtsp viewer refused", badCam, 2*time.Second); !ok {
				t.Error("no log line names the camera")
			}
			c = dialRaw(t, e.addr)
			basic = "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("cam-bad:pw-cam-bad"))
			c.expect(base.StatusUnauthorized, "ANNOUNCE", url(e, badCam), basic)
			c.mustClose()
			if e.hub.Online(badCam, access.StreamMain) {
				t.Fatal("cam-bad is online")
			}
		}},
	}
}

// malformedAuthorization are Authorization headers that do not parse, or
// parse to no user name.
var malformedAuthorization = []string{
	`Authorization: Digest`,
	`Authorization: Digest username="admin"`,
	`Authorization: Digest username="admin", realm="vigil", nonce=, uri="x", response="`,
	`Authorization: Digest username="admin", realm="vigil", nonce="n", uri="/cam-bad", response="r", algorithm="SHA-512"`,
	`Authorization: Digest username="", realm="vigil", nonce="n", uri="/cam-bad", response="r"`,
	`Authorization: Basic !!!notbase64`,
	`Authorization: Basic Onc=`, // ":w", an empty user
	`Authorization: Negotiate abc`,
	`Authorization: ` + strings.Repeat(`Digest `, 200),
}

// TestMalformedAuthorization sends DESCRIBE and ANNOUNCE with Authorization
// headers that do not parse. Each must get a 401 with Vigil's own Digest
// challenge (realm "vigil", this connection's nonce, no Basic offered), or a
// closed connection, and a log line naming the camera.
func TestMalformedAuthorization(t *testing.T) {
	t.Parallel()
	e, lc := startLogged(t, badCam)
	for _, method := range []string{"DESCRIBE", "ANNOUNCE"} {
		for _, h := range malformedAuthorization {
			t.Run(method+" "+h[:min(len(h), 60)], func(t *testing.T) {
				c := dialRaw(t, e.addr)
				u := "rtsp://" + e.addr + "/cam-bad"
				nonce := c.challenge(u).Nonce
				before := lc.countFor("refused", badCam)
				res := c.expect(base.StatusUnauthorized, method, u, h)
				closed := c.closedWithin(200 * time.Millisecond)
				if lc.countFor("refused", badCam) == before {
					t.Error("no log line names the camera")
				}
				if closed {
					return
				}
				v := strings.Join(res.Header["WWW-Authenticate"], " | ")
				if !strings.Contains(v, `realm="vigil"`) || !strings.Contains(v, `nonce="`+nonce+`"`) || strings.Contains(v, "Basic") {
					t.Errorf("connection kept open and re-challenged with %s; want Digest realm=\"vigil\" nonce=%q", v, nonce)
				}
			})
		}
	}
}

// garbage is n pseudo-random bytes with nothing a parser could take for the
// start of a request, a response or an interleaved frame.
func garbage(n int) []byte {
	r := mrand.New(mrand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		for {
			c := byte(r.UintN(256))
			if c != '$' && (c < 'A' || c > 'Z') {
				b[i] = c
				break
			}
		}
	}
	return b
}

// TestBadClientsDoNotDisturbOtherCamera runs every bad client, round after
// round, while a good camera publishes and ffmpeg reads it; the reader must
// decode every frame without an error and the good camera's session must
// survive.
func TestBadClientsDoNotDisturbOtherCamera(t *testing.T) {
	t.Parallel()
	e, lc := startLogged(t, goodCam, badCam)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := publishFFmpeg(ctx, t, "rtsp://cam-good:pw-cam-good@"+e.addr+"/cam-good", "tcp")
	waitOnline(t, e.hub, goodCam, stderr)
	hr := hubReader(t, e.hub, goodCam)
	session := hr.Owner().Session
	read := startRead(ctx, t, "rtsp://admin:secret@"+e.addr+"/cam-good", 125)

	deadline := time.Now().Add(40 * time.Second)
	for round := 1; round == 1 || !read.finished(); round++ {
		if time.Now().After(deadline) {
			t.Fatal("the good reader did not finish")
		}
		for _, c := range badClientCases() {
			if !t.Run(fmt.Sprintf("%d/%s", round, c.name), func(t *testing.T) { c.run(t, e, lc) }) {
				t.FailNow()
			}
		}
	}
	read.check(t, "cam-good")
	if s := e.hub.Online(goodCam, access.StreamMain); !s {
		t.Fatal("cam-good went offline")
	}
	ctx2, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	if _, err := hr.Next(ctx2); err != nil {
		t.Fatalf("cam-good's hub reader ended: %v", err)
	}
	if hubReader(t, e.hub, goodCam).Owner().Session != session {
		t.Fatal("cam-good's publisher session changed")
	}
	if n := lc.count("camera disconnected"); n != 0 {
		t.Fatalf("%d camera sessions ended:\n%s", n, lc)
	}
}
