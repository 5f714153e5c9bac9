package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"

	"vigil/internal/chromium"
	"vigil/internal/loopback/udppath"
	"vigil/internal/sim"
)

// poorLinkQueue is how many datagrams the WebRTC viewer's poor link
// queues before it drops (tail drop): about 0.7 s at 800 kbit/s.
const poorLinkQueue = 48

// webrtcPoor plays the camera over WHEP with a pion viewer behind the poor
// link of the players scenario, made for UDP: toxiproxy proxies TCP only,
// so the viewer's socket is a udppath.Conn, whose received datagrams pass
// toxiproxy's own bandwidth and latency toxics one datagram a chunk, behind
// a queue that drops when full. The session should step down to the sub
// stream and play it smoothly, and return to main once the cap is lifted.
type webrtcPoor struct {
	oneCamera
	runs    int
	play    time.Duration // per run, capped
	ran     bool
	results []webrtcPoorRun
	load    [2]string
}

// webrtcPoorRun is one viewer's run; times are from the offer's POST.
type webrtcPoorRun struct {
	p chromium.PlayerRun // first unit and stalls (gaps over webrtcStallGap), ms
	// poorRun's onSub is when the session's URL first said "sub".
	poorRun
	modes   []string      // the modes seen, in order, with when (s)
	backUp  time.Duration // from lifting the cap to the session on main again; 0: not within webrtcLiftWait
	dropped int64         // datagrams the link dropped
	lost    int           // packets missing on arrival at the viewer, and of them
	late    int           // repaired by a retransmission
}

// webrtcLiftWait is how long a run waits for main after the cap is lifted.
const webrtcLiftWait = 30 * time.Second

func (s *webrtcPoor) flags(fs *flag.FlagSet) {
	fs.IntVar(&s.runs, "webrtc-poor-runs", 0, "runs of a WHEP viewer behind the poor link (default 3; quick 1)")
	fs.DurationVar(&s.play, "webrtc-poor-play", 0, "how long each run plays behind the cap (default 40s; quick 25s)")
}

func (s *webrtcPoor) setDefaults(quick bool) error {
	s.runs = cmp.Or(s.runs, quickOr(quick, 1, 3))
	s.play = cmp.Or(s.play, quickOr(quick, 25*time.Second, 40*time.Second))
	if s.play < playersSmoothSpan+5*time.Second {
		return fmt.Errorf("-webrtc-poor-play %s: at least %s", s.play, playersSmoothSpan+5*time.Second)
	}
	return nil
}

func (s *webrtcPoor) run(ctx context.Context, b *bench) error {
	log.Printf("  %d runs of a WHEP viewer, %s each, at %d kbit/s + %s", s.runs, s.play, poorLinkKBps*8, poorLinkLatency)
	v, d, stop, err := b.livePair(ctx, "webrtc-poor")
	if err != nil {
		return err
	}
	defer stop()
	s.ran = true
	s.load[0] = loadAvg()
	for i := range s.runs {
		r := s.once(ctx, v, d, b.secret)
		s.results = append(s.results, r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Printf("  run %d: first unit %.0f ms, on sub %.0f ms, smooth %.0f ms, %.2f s/min of stall after; modes %v; back on main %s after the lift; %d dropped at the link; stalls (ms) %.0f; err %v",
			i+1, r.p.FirstFrame, r.onSub, r.smooth, r.stallRate(), r.modes, r.backUp, r.dropped, r.p.StallLog, r.err)
	}
	s.load[1] = loadAvg()
	return nil
}

// once joins one viewer behind a fresh poor link, plays s.play, lifts the
// cap and waits for the session to come back to main.
func (s *webrtcPoor) once(ctx context.Context, v *vigil, d device, secret []byte) webrtcPoorRun {
	var r webrtcPoorRun
	link, err := udppath.Listen(udppath.Shape{RateKB: poorLinkKBps, Latency: poorLinkLatency, Queue: poorLinkQueue})
	if err != nil {
		r.err = err
		return r
	}
	defer link.Close()
	arrivals := &arrivalLog{}
	w, err := sim.NewWebRTCViewer(sim.StaticKeys(secret), sim.WebRTCOptions{UDPConn: link, OnUnit: arrivals.add, StallGap: webrtcStallGap})
	if err != nil {
		r.err = err
		return r
	}
	defer w.Close()
	answer, loc, t0, err := postOffer(ctx, v, d, w)
	if err == nil {
		err = w.Accept(answer)
	}
	if err != nil {
		r.err = err
		return r
	}
	arrivals.start(t0)
	modes := &modeLog{}
	pollCtx, stopPoll := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() { modes.poll(pollCtx, v, loc, t0); close(polled) }()
	defer func() { stopPoll(); <-polled }()
	if !sleep(ctx, s.play) {
		r.err = ctx.Err()
		return r
	}
	r.p = arrivals.run(webrtcStallGap)
	r.smooth, r.stalled = r.p.Smooth(playersSmoothSpan)
	r.after = time.Duration((r.p.Now - r.smooth) * float64(time.Millisecond))
	r.onSub = modes.first("sub")
	r.dropped = link.Dropped()
	st := w.Stats()
	r.lost, r.late = st.Lost, st.Late
	if err := w.Checker().Only(d.ID); err != nil {
		r.err = fmt.Errorf("stamps: %w", err)
	}
	lifted := time.Now()
	link.Lift()
	for time.Since(lifted) < webrtcLiftWait && ctx.Err() == nil {
		if at := modes.first("main"); at > 0 && t0.Add(time.Duration(at*float64(time.Millisecond))).After(lifted) {
			r.backUp = t0.Add(time.Duration(at * float64(time.Millisecond))).Sub(lifted)
			break
		}
		sleep(ctx, 100*time.Millisecond)
	}
	r.modes = modes.list()
	return r
}

// arrivalLog records when a viewer's units arrived, from start.
type arrivalLog struct {
	mu sync.Mutex
	t0 time.Time
	at []time.Time
}

func (a *arrivalLog) start(t0 time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.t0 = t0
}

func (a *arrivalLog) add([][]byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at = append(a.at, time.Now())
}

// run describes the arrivals as a player's run, in ms from the start: a
// pause over gap between two units, or at the end, is a stall.
func (a *arrivalLog) run(gap time.Duration) chromium.PlayerRun {
	a.mu.Lock()
	defer a.mu.Unlock()
	ms := func(t time.Time) float64 { return float64(t.Sub(a.t0)) / float64(time.Millisecond) }
	now := time.Now()
	p := chromium.PlayerRun{Now: ms(now)}
	for i, at := range a.at {
		if i == 0 {
			p.FirstFrame = ms(at)
		} else if at.Sub(a.at[i-1]) > gap {
			p.StallLog = append(p.StallLog, [2]float64{ms(a.at[i-1]), ms(at)})
		}
	}
	if n := len(a.at); n > 0 && now.Sub(a.at[n-1]) > gap {
		p.StallLog = append(p.StallLog, [2]float64{ms(a.at[n-1]), 0})
	}
	return p
}

// modeLog is what a session's URL said it sent, as it changed.
type modeLog struct {
	mu    sync.Mutex
	modes []string
	at    []float64 // ms from the POST
}

// poll asks the session's URL for its mode every 250 ms until ctx ends.
func (m *modeLog) poll(ctx context.Context, v *vigil, loc string, t0 time.Time) {
	for sleep(ctx, 250*time.Millisecond) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+v.HTTP()+loc, nil)
		if err != nil {
			return
		}
		req.SetBasicAuth("admin", v.AdminPassword())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		var st struct{ Mode string }
		err = json.NewDecoder(io.LimitReader(res.Body, 4<<10)).Decode(&st)
		res.Body.Close()
		if err != nil || st.Mode == "" {
			continue
		}
		m.mu.Lock()
		if n := len(m.modes); n == 0 || m.modes[n-1] != st.Mode {
			m.modes = append(m.modes, st.Mode)
			m.at = append(m.at, float64(time.Since(t0))/float64(time.Millisecond))
		}
		m.mu.Unlock()
	}
}

// first is when mode was last entered, in ms from the POST; 0 if never.
func (m *modeLog) first(mode string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.modes) - 1; i >= 0; i-- {
		if m.modes[i] == mode {
			return m.at[i]
		}
	}
	return 0
}

func (m *modeLog) list() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for i, mode := range m.modes {
		out = append(out, fmt.Sprintf("%.1f s: %s", m.at[i]/1000, mode))
	}
	return out
}

// stats are poorStats of the runs, and the times back on main.
func (s *webrtcPoor) stats() (ready []time.Duration, missing int, worstStall float64, backUp []time.Duration) {
	runs := make([]poorRun, len(s.results))
	for i, r := range s.results {
		runs[i] = r.poorRun
		if r.backUp > 0 {
			backUp = append(backUp, r.backUp)
		}
	}
	ready, missing, worstStall = poorStats(runs)
	return ready, missing, worstStall, backUp
}

func (s *webrtcPoor) section(b *strings.Builder, r *report) {
	if !s.ran {
		return
	}
	b.WriteString("## WebRTC on a poor network: a WHEP viewer at 800 kbit/s + 150 ms\n\n")
	fmt.Fprintf(b, "The camera of the HLS section above (main the 1080p clip, %.1f Mbit/s; sub the small clip, %.2f Mbit/s) is "+
		"played over WHEP (`POST /api/cameras/{id}/whep` as the admin, who may see both streams) by a pion viewer in the "+
		"generator, with a jitter buffer, NACKs and transport-wide congestion control feedback (pion's default "+
		"interceptors), as a browser has. UDP cannot pass toxiproxy, which proxies TCP, so the viewer's socket is our "+
		"`udppath.Conn`: every datagram Vigil sends it goes, one chunk each, through toxiproxy's own bandwidth toxic "+
		"(%d KB/s, %d kbit/s) behind a queue of %d datagrams that drops when full (tail drop, as a router), then its "+
		"latency toxic (%s); what the viewer sends goes out untouched. Each run plays %s behind the cap: first unit is "+
		"the first complete access unit, from the POST; on sub from is when the session's URL (polled every 250 ms) "+
		"first said sub; a stall is a gap of over %s between two units (open at the end counts); smooth from is the "+
		"start of the first %s without one; ready is the later of smooth from and on sub; stall after is stall "+
		"seconds per minute from then to the end of the cap. Then the cap is lifted (latency alone) and back on "+
		"main is the time until the session's URL says main. Every unit's stamp is checked. The machine's load "+
		"average was %s before and %s after (1, 5, 15 min; 2 cores shared with other work).\n\n",
		r.big.mbps, r.small.mbps, poorLinkKBps, poorLinkKBps*8, poorLinkQueue, poorLinkLatency, s.play, webrtcStallGap,
		playersSmoothSpan, s.load[0], s.load[1])
	b.WriteString("| run | first unit | on sub from | smooth from | ready | stall after (s/min) | played after ready | back on main after the lift | modes (s from the POST) | dropped at the link | lost / repaired pkts | errors |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|\n")
	sec := secs
	for i, run := range s.results {
		errText := ""
		if run.err != nil {
			errText = truncate(run.err.Error(), 120)
		}
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %.2f | %s | %s | %s | %d | %d / %d | %s |\n", i+1, sec(run.p.FirstFrame),
			sec(run.onSub), sec(run.smooth), sec(run.ready()), run.stallRate(), run.after.Round(time.Second),
			sec(float64(run.backUp.Milliseconds())), strings.Join(run.modes, ", "), run.dropped, run.lost, run.late, errText)
	}
	ready, missing, worst, backUp := s.stats()
	fmt.Fprintf(b, "\nReady p50 %s, p95 %s over %d of %d runs (%d never smooth on sub); worst stall after ready %.2f s/min; "+
		"back on main in %d of %d runs.\n\n", sec(float64(percentile(ready, 50).Milliseconds())),
		sec(float64(percentile(ready, 95).Milliseconds())), len(ready), len(s.results), missing, worst, len(backUp), len(s.results))
}

func (s *webrtcPoor) targets(b *strings.Builder, _ *report) {
	if !s.ran {
		return
	}
	ready, missing, worst, backUp := s.stats()
	p95 := percentile(ready, 95)
	ok := missing == 0 && len(ready) > 0 && p95 < playersReadyTarget && worst < playersStallTarget && len(backUp) == len(s.results)
	fmt.Fprintf(b, "- **WebRTC at 800 kbit/s + 150 ms: smooth on the sub stream within 5 s, < 1 s of stall per minute after, back to main when the cap is lifted**: "+
		"%s — ready p50 %.1f s, p95 %.1f s over %d runs (%d never), worst %.2f s/min of stall after, back on main in %d of %d.\n",
		verdict(ok), percentile(ready, 50).Seconds(), p95.Seconds(), len(s.results), missing, worst, len(backUp), len(s.results))
}
