package main

import (
	"math"
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want uint64
		ok   bool
	}{
		{"plain", "1234 (vigil) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 5000 1000000 2000", 325, true},
		{"comm with spaces and parens", "42 (a) b (c)) R 1 42 42 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1", 10, true},
		{"truncated", "42 (x) R 1 2 3", 0, false},
		{"no comm", "42 x R", 0, false},
		{"not a number", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 u 3 0", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.in))
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("parseStat = %d, %v; want %d, ok=%v", got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParseStatParent(t *testing.T) {
	ppid, ticks, err := parseStatParent([]byte("77 (chromium (renderer)) S 42 77 77 0 -1 0 0 0 0 0 30 12 0 0 20 0 1 0 1 1 1"))
	if err != nil || ppid != 42 || ticks != 42 {
		t.Fatalf("parseStatParent = %d, %d, %v; want 42, 42", ppid, ticks, err)
	}
	if _, _, err := parseStatParent([]byte("77 (x) S parent 77 77 0 -1 0 0 0 0 0 30 12 0")); err == nil {
		t.Fatal("parseStatParent with a bad ppid: want an error")
	}
}

func TestDescendantTicks(t *testing.T) {
	procs := map[int]procTicks{
		1:  {0, 1000}, // init, not in the tree
		10: {1, 5},    // the browser
		11: {10, 7},   // zygote
		12: {11, 100}, // renderer, grandchild
		13: {10, 3},   // GPU process
		20: {1, 50},   // unrelated
	}
	tests := []struct {
		name string
		root int
		want uint64
	}{
		{"tree", 10, 115},
		{"subtree", 11, 107},
		{"leaf", 13, 3},
		{"gone", 99, 0},
		{"no root", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := descendantTicks(procs, tt.root); got != tt.want {
				t.Fatalf("descendantTicks(%d) = %d, want %d", tt.root, got, tt.want)
			}
		})
	}
}

func TestParseStatusAndIO(t *testing.T) {
	status := "Name:\tvigil\nVmPeak:\t  99999 kB\nVmRSS:\t   51234 kB\nRssAnon:\t   20000 kB\nRssFile:\t   31234 kB\nThreads:\t9\n"
	if rss, anon, err := parseStatusRSS([]byte(status)); err != nil || rss != 51234 || anon != 20000 {
		t.Fatalf("parseStatusRSS = %d, %d, %v; want 51234, 20000", rss, anon, err)
	}
	if _, _, err := parseStatusRSS([]byte("Name:\tzombie\n")); err == nil {
		t.Fatal("parseStatusRSS without VmRSS: want an error")
	}
	io := "rchar: 10\nwchar: 123456\nsyscr: 5\nsyscw: 789\nread_bytes: 0\n"
	if sc, wc, err := parseIO([]byte(io)); err != nil || sc != 789 || wc != 123456 {
		t.Fatalf("parseIO = %d, %d, %v; want 789, 123456", sc, wc, err)
	}
}

func TestParseCPUBusy(t *testing.T) {
	stat := "cpu  100 5 20 1000 50 1 2 3 0 0\ncpu0 50 2 10 500 25 0 1 1 0 0\n"
	busy, steal, err := parseCPUBusy([]byte(stat))
	// user+nice+system+irq+softirq+steal = 100+5+20+1+2+3; idle and iowait excluded.
	if err != nil || busy != 131 || steal != 3 {
		t.Fatalf("parseCPUBusy = %d, %d, %v; want 131, 3", busy, steal, err)
	}
	if _, _, err := parseCPUBusy([]byte("intr 1 2 3\n")); err == nil {
		t.Fatal("parseCPUBusy without a cpu line: want an error")
	}
}

// TestSampleSelf reads this process's own /proc entries.
func TestSampleSelf(t *testing.T) {
	s, err := sampleProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.rssKiB == 0 || s.anonKiB == 0 || s.anonKiB > s.rssKiB {
		t.Fatalf("RSS of the test process %d KiB, anonymous %d KiB", s.rssKiB, s.anonKiB)
	}
}

func TestUsageBetween(t *testing.T) {
	t0 := time.Unix(100, 0)
	a := procSample{at: t0, cpuTicks: 1000, syscw: 10, wchar: 1000, ioOK: true}
	b := procSample{at: t0.Add(2 * time.Second), cpuTicks: 1100, rssKiB: 2048, anonKiB: 1024, syscw: 110, wchar: 21000, ioOK: true}
	u := usageBetween(a, b)
	// 100 ticks = 1 s of CPU over 2 s = 50% of a core.
	if u.cpuPct != 50 || u.rssMiB != 2 || u.anonMiB != 1 || u.writesPerSec != 50 || u.bytesPerWrite != 200 {
		t.Fatalf("usageBetween = %+v", u)
	}
	b.ioOK = false
	if u := usageBetween(a, b); !math.IsNaN(u.writesPerSec) {
		t.Fatalf("writes/s without io = %v, want NaN", u.writesPerSec)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 95, 7 * time.Millisecond},
		{"median of unsorted", ms(5, 1, 4, 2, 3), 50, 3 * time.Millisecond},
		{"p95 of 20 is the 19th", ms(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 95, 19 * time.Millisecond},
		{"p100 is the max", ms(3, 9, 1), 100, 9 * time.Millisecond},
		{"tiny p is the min", ms(3, 9, 1), 0.1, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tt.in...)
			if got := percentile(tt.in, tt.p); got != tt.want {
				t.Fatalf("percentile(%v, %v) = %v, want %v", tt.in, tt.p, got, tt.want)
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Fatal("percentile modified its input")
				}
			}
		})
	}
}
