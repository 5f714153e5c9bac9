package main

import (
	"fmt"
	"math"
	"time"
)

// ttffStats summarises the joins.
type ttffStats struct {
	p50, p95, max, handshakeP50 time.Duration
	failed, notKey, noInband    int
	sdp, partial                int
}

func (t ttffResult) stats() ttffStats {
	var s ttffStats
	var ttffs, hs []time.Duration
	for _, j := range t.joins {
		if j.err != nil {
			s.failed++
			continue
		}
		ttffs, hs = append(ttffs, j.ttff), append(hs, j.handshake)
		s.max = max(s.max, j.ttff)
		s.notKey += b2i(!j.firstKey)
		s.noInband += b2i(!j.inband)
		s.sdp += b2i(j.sdpParams)
		s.partial += b2i(j.partial)
	}
	s.p50, s.p95, s.handshakeP50 = percentile(ttffs, 50), percentile(ttffs, 95), percentile(hs, 50)
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func findFanout(rows []fanoutRow, readers int) (fanoutRow, bool) {
	for _, f := range rows {
		if f.rw.readers == readers {
			return f, true
		}
	}
	return fanoutRow{}, false
}

func findCameras(rows []cameraRow, n int) (cameraRow, bool) {
	for _, c := range rows {
		if c.cameras == n {
			return c, true
		}
	}
	return cameraRow{}, false
}

func gopDuration(c clip) time.Duration {
	if c.fps == 0 {
		return 0
	}
	return time.Duration(c.gop) * time.Second / time.Duration(c.fps)
}

func pct(x, of float64) float64 {
	if of == 0 {
		return math.NaN()
	}
	return 100 * x / of
}

// perGbit is CPU % per delivered Gbit/s.
func perGbit(cpuPct, mbps float64) string {
	if mbps <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", cpuPct/mbps*1000)
}

// num formats x with prec decimals, or "n/a" for NaN.
func num(x float64, prec int) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%.*f", prec, x)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
