package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"vigil/internal/certs/pebbletest"
)

// served is the leaf certificate a handshake with name on addr gets, when
// it verifies against roots.
func served(addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: name, RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// TestACMEAgainstPebble: for each challenge type alone, Vigil's manager
// obtains a certificate from Pebble that a client verifying against
// Pebble's root accepts; with HTTP-01 it also renews the short-lived
// certificate before it expires, and port 80's handler redirects to https.
func TestACMEAgainstPebble(t *testing.T) {
	for _, challenge := range []string{"http-01", "tls-alpn-01"} {
		t.Run(challenge, func(t *testing.T) {
			httpL, _ := net.Listen("tcp", "127.0.0.1:0")
			httpsL, _ := net.Listen("tcp", "127.0.0.1:0")
			httpPort, httpsPort := httpL.Addr().(*net.TCPAddr).Port, httpsL.Addr().(*net.TCPAddr).Port
			const validity = 40 * time.Second
			p := pebbletest.Start(t, httpPort, httpsPort, validity)
			m, err := New(Config{ACME: true, Domains: []string{"vigil.test"}, Directory: p.Directory, Roots: p.CARoots,
				Storage: t.TempDir(), HTTPPort: httpPort, TLSPort: httpsPort, RenewCheckInterval: time.Second,
				DisableHTTP01: challenge != "http-01", DisableTLSALPN01: challenge != "tls-alpn-01",
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go m.Run(ctx)
			hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello over tls") })
			httpsSrv := &http.Server{Handler: HSTS(hello)}
			go httpsSrv.Serve(tls.NewListener(httpsL, m.TLSConfig()))
			defer httpsSrv.Close()
			httpSrv := &http.Server{Handler: m.RedirectHandler(httpsPort)}
			go httpSrv.Serve(httpL)
			defer httpSrv.Close()

			var first *x509.Certificate
			for deadline := time.Now().Add(60 * time.Second); first == nil; time.Sleep(200 * time.Millisecond) {
				first, err = served(httpsL.Addr().String(), "vigil.test", p.Roots)
				if time.Now().After(deadline) {
					t.Fatalf("no certificate from pebble: %v", err)
				}
			}
			if first.NotAfter.Sub(first.NotBefore) > validity+time.Minute {
				t.Fatalf("certificate lives %v, want the short validity pebble was given", first.NotAfter.Sub(first.NotBefore))
			}
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: "vigil.test", RootCAs: p.Roots}}}
			res, err := client.Get("https://" + httpsL.Addr().String() + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(body) != "hello over tls" || res.Header.Get("Strict-Transport-Security") == "" {
				t.Fatalf("https answered %q, HSTS %q", body, res.Header.Get("Strict-Transport-Security"))
			}
			if challenge != "http-01" {
				return
			}

			req, _ := http.NewRequest("GET", "http://"+httpL.Addr().String()+"/api/cameras?x=1", nil)
			req.Host = "vigil.test"
			res, err = (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if want := fmt.Sprintf("https://vigil.test:%d/api/cameras?x=1", httpsPort); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != want {
				t.Fatalf("http answered %d %q, want 301 to %q", res.StatusCode, res.Header.Get("Location"), want)
			}

			for deadline := time.Now().Add(validity); ; time.Sleep(500 * time.Millisecond) {
				c, err := served(httpsL.Addr().String(), "vigil.test", p.Roots)
				if err == nil && c.SerialNumber.Cmp(first.SerialNumber) != 0 && c.NotAfter.After(first.NotAfter) {
					return // renewed before the first one expired
				}
				if time.Now().After(deadline) {
					t.Fatalf("certificate not renewed before it expired at %v", first.NotAfter)
				}
			}
		})
	}
}
