package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// testCA is a throwaway CA that signs one certificate for 127.0.0.1 and
// localhost: Pebble's own https (and the files-mode tests' certificate).
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vigil test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// leaf writes a certificate for names (and 127.0.0.1) and its key to dir;
// it returns their paths.
func (ca *testCA) leaf(t *testing.T, dir string, serial int64, names ...string) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: names,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	return certPath, keyPath
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freeUDPAndTCPPort finds a port free for both, for the mock DNS server.
func freeUDPAndTCPPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port for DNS")
	return 0
}

// pebble is a Pebble ACME CA on loopback that validates challenges
// against httpPort and tlsPort, resolving every name to 127.0.0.1
// through pebble-challtestsrv's DNS.
type pebble struct {
	directory string
	roots     *x509.CertPool // Pebble's issuing root: what clients verify Vigil with
	caRoots   *x509.CertPool // trusted for the directory's own https
	caPEM     []byte
}

func startPebble(t *testing.T, httpPort, tlsPort int, validity time.Duration) *pebble {
	t.Helper()
	for _, bin := range []string{"pebble", "pebble-challtestsrv"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is missing: run `make test` (scripts/deps.sh installs Debian's pebble package)", bin)
		}
	}
	dir := t.TempDir()
	ca := newTestCA(t)
	certPath, keyPath := ca.leaf(t, dir, 2, "localhost")
	dns := freeUDPAndTCPPort(t)
	start := func(name string, env []string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), env...)
		if testing.Verbose() {
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	start("pebble-challtestsrv", nil, "-dns01", fmt.Sprintf("127.0.0.1:%d", dns), "-http01", "", "-https01", "",
		"-tlsalpn01", "", "-management", fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t)), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
	listen, mgmt := freeTCPPort(t), freeTCPPort(t)
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress": fmt.Sprintf("127.0.0.1:%d", listen), "managementListenAddress": fmt.Sprintf("127.0.0.1:%d", mgmt),
		"certificate": certPath, "privateKey": keyPath, "httpPort": httpPort, "tlsPort": tlsPort,
		"ocspResponderURL": "", "externalAccountBindingRequired": false,
		"certificateValidityPeriod": int(validity.Seconds()),
	}}
	b, _ := json.Marshal(conf)
	confPath := filepath.Join(dir, "pebble.json")
	os.WriteFile(confPath, b, 0o600)
	start("pebble", []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		"-config", confPath, "-dnsserver", fmt.Sprintf("127.0.0.1:%d", dns))

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool()}}}
	var root []byte
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		res, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/roots/0", mgmt))
		if err == nil {
			root, _ = io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not start: %v", err)
		}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(root) {
		t.Fatalf("pebble's root is not PEM: %q", root)
	}
	return &pebble{directory: fmt.Sprintf("https://127.0.0.1:%d/dir", listen), roots: roots, caRoots: ca.pool(), caPEM: ca.pem}
}

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
			p := startPebble(t, httpPort, httpsPort, validity)
			m, err := New(Config{ACME: true, Domains: []string{"vigil.test"}, Directory: p.directory, Roots: p.caRoots,
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
				first, err = served(httpsL.Addr().String(), "vigil.test", p.roots)
				if time.Now().After(deadline) {
					t.Fatalf("no certificate from pebble: %v", err)
				}
			}
			if first.NotAfter.Sub(first.NotBefore) > validity+time.Minute {
				t.Fatalf("certificate lives %v, want the short validity pebble was given", first.NotAfter.Sub(first.NotBefore))
			}
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: "vigil.test", RootCAs: p.roots}}}
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
				c, err := served(httpsL.Addr().String(), "vigil.test", p.roots)
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
