package rtsp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/base"
)

// writtenBeforeClose writes prefix, then filler in 64 KiB writes, until
// the server closes the connection or limit bytes are written; it returns
// how many bytes went out.
func writtenBeforeClose(t *testing.T, r *rawConn, prefix []byte, filler byte, limit int) int {
	t.Helper()
	if err := r.write(prefix); err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{filler}, 64<<10)
	n := len(prefix)
	for n < limit {
		r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		w, err := r.c.Write(chunk)
		n += w
		if err != nil {
			break
		}
	}
	return n
}

// TestOversizedFirstRequestRefused: a connection that never ends its
// first request is closed after a bounded number of bytes, whatever it
// pretends to be: an RTSP header over gortsplib's limits, and the HTTP
// request line or header of an RTSP-over-HTTP tunnel (which gortsplib
// reads with no limit: 380 MB went in before the first-request deadline
// ended it). A WebSocket tunnel, whose messages gortsplib reads whole
// with no limit either, is closed too. Socket buffers on loopback hold a
// few MB, hence the 32 MiB margin; without the bound each wrote all 512 MiB.
func TestOversizedFirstRequestRefused(t *testing.T) {
	const limit, bound = 512 << 20, 32 << 20
	e := startWith(t, func(c *Config) { c.FirstRequestTimeout, c.IdleTimeout = 20*time.Second, time.Hour })
	for _, c := range []struct{ name, prefix string }{
		{"RTSP header", "OPTIONS rtsp://x/ RTSP/1.0\r\nCSeq: 1\r\nX-A: "},
		{"tunnel's HTTP header", "GET / HTTP/1.1\r\nAccept: application/x-rtsp-tunnelled\r\nX-A: "},
		{"tunnel's HTTP request line", "GET /"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			if n := writtenBeforeClose(t, dialRaw(t, e.addr), []byte(c.prefix), 'a', limit); n > bound {
				t.Errorf("the server took %d bytes of an unfinished request in %v", n, time.Since(start))
			}
		})
	}
	t.Run("WebSocket tunnel", func(t *testing.T) {
		r := upgradeWebSocket(t, e.addr)
		// One binary frame, masked as a client's must be, of 1 TiB.
		hdr := append([]byte{0x82, 0x80 | 127}, binary.BigEndian.AppendUint64(nil, 1<<40)...)
		if n := writtenBeforeClose(t, r, append(hdr, 0, 0, 0, 0), 'a', limit); n > bound {
			t.Errorf("the server took %d bytes of one WebSocket message", n)
		}
	})
	t.Run("WebSocket tunnel's first request", func(t *testing.T) {
		r := upgradeWebSocket(t, e.addr)
		req := []byte("OPTIONS rtsp://" + e.addr + "/ RTSP/1.0\r\nCSeq: 1\r\n\r\n")
		if err := r.write(append([]byte{0x82, 0x80 | byte(len(req)), 0, 0, 0, 0}, req...)); err != nil {
			t.Fatal(err)
		}
		// gortsplib may answer the request it was reading; then it closes.
		r.c.SetReadDeadline(time.Now().Add(3 * time.Second))
		var ne net.Error
		if _, err := io.Copy(io.Discard, r.br); errors.As(err, &ne) && ne.Timeout() {
			t.Error("a WebSocket tunnel was kept open after its first request")
		}
	})
	// A connection that speaks RTSP is served as before.
	dialRaw(t, e.addr).expect(base.StatusOK, "OPTIONS", "rtsp://"+e.addr+"/")
}

// upgradeWebSocket opens an RTSP-over-WebSocket tunnel (ONVIF's
// rtsp.onvif.org subprotocol) to addr.
func upgradeWebSocket(t *testing.T, addr string) *rawConn {
	t.Helper()
	r := dialRaw(t, addr)
	if err := r.write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Protocol: rtsp.onvif.org\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(r.br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	return r
}
