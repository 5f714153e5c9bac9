package main

import "runtime/debug"

// gcPercent is the garbage collector's heap growth between collections
// (GOGC) that serve sets unless the environment sets GOGC (even to 100 or
// "off": the operator chose).
//
// Most of what Vigil keeps live is the GOP caches' payload: byte slices,
// which the collector marks without scanning. A collection therefore
// costs about the same whatever the cache holds, and GOGC=100, which lets
// the heap grow to twice what is live before one, costs the whole cache
// again in resident memory. Measured with vigilbench -run cameras at
// 150 and 500 cameras of 0.5 Mbit/s (2026-12-03, same binary, one run
// after another, load 14-20): RSS without readers 132/322 MiB at GOGC=100,
// 107/269 at 50, 103/247 at 25; collections 0.6-0.8/s, 1.2-1.8/s and
// 2-3/s; the collector's CPU in the CPU profiles from 0.2% to 0.5% of a
// core at 150 cameras and from 0.7% to 1.6% at 500. A soft memory limit
// of live + 32 MiB was tried before (memtune, reverted in f0ea74e): it
// counted fragmentation and unreleased pages against the 32 MiB and ran
// the collector 20 times a second at 500 cameras. GOGC keeps the goal
// proportional to what is live, so collections per second stay at
// allocation rate ÷ (GOGC% × live) and cannot run away.
const gcPercent = 25

// tuneGC sets the collector's heap growth to gcPercent unless environ
// sets GOGC.
func tuneGC(environ []string) {
	if envValue(environ, "GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
