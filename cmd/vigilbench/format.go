package main

import (
	"fmt"
	"math"
	"time"
)

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
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
