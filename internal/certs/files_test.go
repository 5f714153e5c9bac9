package certs

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"vigil/internal/certs/pebbletest"
)

// TestFilesReloadOnChange: tls: files serves the files' certificate, the
// new one soon after they are replaced, and keeps it when a broken pair
// is written.
func TestFilesReloadOnChange(t *testing.T) {
	ca := pebbletest.NewCA(t)
	dir := t.TempDir()
	certPath, keyPath := ca.Leaf(t, dir, 10, "cams.example.com")
	m, err := New(Config{CertFile: certPath, KeyFile: keyPath, ReloadInterval: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.Run(ctx)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	tl := tls.NewListener(l, m.TLSConfig())
	defer tl.Close()
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	serial := func() int64 {
		c, err := served(l.Addr().String(), "cams.example.com", ca.Pool())
		if err != nil {
			t.Fatal(err)
		}
		return c.SerialNumber.Int64()
	}
	if s := serial(); s != 10 {
		t.Fatalf("serial %d, want 10", s)
	}
	time.Sleep(20 * time.Millisecond) // a new mtime
	ca.Leaf(t, dir, 11, "cams.example.com")
	waitSerial := func(want int64) {
		for deadline := time.Now().Add(5 * time.Second); serial() != want; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("serial %d, want %d", serial(), want)
			}
		}
	}
	waitSerial(11)
	os.WriteFile(certPath, []byte("half written"), 0o600)
	time.Sleep(300 * time.Millisecond)
	if s := serial(); s != 11 {
		t.Fatalf("after a broken write: serial %d, want the old 11", s)
	}
	if _, err := New(Config{CertFile: certPath, KeyFile: keyPath}); err == nil {
		t.Fatal("New accepted a broken certificate file")
	}
}
