package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/loopback/udppath"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// runPair adds a camera and runs its main stream, about 1.6 Mbit/s (I_PCM
// keyframes once a second: more than 800 kbit/s carries), and its sub
// stream, about 0.2 Mbit/s.
func runPair(t *testing.T, a *testApp) *sim.Camera {
	t.Helper()
	cam := a.addCamera(t, "porch")
	cam.Width, cam.Height, cam.FPS, cam.GOP = 480, 272, 25, 25
	i := strings.LastIndex(cam.URL, "/")
	sub := &sim.Camera{URL: cam.URL[:i] + "/" + cam.ID + "/sub", ID: cam.ID, Key: cam.Key,
		Width: 160, Height: 96, FPS: 25, GOP: 25}
	a.run(t, cam, sub)
	return cam
}

// TestWHEPAdaptsToAPoorPath: a viewer behind 800 kbit/s + 150 ms, signed
// in with a token for the camera's adaptive set, is moved to the sub
// stream, and the session's URL says so; with a token minted for main
// alone, the re-check at the switch refuses sub, and the session comes
// down to main's keyframes instead. On sub, the time until units come
// smoothly and the stalls after are logged (issue 17's figures); the
// switch is counted in /metrics, and once the cap is lifted the session
// returns to main.
func TestWHEPAdaptsToAPoorPath(t *testing.T) {
	a := startApp(t, "", nil)
	cam := runPair(t, a)
	pw := a.addUser(t, "olga")
	claimFor(t, a, cam, "olga")
	for _, tc := range []struct {
		name  string
		token map[string]any
		want  string
	}{
		{"adaptive token", map[string]any{}, "sub"},
		{"token for main", map[string]any{"stream": "main"}, "keyframes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := a.mintWith(t, cam.ID, tc.token, basicAuth("olga", pw)).Token
			link, err := udppath.Listen(udppath.Shape{RateKB: 100, Latency: 150 * time.Millisecond, Queue: 48})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { link.Close() })
			arrivals := &unitTimes{start: time.Now()}
			paused := watchPauses(t, arrivals.start)
			v, err := sim.NewWebRTCViewer(sim.StaticKeys(stampSecret), sim.WebRTCOptions{UDPConn: link, OnUnit: arrivals.add})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { v.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			sdp, err := v.Offer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			none := func(*http.Request) {}
			loc, answer := a.whepAnswer(t, cam.ID, sdp, func(r *http.Request) { r.URL.RawQuery = "token=" + tok })
			if err := v.Accept(answer); err != nil {
				t.Fatal(err)
			}
			var seen []string
			testkit.WaitFor(t, 20*time.Second, "the session in mode "+tc.want, func() error {
				code, _, body := a.try(t, "GET", loc, "", none)
				var m struct{ Mode string }
				if code != 200 || json.Unmarshal(body, &m) != nil {
					return fmt.Errorf("GET %s: %d %s", loc, code, body)
				}
				if len(seen) == 0 || seen[len(seen)-1] != m.Mode {
					seen = append(seen, m.Mode)
				}
				if m.Mode != tc.want {
					return fmt.Errorf("modes so far %v", seen)
				}
				return nil
			})
			if tc.want != "sub" && strings.Contains(strings.Join(seen, " "), "sub") {
				t.Fatalf("a token for main got the sub stream: modes %v", seen)
			}
			wait, stop := context.WithTimeout(context.Background(), 15*time.Second)
			defer stop()
			if err := v.WaitUnits(wait, 3); err != nil {
				t.Fatalf("units in mode %s: %v", tc.want, err)
			}
			if err := v.Checker().Only(cam.ID); err != nil {
				t.Fatal(err)
			}
			t.Logf("modes %v; viewer got %d units", seen, v.Stats().Units)
			if tc.want != "sub" {
				return
			}
			time.Sleep(15 * time.Second) // on sub: any stall counts
			var excused [][3]float64
			p, smooth, stalled, after := settle(func() playerRun {
				p := arrivals.run(500 * time.Millisecond)
				excused = paused.excuse(&p, 500*time.Millisecond)
				return p
			})
			t.Logf("WebRTC at 800 kbit/s + 150 ms: first unit %.0f ms after the offer, smooth from %.1f s, then %v of stall in %v; stalls (gaps over 500 ms, ms) %v; excused, the test process paused (ms) %v; link dropped %d datagrams",
				p.FirstFrame, smooth/1000, stalled, after.Round(time.Second), p.StallLog, excused, link.Dropped())
			if after < 10*time.Second || stalled.Seconds()/after.Minutes() >= 1 {
				t.Fatalf("not smooth on sub: from %.1f s, %v of stall in %v", smooth/1000, stalled, after)
			}
			// The switch is counted, and once the cap is lifted (the
			// latency stays) the session probes its way back to main.
			code, _, metrics := a.get(t, "/metrics", AdminName, adminPassword)
			if !regexp.MustCompile(`(?m)^vigil_webrtc_mode_switches_total\{to="sub"\} [1-9]`).Match(metrics) {
				t.Fatalf("/metrics (%d) counts no switch to sub: %q", code,
					regexp.MustCompile(`(?m)^vigil_webrtc_mode_switches.*$`).FindAll(metrics, -1))
			}
			link.Lift()
			lifted := time.Now()
			units0 := v.Stats().Units
			testkit.WaitFor(t, 30*time.Second, "the session back on main after the cap was lifted", func() error {
				code, _, body := a.try(t, "GET", loc, "", none)
				var m struct{ Mode string }
				if code != 200 || json.Unmarshal(body, &m) != nil || m.Mode != "main" {
					return fmt.Errorf("GET %s: %d %s", loc, code, body)
				}
				return nil
			})
			t.Logf("back on main %v after the cap was lifted", time.Since(lifted).Round(100*time.Millisecond))
			onMain, stopMain := context.WithTimeout(context.Background(), 10*time.Second)
			defer stopMain()
			if err := v.WaitUnits(onMain, units0+25); err != nil {
				t.Fatalf("units on main after the lift: %v", err)
			}
			if err := v.Checker().Only(cam.ID); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// unitTimes records when a viewer's units arrived.
type unitTimes struct {
	start time.Time
	mu    sync.Mutex
	at    []time.Duration
}

func (u *unitTimes) add([][]byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.at = append(u.at, time.Since(u.start))
}

// run describes the arrivals as a player's run: a pause over gap between
// two units is a stall.
func (u *unitTimes) run(gap time.Duration) playerRun {
	u.mu.Lock()
	defer u.mu.Unlock()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	p := playerRun{Now: ms(time.Since(u.start))}
	for i, at := range u.at {
		if i == 0 {
			p.FirstFrame = ms(at)
		} else if at-u.at[i-1] > gap {
			p.StallLog = append(p.StallLog, [2]float64{ms(u.at[i-1]), ms(at)})
		}
	}
	return p
}

// pauses records when the test process itself stopped running goroutines:
// one that wakes every pauseTick notes each wake-up more than pauseMin
// after the one before. Camera, server, link and viewer all run in this
// process, so a unit late while it did not run was held up by the machine
// (a loaded CI box, a collector's pause under the race detector), not by
// the path or the adaptation. On sub, one such pause of 600 ms, 10 s in,
// failed this test on a quiet machine at the commit before the webrtc2
// merge as after it (the heartbeat saw 9961-10557 ms; the link dropped
// nothing meanwhile).
type pauses struct {
	start time.Time
	mu    sync.Mutex
	at    [][2]float64 // guarded by mu; from, to, in ms since start
}

const (
	pauseTick = 10 * time.Millisecond
	pauseMin  = 50 * time.Millisecond
)

// watchPauses records the process's pauses from start until the test ends.
func watchPauses(t *testing.T, start time.Time) *pauses {
	p := &pauses{start: start}
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		tick := time.NewTicker(pauseTick)
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			now := time.Now()
			if now.Sub(last) > pauseMin {
				ms := func(t time.Time) float64 { return float64(t.Sub(start)) / float64(time.Millisecond) }
				p.mu.Lock()
				p.at = append(p.at, [2]float64{ms(last), ms(now)})
				p.mu.Unlock()
			}
			last = now
		}
	}()
	return p
}

// excuse takes out of run's stalls those the process's pauses explain:
// the gap less the time the process was paused within it is under gap, so
// the units would have come in time had it run. It returns them, each
// with the time paused.
func (p *pauses) excuse(run *playerRun, gap time.Duration) [][3]float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var kept [][2]float64
	var excused [][3]float64
	for _, s := range run.StallLog {
		var in float64
		for _, q := range p.at {
			in += max(0, min(q[1], s[1])-max(q[0], s[0]))
		}
		if s[1] != 0 && s[1]-s[0]-in < float64(gap.Milliseconds()) {
			excused = append(excused, [3]float64{s[0], s[1], in})
			continue
		}
		kept = append(kept, s)
	}
	run.StallLog = kept
	return excused
}

// TestPausesExcuse: a stall is excused only when the process's pauses
// within it leave less than the gap; one still going is never excused.
func TestPausesExcuse(t *testing.T) {
	p := &pauses{at: [][2]float64{{9961, 10135}, {10135, 10557}, {20000, 20100}}}
	run := playerRun{StallLog: [][2]float64{
		{9888, 10397},  // 509 ms, 436 of them paused: excused
		{19900, 20550}, // 650 ms, 100 paused: 550 left, kept
		{30000, 30700}, // no pause: kept
		{40000, 0},     // still stalled: kept
	}}
	excused := p.excuse(&run, 500*time.Millisecond)
	if len(excused) != 1 || excused[0] != [3]float64{9888, 10397, 436} {
		t.Errorf("excused %v, want [[9888 10397 436]]", excused)
	}
	want := [][2]float64{{19900, 20550}, {30000, 30700}, {40000, 0}}
	if fmt.Sprint(run.StallLog) != fmt.Sprint(want) {
		t.Errorf("kept %v, want %v", run.StallLog, want)
	}
}
