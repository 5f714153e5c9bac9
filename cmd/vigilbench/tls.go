package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"vigil/internal/loopback"
	"vigil/internal/vigilproc"
)

// tlsCost fans the 1080p camera out to N readers over plain RTSP, then
// to N readers over RTSPS, from one Vigil with TLS files (plain RTSP on
// too), and serves cached stills over HTTPS.
type tlsCost struct {
	noFlags
	oneCamera
	noTargets    // its verdicts are in its section
	ran          bool
	idealMbps    float64
	plain, rtsps measurement
	stills       stillLoad
}

// tlsReaders is how many readers each half of the scenario has.
const tlsReaders = 200

func (t *tlsCost) run(ctx context.Context, b *bench) error {
	log.Printf("  %d readers plain and over RTSPS, HTTPS stills", tlsReaders)
	t.idealMbps = b.big.mbps * tlsReaders
	certFile, keyFile, err := writeSelfSigned(b.tmp)
	if err != nil {
		return err
	}
	ports, err := loopback.TCPPorts(2)
	if err != nil {
		return err
	}
	https, rtsps := loopback.Addr(ports[0]), loopback.Addr(ports[1])
	v, d, stop, err := b.live(ctx, "tls", b.big, vigilproc.Config{Base: "https://" + https,
		Env: []string{"VIGIL_TLS=files", "VIGIL_TLS_CERT_FILE=" + certFile, "VIGIL_TLS_KEY_FILE=" + keyFile,
			"VIGIL_HTTPS_ADDR=" + https, "VIGIL_RTSPS_ADDR=" + rtsps}})
	if err != nil {
		return err
	}
	defer stop()
	t.ran = true
	for _, half := range []struct {
		name string
		host string
		dial dialFunc
		into *measurement
	}{{"plain RTSP", v.RTSP(), nil, &t.plain}, {"RTSPS", rtsps, dialTLS, &t.rtsps}} {
		u := strings.Replace(v.readURL(d), v.RTSP(), half.host, 1)
		since := time.Now()
		rs, err := dialAllWith(ctx, slices.Repeat([]string{u}, tlsReaders), half.dial)
		if err != nil {
			return fmt.Errorf("%s readers: %w", half.name, err)
		}
		missing := settle(ctx, rs, since, b.opts.warmup)
		m, err := measure(ctx, v, rs, b.opts.window)
		closeAll(rs)
		if err != nil {
			return err
		}
		m.missing = missing
		*half.into = m
		log.Printf("  %s: %s", half.name, m.summary())
	}
	url := strings.Replace(v.apiURL(d, "still.jpg"), "http://"+v.HTTP(), "https://"+https, 1)
	if t.stills, err = measureStills(ctx, v, url, b.opts.stillRate, b.opts.stillWindow, b.profilePath("tls-stills")); err != nil {
		return fmt.Errorf("https stills: %w", err)
	}
	log.Printf("  https stills: %s", t.stills.summary())
	return nil
}

// dialTLS dials TCP and starts TLS (the bench's certificate is its own, so
// it is not verified): RTSP inside TLS, as ffmpeg's rtsps:// does, while
// gortsplib speaks plain RTSP on top.
func dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}

// writeSelfSigned writes a certificate for 127.0.0.1 and its key into dir.
func writeSelfSigned(dir string) (string, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vigilbench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile := filepath.Join(dir, "bench-cert.pem"), filepath.Join(dir, "bench-key.pem")
	err1 := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	err2 := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	if err1 != nil || err2 != nil {
		return "", "", fmt.Errorf("bench certificate: %v %v", err1, err2)
	}
	return certFile, keyFile, nil
}

// insecureTLS lets the bench's HTTP clients talk to its self-signed https.
func insecureTLS(tr *http.Transport) *http.Transport {
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	return tr
}

func (t *tlsCost) section(b *strings.Builder, r *report) {
	if !t.ran {
		return
	}
	b.WriteString("## TLS costs\n\n")
	fmt.Fprintf(b, "One Vigil with `tls: files` (a self-signed P-256 certificate) and plain RTSP on: the 1080p camera (%.1f Mbit/s) "+
		"pushes plain RTSP; %d readers read it over plain RTSP, are closed, then %d readers read it over RTSPS (TLS 1.3, "+
		"RTP interleaved in the TLS connection), each measured over the same window. Then cached stills over HTTPS "+
		"(keep-alive, TLS 1.3), as in the stills section.\n\n", r.big.mbps, tlsReaders, tlsReaders)
	b.WriteString("| transport | readers | delivered Mbit/s | % of ideal | fps/reader | Vigil CPU % | CPU %/Gbit/s | Vigil RSS MiB | skips | stalls (readers) | lost pkts | writes/s | bytes/write | generator CPU % | other CPU % |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range []struct {
		name string
		m    measurement
	}{{"plain RTSP", t.plain}, {"RTSPS", t.rtsps}} {
		m := row.m
		fmt.Fprintf(b, "| %s | %d | %.1f | %.0f | %.1f | %.1f | %s | %.0f | %s | %d (%d) | %d | %s | %s | %.0f | %.0f |\n",
			row.name, m.rw.readers, m.rw.mbps, pct(m.rw.mbps, t.idealMbps), m.rw.fpsPerReader, m.vigil.cpuPct,
			perGbit(m.vigil.cpuPct, m.rw.mbps), m.vigil.rssMiB, num(m.skips, 0), m.rw.stalls, m.rw.stalledReaders, m.rw.lost,
			num(m.vigil.writesPerSec, 0), num(m.vigil.bytesPerWrite, 0), m.bench.cpuPct, max(0, m.otherCPU))
	}
	if t.plain.rw.mbps > 0 && t.rtsps.rw.mbps > 0 && t.plain.vigil.cpuPct > 0 {
		ratio := (t.rtsps.vigil.cpuPct / t.rtsps.rw.mbps) / (t.plain.vigil.cpuPct / t.plain.rw.mbps)
		fmt.Fprintf(b, "\nRTSPS costs **%.1f×** plain RTSP's CPU per delivered Gbit/s (aim: ≤ 2×): %s.\n", ratio, verdict(ratio <= 2))
	}
	l := t.stills
	fmt.Fprintf(b, "\nHTTPS cached stills: asked %.0f req/s, achieved %.0f, %d errors, p50 %s, p99 **%s** (aim: < 5 ms, %s), max %s; Vigil CPU %.0f%%.\n\n",
		l.rate, l.achieved(), l.errors, ms(percentile(l.all, 50)), ms(percentile(l.all, 99)), verdict(percentile(l.all, 99) < 5*time.Millisecond),
		ms(slices.Max(append([]time.Duration{0}, l.all...))), l.vigil.cpuPct)
}
