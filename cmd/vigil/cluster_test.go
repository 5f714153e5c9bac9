package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/datadir"
	"vigil/internal/loopback"
	"vigil/internal/seal"
	"vigil/internal/sim"
	"vigil/internal/testkit"
	"vigil/internal/testkit/pgtest"
	"vigil/internal/vigilproc"
)

const clusterSecret = "cluster stamp secret"

// TestCluster runs two real nodes on one Postgres, routed to each other
// over embedded NATS. A stamped camera pushes to node A; every output read
// from node B (RTSP, HLS, live.mp4 through ffmpeg; WHEP through pion; a
// still and MJPEG)
// carries that camera's stamps or picture only. Another household signed
// in on B sees nothing of it. A claim through B ends the camera's session
// of the old epoch on A; the new owner's Google and Alexa links made
// through B get the camera from B (an MP4 URL, Google's WebRTC signaling,
// Alexa's offer: its stamps only), the other household's links
// deviceNotFound and NO_SUCH_ENDPOINT. An unshare through A ends a
// viewer's session on B. When the camera then connects to B, its session on A, still open, is
// fenced, and A serves it from B. Offline, it uploads a still to A, and B
// serves that.
func TestCluster(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is missing: run `make test`, which installs it")
	}
	began := time.Now()
	phase := func(what string) { t.Logf("%s done at %v", what, time.Since(began).Round(time.Millisecond)) }
	dsn := pgtest.NewDatabase(t)
	nodes := startClusterEnv(t, dsn, 2, "VIGIL_OAUTH_CLIENTS="+assistantClients)
	phase("two nodes up")
	a, b := nodes[0], nodes[1]
	ctx := t.Context()

	var dev deviceJSON
	if err := a.CLI(ctx, &dev, "device", "add", "--name", "porch", "--json"); err != nil {
		t.Fatal(err)
	}
	var olga struct{ Password string }
	if err := b.CLI(ctx, &olga, "user", "add", "--name", "olga", "--json"); err != nil {
		t.Fatal(err)
	}
	key := sim.CameraKey([]byte(clusterSecret), dev.ID)
	onA, stopA := context.WithCancel(ctx)
	defer stopA()
	camA := &sim.Camera{ID: dev.ID, Key: key, FPS: 15, GOP: 15,
		URL: fmt.Sprintf("rtsp://%s:%s@%s/%s", dev.ID, dev.Password, a.RTSP(), dev.ID)}
	go camA.Run(onA)

	admin := "admin:" + b.AdminPassword()
	ffmpegStamps(t, fmt.Sprintf("rtsp://%s@%s/%s", admin, b.RTSP(), dev.ID), dev.ID)
	phase("RTSP on B")
	var tok struct{ URLs map[string]string }
	if err := clusterAPI(b, "admin", b.AdminPassword(), "POST", "/api/cameras/"+dev.ID+"/tokens", nil, &tok); err != nil {
		t.Fatal(err)
	}
	ffmpegStamps(t, b.Base()+tok.URLs["hls"], dev.ID)
	ffmpegStamps(t, b.Base()+tok.URLs["mp4"], dev.ID)
	picture(t, b, "admin", b.AdminPassword(), "/api/cameras/"+dev.ID+"/still.jpg", dev.ID)
	picture(t, b, "admin", b.AdminPassword(), "/api/cameras/"+dev.ID+"/mjpeg", dev.ID)
	whepStamps(t, b, "admin", b.AdminPassword(), dev.ID)
	phase("outputs on B")

	// Another household, on the node that serves the camera's stream.
	var cams []json.RawMessage
	if err := clusterAPI(b, "olga", olga.Password, "GET", "/api/cameras", nil, &cams); err != nil || len(cams) != 0 {
		t.Fatalf("olga's cameras on B: %s, %v; want none", cams, err)
	}
	for _, path := range []string{"/still.jpg", "/mjpeg", "/live.mp4"} {
		if err := clusterAPI(b, "olga", olga.Password, "GET", "/api/cameras/"+dev.ID+path, nil, nil); err == nil {
			t.Fatalf("olga read %s of the porch camera on B", path)
		}
	}
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i",
		fmt.Sprintf("rtsp://olga:%s@%s/%s", olga.Password, b.RTSP(), dev.ID), "-frames:v", "1", "-f", "h264", "pipe:1").Output()
	if err == nil || len(out) > 0 {
		t.Fatalf("olga played the porch camera over RTSP on B: %d bytes, %v", len(out), err)
	}

	// Owen claims the camera through B while it is homed on A: A learns of
	// the change of hands from the revocation log and ends the camera's
	// session there (invariant 8); the camera reconnects in the new epoch,
	// whose keys seal what crosses to B.
	var owen struct{ Password string }
	if err := a.CLI(ctx, &owen, "user", "add", "--name", "owen", "--json"); err != nil {
		t.Fatal(err)
	}
	before := camA.Sessions()
	if err := clusterAPI(b, "owen", owen.Password, "POST", "/api/cameras/claim", map[string]string{"code": dev.Claim}, nil); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "A ending the camera's session of the old epoch", func() error {
		if camA.Sessions() <= before || len(a.LogLines("camera changed hands")) == 0 {
			return fmt.Errorf("%d sessions, A's log silent", camA.Sessions())
		}
		return nil
	})
	phase("claim")

	// Owen links Google and Alexa through B; his display asks B for the
	// camera homed on A, and plays what B answers: an MP4 URL, Google's
	// WebRTC signaling, Alexa's offer. Olga's links, on the same node, find
	// no such device.
	// B asks the claims registry whether the camera is online: nothing on
	// B reads it in the new epoch yet (deviceOffline while it reconnects
	// to A).
	owenTok := assistantLink(t, b, googleClient, googleRedirect, "owen", owen.Password, dev.ID)
	var states map[string]any
	testkit.WaitFor(t, 10*time.Second, "EXECUTE progressive_mp4 on B", func() error {
		var code string
		if states, code = googleExecute(t, b, owenTok, dev.ID, "progressive_mp4"); code != "" {
			return errors.New(code)
		}
		return nil
	})
	ffmpegStamps(t, fmt.Sprint(states["cameraStreamAccessUrl"]), dev.ID)
	states, code := googleExecute(t, b, owenTok, dev.ID, "webrtc")
	if code != "" {
		t.Fatalf("EXECUTE webrtc on B: %s", code)
	}
	rtcStamps(t, dev.ID, func(ctx context.Context, offer string) (string, error) {
		return googleOffer(ctx, fmt.Sprint(states["cameraStreamSignalingUrl"]), fmt.Sprint(states["cameraStreamAuthToken"]), dev.ID, offer)
	})
	owenAlexa := assistantLink(t, b, alexaClient, alexaRedirect, "owen", owen.Password, dev.ID)
	rtcStamps(t, dev.ID, func(ctx context.Context, offer string) (string, error) {
		ev, err := alexaOffer(ctx, b, owenAlexa, dev.ID, offer)
		if err == nil && ev.Event.Payload.Answer == nil {
			err = fmt.Errorf("InitiateSessionWithOffer on B: %s %s", ev.Event.Header.Name, ev.Event.Payload.Type)
		}
		if err != nil {
			return "", err
		}
		return ev.Event.Payload.Answer.Value, nil
	})
	olgaTok := assistantLink(t, b, googleClient, googleRedirect, "olga", olga.Password)
	for _, proto := range []string{"progressive_mp4", "webrtc"} {
		if states, code := googleExecute(t, b, olgaTok, dev.ID, proto); code != "deviceNotFound" || states != nil {
			t.Fatalf("olga's EXECUTE %s of the porch camera on B: %q %v", proto, code, states)
		}
	}
	olgaAlexa := assistantLink(t, b, alexaClient, alexaRedirect, "olga", olga.Password)
	if ev, err := alexaOffer(ctx, b, olgaAlexa, dev.ID, viewerOffer(t)); err != nil || ev.Event.Payload.Type != "NO_SUCH_ENDPOINT" || ev.Event.Payload.Answer != nil {
		t.Fatalf("olga's Alexa offer for the porch camera on B: %+v, %v", ev, err)
	}
	phase("Google and Alexa on B")
	ffmpegStamps(t, fmt.Sprintf("rtsp://owen:%s@%s/%s", owen.Password, b.RTSP(), dev.ID), dev.ID)

	// Owen shares the camera with Olga through A; she watches on B; the
	// unshare through A ends her session on B.
	share := "/api/cameras/" + dev.ID + "/shares/olga"
	if err := clusterAPI(a, "owen", owen.Password, "PUT", share, nil, nil); err != nil {
		t.Fatal(err)
	}
	olgaURL := fmt.Sprintf("rtsp://olga:%s@%s/%s", olga.Password, b.RTSP(), dev.ID)
	ffmpegStamps(t, olgaURL, dev.ID)
	// Timed from the unshare's answer: the request itself (a password
	// check under -race on a loaded machine) is not the revocation's way
	// to B.
	var unshared time.Time
	ended := watchUntilEnded(t, olgaURL, func() {
		if err := clusterAPI(a, "owen", owen.Password, "DELETE", share, nil, nil); err != nil {
			t.Fatal(err)
		}
		unshared = time.Now()
	}).Sub(unshared)
	t.Logf("an unshare through A ended the viewer's RTSP session on B %v after it was answered", ended)
	phase("claim and unshare")
	if ended > 3*time.Second {
		t.Fatalf("the unshare through A ended the session on B %v after it was answered", ended)
	}

	// The camera connects to B while its session on A is still open: B's
	// claim fences A's session.
	camB := &sim.Camera{ID: dev.ID, Key: key, FPS: 15, GOP: 15,
		URL: fmt.Sprintf("rtsp://%s:%s@%s/%s", dev.ID, dev.Password, b.RTSP(), dev.ID)}
	onB, stopB := context.WithCancel(ctx)
	defer stopB()
	go camB.Run(onB)
	testkit.WaitFor(t, 20*time.Second, "A's session fenced by B's claim", func() error {
		if len(a.LogLines("publisher session fenced")) == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	phase("fence")
	stopA() // the old connection would claim again on reconnecting
	ffmpegStamps(t, fmt.Sprintf("rtsp://owen:%s@%s/%s", owen.Password, a.RTSP(), dev.ID), dev.ID)
	if camB.Sessions() == 0 {
		t.Fatal("the camera never published to B")
	}
	// The camera goes offline and uploads a still to A: B serves it.
	stopB()
	var upload bytes.Buffer
	if err := jpeg.Encode(&upload, sim.DrawPicture(dev.ID, 320, 240), nil); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, "PUT", a.Base()+"/api/cameras/"+dev.ID+"/still.jpg", bytes.NewReader(upload.Bytes()))
	req.SetBasicAuth(dev.ID, dev.Password)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("still upload to A: %v, %v", res, err)
	}
	testkit.WaitFor(t, 10*time.Second, "the still uploaded to A served by B", func() error {
		res, err := clusterDo(ctx, b, "owen", owen.Password, "GET", "/api/cameras/"+dev.ID+"/still.jpg", nil)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if src := res.Header.Get("X-Still-Source"); src != "upload" || !bytes.Equal(body, upload.Bytes()) {
			return fmt.Errorf("a still from %s of %d bytes", src, len(body))
		}
		return nil
	})
	phase("still upload")

	series := []string{"vigil_isolation_violations_total", "vigil_cluster_bus_refused_total", "vigil_cluster_claim_moves_total",
		"vigil_cluster_bus_received_bytes_total", "vigil_cluster_streams_homed"}
	testkit.WaitFor(t, 5*time.Second, "the offline camera's claims released", func() error {
		for _, n := range nodes {
			if m, err := n.Metrics(ctx, "vigil_cluster_streams_homed"); err != nil || m["vigil_cluster_streams_homed"] != 0 {
				return fmt.Errorf("%v, %v", m, err)
			}
		}
		return nil
	})
	var m [2]map[string]float64
	for i, n := range nodes {
		var err error
		if m[i], err = n.Metrics(ctx, series...); err != nil {
			t.Fatal(err)
		}
		if m[i]["vigil_isolation_violations_total"] != 0 || m[i]["vigil_cluster_bus_refused_total"] != 0 {
			t.Fatalf("node-%d: %v", i, m[i])
		}
	}
	if m[0]["vigil_cluster_claim_moves_total"] < 1 || m[0]["vigil_cluster_bus_received_bytes_total"] == 0 ||
		m[1]["vigil_cluster_bus_received_bytes_total"] == 0 || m[0]["vigil_cluster_streams_homed"]+m[1]["vigil_cluster_streams_homed"] != 0 {
		t.Fatalf("A (home, fenced, then fed; the camera now offline): %v; B (fed, then home): %v", m[0], m[1])
	}
}

// startCluster starts n nodes on the database dsn, sharing a master key
// and an admin password, with embedded NATS servers routed to each other.
func startCluster(t *testing.T, dsn string, n int) []*vigilproc.Proc {
	t.Helper()
	return startClusterVia(t, dsn, n, nil)
}

// startClusterEnv is startCluster with env added to every node's
// environment (a later setting of a variable wins).
func startClusterEnv(t *testing.T, dsn string, n int, env ...string) []*vigilproc.Proc {
	t.Helper()
	return startClusterVia(t, dsn, n, nil, env...)
}

// startClusterVia is startCluster whose nodes dial each other's routes at
// the addresses via gives for their route listen addresses (a proxy in
// front of each, say); nil dials them directly.
func startClusterVia(t *testing.T, dsn string, n int, via func(listen []string) []string, env ...string) []*vigilproc.Proc {
	t.Helper()
	bin := buildVigil(t)
	master := make([]byte, seal.MasterKeySize)
	rand.Read(master)
	var listen []string
	for range n {
		listen = append(listen, loopback.Addr(freePort(t)))
	}
	routes := listen
	if via != nil {
		routes = via(listen)
	}
	admin := rand.Text()
	nodes := make([]*vigilproc.Proc, n)
	for i := range nodes {
		data := t.TempDir()
		if err := os.WriteFile(filepath.Join(data, datadir.MasterKeyFile), master, 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := vigilproc.New(vigilproc.Config{Bin: bin, Data: data, Log: filepath.Join(t.TempDir(), "vigil.log"),
			AdminPassword: admin, Env: append([]string{"VIGIL_STORE=postgres", "VIGIL_STORE_DSN=" + dsn,
				fmt.Sprintf("VIGIL_CLUSTER_NODE=node-%d", i), "VIGIL_CLUSTER_LISTEN=" + listen[i],
				"VIGIL_CLUSTER_ROUTES=" + strings.Join(routes, ","), "VIGIL_CLUSTER_REPLICAS=1",
				"VIGIL_CLUSTER_DRAIN=" + clusterDrain.String()}, env...)})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = p
		t.Cleanup(func() {
			p.Stop()
			if t.Failed() {
				t.Logf("node-%d's log ends:\n%s", i, p.LogTail(40))
			}
		})
	}
	// The nodes wait for each other to keep the claims bucket: start them together.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, p := range nodes {
		wg.Go(func() { errs[i] = p.Start(t.Context()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return nodes
}

// ffmpegStamps has ffmpeg read 10 video frames from url (RTSP, HLS or
// MP4) and checks they carry camera's stamps only; it retries while the
// stream is not there yet.
func ffmpegStamps(t *testing.T, url, camera string) {
	t.Helper()
	testkit.WaitFor(t, 30*time.Second, "frames of "+camera+" from "+redactURL(url), func() error {
		args := []string{"-v", "error"}
		if strings.HasPrefix(url, "rtsp:") {
			args = append(args, "-rtsp_transport", "tcp")
		}
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		defer cancel()
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, "ffmpeg", append(args, "-i", url, "-map", "0:v", "-c", "copy", "-frames:v", "10",
			"-bsf:v", "h264_mp4toannexb", "-f", "h264", "pipe:1")...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("%v: %s", err, strings.ReplaceAll(stderr.String(), url, redactURL(url)))
		}
		chk := sim.NewChecker(sim.StaticKeys([]byte(clusterSecret)))
		if err := chk.AnnexB(out); err != nil {
			t.Fatal(err)
		}
		if err := chk.Only(camera); err != nil || chk.Units() == 0 {
			t.Fatalf("%s: stamps %v: %v", redactURL(url), chk.Counts(), err)
		}
		return nil
	})
}

// redactURL leaves credentials and tokens out of a URL for messages.
func redactURL(u string) string {
	if i := strings.Index(u, "@"); i > 0 {
		u = u[:strings.Index(u, "//")+2] + "…" + u[i:]
	}
	u, _, _ = strings.Cut(u, "?")
	return u
}

// clusterAPI calls the API of p as user with in, when not nil, as the
// JSON body; out, when not nil, takes the JSON answer. An answer other
// than 2xx is an error.
func clusterAPI(p *vigilproc.Proc, user, password, method, path string, in, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	res, err := clusterDo(ctx, p, user, password, method, path, body)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if out == nil {
		return nil
	}
	return json.NewDecoder(res.Body).Decode(out)
}

// clusterDo sends a request to p as user; an answer other than 2xx is an error.
func clusterDo(ctx context.Context, p *vigilproc.Proc, user, password, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.Base()+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(user, password)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		res.Body.Close()
		return nil, fmt.Errorf("%s %s: %s", method, path, res.Status)
	}
	return res, nil
}

// picture reads a JPEG from path on p (a still, or MJPEG's first part) as
// user and checks it shows camera's block code; it retries while there is
// none yet.
func picture(t *testing.T, p *vigilproc.Proc, user, password, path, camera string) {
	t.Helper()
	testkit.WaitFor(t, 20*time.Second, "a picture of "+camera+" from "+path, func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		res, err := clusterDo(ctx, p, user, password, "GET", path, nil)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		body := io.Reader(res.Body)
		if mt, params, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); strings.HasPrefix(mt, "multipart/") {
			part, err := multipart.NewReader(bufio.NewReader(res.Body), params["boundary"]).NextPart()
			if err != nil {
				return err
			}
			body = part
		}
		img, err := jpeg.Decode(body)
		if err != nil {
			return err
		}
		if code, err := sim.ReadCode(img); err != nil || code != sim.CodeFor(camera) {
			t.Fatalf("%s: block code %x (%v), want %s's %x", path, code, err, camera, sim.CodeFor(camera))
		}
		return nil
	})
}

// watchUntilEnded has ffmpeg play url until the server ends the session;
// once media flows it calls revoke, and returns when the stream ended.
func watchUntilEnded(t *testing.T, url string, revoke func()) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", url,
		"-map", "0:v", "-c", "copy", "-f", "h264", "pipe:1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	if _, err := io.ReadFull(out, make([]byte, 4096)); err != nil {
		t.Fatalf("%s: no media before the revocation: %v", redactURL(url), err)
	}
	revoke()
	if _, err := io.Copy(io.Discard, out); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s: the session outlived the revocation by 30 s", redactURL(url))
	}
	return time.Now()
}

// whepStamps plays camera over WHEP on p as user with a pion viewer and
// checks that its video carries camera's stamps only.
func whepStamps(t *testing.T, p *vigilproc.Proc, user, password, camera string) {
	t.Helper()
	rtcStamps(t, camera, func(ctx context.Context, offer string) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", p.Base()+"/api/cameras/"+camera+"/whep", strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		req.SetBasicAuth(user, password)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		answer, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			return "", fmt.Errorf("WHEP offer on %s: %s %s", p.Base(), res.Status, answer)
		}
		return string(answer), nil
	})
}

// viewerOffer is a fresh pion viewer's offer, for signaling that must be
// refused.
func viewerOffer(t *testing.T) string {
	t.Helper()
	v, err := sim.NewWebRTCViewer(sim.StaticKeys([]byte(clusterSecret)), sim.WebRTCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	offer, err := v.Offer(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return offer
}

// rtcStamps plays camera with a pion viewer whose offer answer answers
// (WHEP, an assistant's signaling) and checks that its video carries
// camera's stamps only, a keyframe first.
func rtcStamps(t *testing.T, camera string, answer func(ctx context.Context, offer string) (string, error)) {
	t.Helper()
	v, err := sim.NewWebRTCViewer(sim.StaticKeys([]byte(clusterSecret)), sim.WebRTCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	offer, err := v.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := answer(ctx, offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Accept(ans); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 15*time.Second, "10 WebRTC video units of "+camera, func() error {
		if n := v.Stats().Units; n < 10 {
			return fmt.Errorf("%d units", n)
		}
		return nil
	})
	if st := v.Stats(); !st.FirstKey {
		t.Fatalf("WebRTC's first unit was no keyframe: %+v", st)
	}
	if err := v.Checker().Only(camera); err != nil {
		t.Fatalf("WebRTC stamps %v: %v", v.Checker().Counts(), err)
	}
}
