package app

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/sim"
	"vigil/internal/store"
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

// TestUnshareStopsViewingWithinASecond: a viewer watches a shared camera over
// RTSP and progressive MP4; the owner revokes the share; both stop.
func TestUnshareStopsViewingWithinASecond(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	a.addUser(t, "olga")
	viewerPW := a.addUser(t, "vera")
	ctx := context.Background()
	code := "test-claim-code"
	if err := a.store.ResetDevice(ctx, "cam-x", ""); err == nil {
		t.Fatal("reset of an unknown device succeeded")
	}
	if err := a.store.ResetDevice(ctx, deviceID(cam), auth.ClaimHash(code)); err != nil {
		t.Fatal(err)
	}
	dir := directory{a.store}
	if _, err := a.auth.Claim(ctx, "olga", code, dir); err != nil {
		t.Fatal(err)
	}
	if err := a.auth.Share(ctx, "olga", deviceID(cam), "vera", time.Time{}, dir); err != nil {
		t.Fatal(err)
	}

	var rtspFrames, mp4Bytes atomic.Int64
	var rtspLast, mp4Last atomic.Int64 // unix nanos of the last delivery
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		countFrames(cctx, t, a.rtspURL("vera", viewerPW, cam.ID), &rtspFrames)
	}()
	go func() {
		req, _ := http.NewRequestWithContext(cctx, "GET", a.url("/api/cameras/"+cam.ID+"/live.mp4"), nil)
		req.SetBasicAuth("vera", viewerPW)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer res.Body.Close()
		buf := make([]byte, 4096)
		for {
			n, err := res.Body.Read(buf)
			if n > 0 {
				mp4Bytes.Add(int64(n))
				mp4Last.Store(time.Now().UnixNano())
			}
			if err != nil {
				return
			}
		}
	}()
	// Track RTSP deliveries' times.
	go func() {
		prev := int64(0)
		for cctx.Err() == nil {
			if n := rtspFrames.Load(); n != prev {
				prev = n
				rtspLast.Store(time.Now().UnixNano())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for rtspFrames.Load() < 10 || mp4Bytes.Load() < 10000 {
		if time.Now().After(deadline) {
			t.Fatalf("viewer never watched: %d RTSP frames, %d MP4 bytes", rtspFrames.Load(), mp4Bytes.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}

	revoked := time.Now()
	if err := a.auth.Unshare(ctx, "olga", deviceID(cam), "vera", dir); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	for name, last := range map[string]int64{"rtsp": rtspLast.Load(), "mp4": mp4Last.Load()} {
		after := time.Duration(last - revoked.UnixNano())
		t.Logf("%s: last delivery %v after the revocation", name, after)
		if after > time.Second {
			t.Errorf("%s still delivered %v after the share was revoked", name, after)
		}
	}
	// New attempts are refused.
	code2, _, _ := a.get(t, "/api/cameras/"+cam.ID+"/still.jpg", "vera", viewerPW)
	if code2 != http.StatusNotFound {
		t.Fatalf("still after unshare: %d", code2)
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
	if _, err := a.auth.Claim(ctx, user, code, directory{a.store}); err != nil {
		t.Fatal(err)
	}
}
