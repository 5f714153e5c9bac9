package certs

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// fileCert is a certificate loaded from files, replaced when they change.
type fileCert struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
	stamp             string // mtimes and sizes when loaded; only watch touches it
}

func loadFiles(certFile, keyFile string) (*fileCert, error) {
	f := &fileCert{certFile: certFile, keyFile: keyFile}
	if err := f.load(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *fileCert) load() error {
	stamp := f.fingerprint()
	c, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	f.stamp = stamp // a pair that fails is tried again when it changes again
	if err != nil {
		return fmt.Errorf("certs: %w: %w; check tls_cert_file and tls_key_file (PEM chain and its key)", ErrNoCertificate, err)
	}
	f.cur.Store(&c)
	return nil
}

// fingerprint changes when either file is replaced or rewritten.
func (f *fileCert) fingerprint() string {
	s := ""
	for _, p := range []string{f.certFile, f.keyFile} {
		if fi, err := os.Stat(p); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return s
}

func (f *fileCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return f.cur.Load(), nil }

// watch reloads the files when they change. A pair that does not load
// (a renewal half written) keeps the old certificate until they change again.
func (f *fileCert) watch(ctx context.Context, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		every = 2 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if f.fingerprint() == f.stamp {
			continue
		}
		if err := f.load(); err != nil {
			log.Warn("certificate files changed but do not load; keeping the old certificate", "error", err)
			continue
		}
		log.Info("certificate reloaded", "cert_file", f.certFile)
	}
}
