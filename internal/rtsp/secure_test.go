package rtsp

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// testTLS is a server configuration with a fresh self-signed certificate
// for 127.0.0.1.
func testTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// writeCounter counts the writes made on the connections it accepts.
type writeCounter struct {
	net.Listener
	writes atomic.Int64
}

func (l *writeCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: c, n: &l.writes}, nil
}

type countedConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// TestSecureFrameLeavesInOneWrite: a frame larger than several TLS
// records, written to an RTSPS viewer, reaches the socket in one write
// (crypto/tls writes each record of at most 16 KiB on its own: plain RTSP
// made one write per frame and RTSPS two to a dozen), and the viewer reads
// it whole.
func TestSecureFrameLeavesInOneWrite(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counter := &writeCounter{Listener: raw}
	l := TLSListener(counter, testTLS(t))
	defer l.Close()

	client := make(chan *tls.Conn, 1)
	go func() {
		c, err := tls.Dial("tcp", raw.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Error(err)
			close(client)
			return
		}
		client <- c
	}()
	sc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.(*tls.Conn).Handshake(); err != nil {
		t.Fatal(err)
	}
	cc := <-client
	if cc == nil {
		t.FailNow()
	}
	defer cc.Close()
	f := admit(sc, true, nil, 0, nil)

	// Three packets of 20 KB: 60 KB, four records at least.
	unit := net.Buffers{interleaved(false, 20000), interleaved(false, 20000), interleaved(true, 20000)}
	var want []byte
	for _, b := range unit {
		want = append(want, b...)
	}
	for i := range 5 {
		before := counter.writes.Load()
		bufs := append(net.Buffers(nil), unit...)
		if err := f.writeBuffers(&bufs, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if n := counter.writes.Load() - before; n != 1 {
			t.Errorf("frame %d of %d bytes took %d writes to the socket, want 1", i, len(want), n)
		}
		got := make([]byte, len(want))
		cc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(cc, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d arrived changed", i)
		}
	}
}

// TestSecureViewerThatTakesNothingIsClosed: an RTSPS viewer that stops
// reading is dropped once a write has waited WriteTimeout, and counted, as
// a plain one is: batching the records must not lose the write deadline.
func TestSecureViewerThatTakesNothingIsClosed(t *testing.T) { neverReadingViewerDropped(t, true) }
