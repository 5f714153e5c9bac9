package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"vigil/internal/auth"
	"vigil/internal/household"
	"vigil/internal/testkit"
)

func TestAccessHistoryShowsEachViewingSession(t *testing.T) {
	a := startApp(t, "", nil)
	cam := a.addCamera(t, "porch")
	a.run(t, cam)
	olga := a.addUser(t, "olga")
	vera := a.addUser(t, "vera")
	ctx := context.Background()
	dir := a.households()
	code, _ := auth.NewClaimCode()
	a.store.ResetDevice(ctx, deviceID(cam), auth.ClaimHash(code))
	if _, err := a.auth.Claim(ctx, a.callerNamed(ctx, "olga"), code, dir); err != nil {
		t.Fatal(err)
	}
	a.waitBack(t, deviceID(cam))
	if err := a.auth.Share(ctx, a.callerNamed(ctx, "olga"), deviceID(cam), "vera", time.Time{}, dir); err != nil {
		t.Fatal(err)
	}
	history := func() []household.AccessView {
		t.Helper()
		s, b := a.call(t, "GET", "/api/cameras/"+cam.ID+"/access", "olga", olga, nil)
		var h []household.AccessView
		if s != 200 || json.Unmarshal(b, &h) != nil {
			t.Fatalf("history: %d %s", s, b)
		}
		return h
	}
	if s, _ := a.call(t, "GET", "/api/cameras/"+cam.ID+"/access", "vera", vera, nil); s != 404 {
		t.Fatalf("a viewer read the owner's history: %d", s)
	}

	// Vera watches over RTSP; the session shows within a second of starting.
	cctx, cancel := context.WithCancel(ctx)
	var frames atomic.Int64
	done := make(chan struct{})
	go func() { countFrames(cctx, t, a.rtspURL("vera", vera, cam.ID), &frames); close(done) }()
	testkit.WaitFor(t, 5*time.Second, "frame for vera", func() error {
		if frames.Load() == 0 {
			return errors.New("none read")
		}
		return nil
	})
	h := history()
	if len(h) != 1 || h[0].User != "vera" || h[0].Output != "rtsp" || !h[0].Ended.IsZero() || h[0].Remote == "" {
		t.Fatalf("history while watching: %+v", h)
	}
	time.Sleep(500 * time.Millisecond)
	cancel()
	<-done
	// The end and the bytes are filled in when the session closes.
	testkit.WaitFor(t, 5*time.Second, "end of the session in the history", func() error {
		if h = history(); h[0].Ended.IsZero() {
			return fmt.Errorf("%+v", h[0])
		}
		return nil
	})
	if h[0].Bytes <= 0 || h[0].Ended.Before(h[0].Started) {
		t.Fatalf("ended session: %+v", h[0])
	}
	// A still is a sessionless view: the first opens a history line, more
	// from the same viewer within audit.SessionGap add none.
	for range 3 {
		if s, _, body := a.get(t, "/api/cameras/"+cam.ID+"/still.jpg", "vera", vera); s != 200 {
			t.Fatalf("still: %d %s", s, body)
		}
	}
	h = history()
	if len(h) != 2 || h[0].Output != "still" || h[0].Ended.IsZero() {
		t.Fatalf("after three stills: %+v", h)
	}
}
