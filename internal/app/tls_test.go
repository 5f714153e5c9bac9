package app

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
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/certs/pebbletest"
	"vigil/internal/config"
	"vigil/internal/sim"
	"vigil/internal/store"
)

// selfSigned writes a certificate for 127.0.0.1 and localhost and its key
// into dir and returns their paths and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (string, string, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certPath, keyPath, pool
}

// stampedClip writes an Annex-B H.264 file of frames stamped as camera,
// for ffmpeg to push.
func stampedClip(t *testing.T, camera string, frames int) string {
	t.Helper()
	g, err := sim.NewGenerator(64, 48, 15, 15, sim.DrawPicture(camera, 64, 48))
	if err != nil {
		t.Fatal(err)
	}
	key := sim.CameraKey(stampSecret, camera)
	var b []byte
	for i := range frames {
		nalus, idr := g.Next()
		au := [][]byte{sim.StampNALU(key, sim.Stamp{Camera: camera, Seq: uint64(i + 1), Time: time.Now()})}
		if idr {
			au = append(au, g.SPS(), g.PPS())
		}
		b = append(b, sim.AnnexB(append(au, nalus...))...)
	}
	path := filepath.Join(t.TempDir(), camera+".h264")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ffmpegPush has ffmpeg publish clip to url until it ends or the test does.
func ffmpegPush(t *testing.T, clip, url string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "h264", "-framerate", "15",
		"-i", clip, "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", url)
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestRTSPSOnBothPortsAndPlainOff: with tls: files and rtsp_plain off,
// ffmpeg pushes one camera over rtsps:// on the RTSPS port and another
// over rtsps:// on the HTTPS port; ffmpeg and ffprobe read each over
// rtsps:// on both ports and find only that camera's stamps; plain RTSP
// is refused; HTTPS serves the API with HSTS and Secure cookies, and
// http_addr redirects to https.
func TestRTSPSOnBothPortsAndPlainOff(t *testing.T) {
	needFFmpeg(t)
	certPath, keyPath, pool := selfSigned(t, t.TempDir())
	plainRTSP := freeAddr(t)
	a := startApp(t, "", func(c *config.Config) {
		c.TLS, c.TLSCertFile, c.TLSKeyFile = config.TLSFiles, certPath, keyPath
		c.HTTPSAddr, c.RTSPSAddr, c.RTSPPlain, c.RTSPAddr = "127.0.0.1:0", "127.0.0.1:0", false, plainRTSP
	})
	rtsps, https := a.RTSPSAddr().String(), a.HTTPAddr().String()
	cams := map[string]string{} // camera id -> the address it pushes to
	for name, addr := range map[string]string{"by-rtsps-port": rtsps, "by-https-port": https} {
		id, err := store.NewDeviceID()
		if err != nil {
			t.Fatal(err)
		}
		pw, _ := auth.NewPassword()
		if err := a.store.CreateDevice(context.Background(), store.Device{ID: id, Name: name, Credential: auth.HashCredential(string(id), pw)}); err != nil {
			t.Fatal(err)
		}
		ffmpegPush(t, stampedClip(t, string(id), 900), fmt.Sprintf("rtsps://%s:%s@%s/%s", id, pw, addr, id))
		cams[string(id)] = addr
	}
	for id := range cams {
		a.waitOnline(t, access.DeviceID(id))
	}
	for id := range cams {
		for _, addr := range []string{rtsps, https} {
			url := fmt.Sprintf("rtsps://%s:%s@%s/%s", AdminName, adminPassword, addr, id)
			chk, err := readStamps(url, "tcp", 20)
			if err != nil {
				t.Fatalf("read %s over rtsps on %s: %v", id, addr, err)
			}
			if err := chk.Only(id); err != nil {
				t.Fatalf("read %s on %s: %v (%v)", id, addr, err, chk.Counts())
			}
			out, err := exec.Command("ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries", "stream=codec_name",
				"-of", "csv=p=0", url).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "h264" {
				t.Fatalf("ffprobe %s on %s: %q %v", id, addr, out, err)
			}
		}
	}

	if c, err := net.DialTimeout("tcp", plainRTSP, time.Second); err == nil {
		c.Close()
		t.Errorf("plain RTSP on %s accepted a connection with rtsp_plain off", plainRTSP)
	}
	for id := range cams {
		if _, err := readStamps(fmt.Sprintf("rtsp://%s:%s@%s/%s", AdminName, adminPassword, rtsps, id), "tcp", 5); err == nil {
			t.Errorf("plain RTSP to the RTSPS port was served")
		}
		break
	}

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Post("https://"+https+"/api/login", "application/json",
		strings.NewReader(fmt.Sprintf(`{"name":%q,"password":%q}`, AdminName, adminPassword)))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Fatalf("login over https: %d, HSTS %q", res.StatusCode, res.Header.Get("Strict-Transport-Security"))
	}
	if cs := res.Cookies(); len(cs) == 0 || !cs[0].Secure || !cs[0].HttpOnly {
		t.Fatalf("session cookie %+v, want Secure and HttpOnly", cs)
	}
	res, err = client.Get("http://" + a.RedirectAddr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusMovedPermanently || !strings.HasPrefix(loc, "https://") {
		t.Fatalf("http_addr answered %d %q, want a redirect to https", res.StatusCode, loc)
	}
}

// TestSecureCookiesBehindHTTPSProxy: with tls off but an https
// public_url (a proxy terminates TLS), the session cookie is Secure.
func TestSecureCookiesBehindHTTPSProxy(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) { c.PublicURL = "https://cams.example.com" })
	res, err := http.Post(a.url("/api/login"), "application/json",
		strings.NewReader(fmt.Sprintf(`{"name":%q,"password":%q}`, AdminName, adminPassword)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if cs := res.Cookies(); res.StatusCode != 200 || len(cs) == 0 || !cs[0].Secure {
		t.Fatalf("login behind an https proxy: %d, cookies %+v; want a Secure cookie", res.StatusCode, cs)
	}
}

// TestWebPageOverHTTPS: with tls: files, Chromium signs in to the owner's
// page over https, gets a session cookie that is Secure and HttpOnly, and
// plays the camera over WebRTC (its block code checked).
func TestWebPageOverHTTPS(t *testing.T) {
	needChromium(t)
	a, _ := startHTTPSApp(t)
	porch := a.addCamera(t, "Porch")
	a.run(t, porch)
	pw := a.addUser(t, "olga")
	claimFor(t, a, porch, "olga")
	tab := startChromium(t, chromedp.Flag("ignore-certificate-errors", true))

	page := "https://" + a.HTTPAddr().String() + "/"
	signIn(t, tab, page, "olga", pw)
	got, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{URLs: []string{page}})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range got.Cookies {
		if c.Name == "vigil_session" {
			session = c
		}
	}
	if session == nil || !session.Secure || !session.HTTPOnly {
		t.Fatalf("session cookie over https: %+v, want Secure and HttpOnly", session)
	}
	gridIDs(t, tab, 1)
	code, _ := play(t, tab, porch.ID)
	if want := sim.CodeFor(porch.ID); code != want {
		t.Fatalf("Chromium showed block code %x over https, want %x", code, want)
	}
	if got := pageText(t, tab, "#via"); got != "WebRTC" {
		t.Fatalf("played via %s, want WebRTC", got)
	}
}

// TestACMEFromPebble: with tls: acme, Vigil obtains its certificate from
// Pebble on loopback (trusting Pebble's directory only through
// acme_ca_root) and serves https that a client verifying against Pebble's
// root accepts.
func TestACMEFromPebble(t *testing.T) {
	httpAddr, httpsAddr := freeAddr(t), freeAddr(t)
	port := func(addr string) int { _, p, _ := net.SplitHostPort(addr); n, _ := strconv.Atoi(p); return n }
	p := pebbletest.Start(t, port(httpAddr), port(httpsAddr), time.Hour)
	a := startApp(t, "", func(c *config.Config) {
		c.TLS, c.TLSDomains, c.ACMEDirectory, c.ACMECARoot = config.TLSACME, []string{"vigil.test"}, p.Directory, p.CAFile
		c.HTTPAddr, c.HTTPSAddr, c.RTSPSAddr = httpAddr, httpsAddr, "127.0.0.1:0"
	})
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: "vigil.test", RootCAs: p.Roots}}}
	var last error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		res, err := client.Get("https://" + a.HTTPAddr().String() + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
			err = fmt.Errorf("status %d", res.StatusCode)
		}
		last = err
	}
	t.Fatalf("no https verified by Pebble's root: %v", last)
}

// TestRTSPSRefusesUDP: a player that came over RTSPS and asks for RTP over
// UDP gets 461, not video in clear; over TCP on the same port it plays.
func TestRTSPSRefusesUDP(t *testing.T) {
	certPath, keyPath, _ := selfSigned(t, t.TempDir())
	a := startApp(t, "", func(c *config.Config) {
		c.TLS, c.TLSCertFile, c.TLSKeyFile = config.TLSFiles, certPath, keyPath
		c.HTTPSAddr, c.RTSPSAddr = "127.0.0.1:0", "127.0.0.1:0"
	})
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	dialTLS := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return tls.Client(c, &tls.Config{InsecureSkipVerify: true}), nil
	}
	u, err := base.ParseURL(fmt.Sprintf("rtsp://%s:%s@%s/%s", AdminName, adminPassword, a.RTSPSAddr(), cam.ID))
	if err != nil {
		t.Fatal(err)
	}
	for _, proto := range []gortsplib.Protocol{gortsplib.ProtocolUDP, gortsplib.ProtocolTCP} {
		c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &proto, DialContext: dialTLS}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		desc, _, err := c.Describe(u)
		if err != nil {
			c.Close()
			t.Fatalf("describe over rtsps: %v", err)
		}
		_, err = c.Setup(desc.BaseURL, desc.Medias[0], 0, 0)
		c.Close()
		switch {
		case proto == gortsplib.ProtocolUDP && (err == nil || !strings.Contains(err.Error(), "461")):
			t.Errorf("SETUP with UDP over rtsps: %v, want 461 Unsupported Transport", err)
		case proto == gortsplib.ProtocolTCP && err != nil:
			t.Errorf("SETUP with TCP over rtsps: %v", err)
		}
	}
}
