package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/sim"
	"vigil/internal/store"
	"vigil/internal/testkit"
)

// addUser stores a user with a known password.
func (a *testApp) addUser(t *testing.T, name string) string {
	t.Helper()
	pw, _ := auth.NewPassword()
	u := store.User{ID: access.UserID("u-" + name), Name: name, Credential: auth.HashCredential(name, pw)}
	if err := a.store.UpsertUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return pw
}

func deviceID(c *sim.Camera) access.DeviceID { return access.DeviceID(c.ID) }

// delivery records when an output last delivered media to a viewer.
type delivery struct {
	name  string
	count atomic.Int64
	last  atomic.Int64 // unix nanos
}

func (d *delivery) add(n int) {
	d.count.Add(int64(n))
	d.last.Store(time.Now().UnixNano())
}

// watchEverywhere has user watch cam over RTSP (Digest), progressive MP4
// (Basic) and LL-HLS (ffmpeg with a stream token) until ctx ends.
func watchEverywhere(ctx context.Context, t *testing.T, a *testApp, cam *sim.Camera, user, pw string) []*delivery {
	t.Helper()
	rtspD, mp4D, hlsD := &delivery{name: "rtsp"}, &delivery{name: "mp4"}, &delivery{name: "hls"}
	var frames atomic.Int64
	go countFrames(ctx, t, a.rtspURL(user, pw, cam.ID), &frames)
	go func() {
		for prev := int64(0); ctx.Err() == nil; time.Sleep(5 * time.Millisecond) {
			if n := frames.Load(); n != prev {
				rtspD.add(int(n - prev))
				prev = n
			}
		}
	}()
	go readAll(ctx, a.url("/api/cameras/"+cam.ID+"/live.mp4"), user, pw, mp4D)
	status, body := a.call(t, "POST", "/api/cameras/"+cam.ID+"/tokens", user, pw, nil)
	var tok struct{ URLs map[string]string }
	if err := json.Unmarshal(body, &tok); status != 200 || err != nil {
		t.Fatalf("mint: %d %s", status, body)
	}
	go func() {
		cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "quiet", "-i", a.url(tok.URLs["hls"]),
			"-map", "0:v", "-c", "copy", "-f", "h264", "pipe:1")
		out, _ := cmd.StdoutPipe()
		if cmd.Start() != nil {
			return
		}
		readInto(out, hlsD)
		cmd.Wait()
	}()
	ds := []*delivery{rtspD, mp4D, hlsD}
	testkit.WaitFor(t, 15*time.Second, "viewer watching over every output", func() error {
		for _, d := range ds {
			if n := d.count.Load(); n < 10 {
				return fmt.Errorf("%d units over %s", n, d.name)
			}
		}
		return nil
	})
	return ds
}

func readAll(ctx context.Context, url, user, pw string, d *delivery) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.SetBasicAuth(user, pw)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer res.Body.Close()
	readInto(res.Body, d)
}

func readInto(r io.Reader, d *delivery) {
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			d.add(n)
		}
		if err != nil {
			return
		}
	}
}

// TestRevocationStopsViewingWithinASecond: a viewer watches a shared camera
// over RTSP, progressive MP4 and LL-HLS; the right to view ends — the owner
// unshares, or an admin command in another process disables the account
// (a change written to the store only) — and every output stops delivering
// within a second. HLS "delivery" is ffmpeg's: after the revocation its
// next playlist or segment request is refused.
func TestRevocationStopsViewingWithinASecond(t *testing.T) {
	needFFmpeg(t)
	dir := func(a *testApp) households { return a.households() }
	cases := map[string]func(ctx context.Context, a *testApp, cam *sim.Camera) error{
		"unshare": func(ctx context.Context, a *testApp, cam *sim.Camera) error {
			return a.auth.Unshare(ctx, a.callerNamed(ctx, "olga"), deviceID(cam), "vera", dir(a))
		},
		"account disabled by another process": func(ctx context.Context, a *testApp, _ *sim.Camera) error {
			return a.store.SetUserDisabled(ctx, "u-vera", true)
		},
		"device removed by another process": func(ctx context.Context, a *testApp, cam *sim.Camera) error {
			return a.store.DeleteDevice(ctx, deviceID(cam))
		},
	}
	for name, revoke := range cases {
		t.Run(name, func(t *testing.T) {
			a := startApp(t, "", nil)
			cam := a.addCamera(t, "porch")
			a.run(t, cam)
			a.addUser(t, "olga")
			viewerPW := a.addUser(t, "vera")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			claimFor(t, a, cam, "olga")
			if err := a.auth.Share(ctx, a.callerNamed(ctx, "olga"), deviceID(cam), "vera", time.Time{}, dir(a)); err != nil {
				t.Fatal(err)
			}
			ds := watchEverywhere(ctx, t, a, cam, "vera", viewerPW)
			revoked := time.Now()
			if err := revoke(ctx, a, cam); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
			for _, d := range ds {
				after := time.Duration(d.last.Load() - revoked.UnixNano())
				t.Logf("%s: last delivery %v after the revocation", d.name, after.Round(time.Millisecond))
				if after > time.Second {
					t.Errorf("%s still delivered %v after the revocation", d.name, after)
				}
			}
			if code, _, _ := a.get(t, "/api/cameras/"+cam.ID+"/still.jpg", "vera", viewerPW); code < 400 {
				t.Fatalf("still after the revocation: %d", code)
			}
		})
	}
}

// claimFor makes user the owner of cam, as claiming with its code does.
func claimFor(t *testing.T, a *testApp, cam *sim.Camera, user string) {
	t.Helper()
	ctx := context.Background()
	code, _ := auth.NewClaimCode()
	if err := a.store.ResetDevice(ctx, deviceID(cam), auth.ClaimHash(code)); err != nil {
		t.Fatal(err)
	}
	var online []access.StreamID
	for _, s := range []access.StreamID{access.StreamMain, access.StreamSub} {
		if a.hub.Online(deviceID(cam), s) {
			online = append(online, s)
		}
	}
	if _, err := a.auth.Claim(ctx, a.callerNamed(ctx, user), code, a.households()); err != nil {
		t.Fatal(err)
	}
	if len(online) > 0 {
		a.waitBack(t, deviceID(cam), online...) // the claim ended the camera's sessions
	}
}

// TestRevokedViewerDoesNotStopOthersHLS: the viewer whose request started
// a camera's HLS muxer loses the share; the owner, watching the same
// variant, keeps playing without an error (the muxer re-attaches with the
// owner's grant), while the viewer is refused.
func TestRevokedViewerDoesNotStopOthersHLS(t *testing.T) {
	needFFmpeg(t)
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	ownerPW := a.addUser(t, "olga")
	viewerPW := a.addUser(t, "vera")
	claimFor(t, a, cam, "olga")
	ctx := context.Background()
	if err := a.auth.Share(ctx, a.callerNamed(ctx, "olga"), deviceID(cam), "vera", time.Time{}, a.households()); err != nil {
		t.Fatal(err)
	}
	// Vera's request makes the muxer.
	viewer := a.mintWith(t, cam.ID, nil, basicAuth("vera", viewerPW))
	if code, _, _ := a.get(t, viewer.URLs["hls"], "", ""); code != 200 {
		t.Fatalf("vera's playlist: %d", code)
	}
	owner := a.mintWith(t, cam.ID, nil, basicAuth("olga", ownerPW))
	done := make(chan error, 1)
	var out []byte
	go func() {
		// 120 frames at 15 fps: 8 s, across the revocation.
		var err error
		out, err = exec.Command("ffmpeg", "-v", "error", "-i", a.url(owner.URLs["hls"]),
			"-map", "0:v", "-c", "copy", "-frames:v", "120", "-f", "h264", "pipe:1").Output()
		done <- err
	}()
	time.Sleep(2 * time.Second)
	if err := a.auth.Unshare(ctx, a.callerNamed(ctx, "olga"), deviceID(cam), "vera", a.households()); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := a.get(t, viewer.URLs["hls"], "", ""); code < 400 {
		t.Fatalf("vera's playlist after the unshare: %d", code)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the owner's HLS stopped with the viewer's share: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the owner's ffmpeg never finished")
	}
	chk := sim.NewChecker(sim.StaticKeys(stampSecret))
	if chk.AnnexB(out); chk.Only(cam.ID) != nil {
		t.Fatalf("stamps: %v", chk.Counts())
	}
	if started := testutil.ToFloat64(a.hls.Metrics().MuxersStarted.WithLabelValues("ll")); started != 1 {
		t.Fatalf("%v LL-HLS muxers started: the viewer's revocation restarted the owner's", started)
	}
}
