package main

import "runtime/debug"

// gcPercent is the garbage collector's heap growth between collections
// (GOGC) that serve sets unless the environment sets GOGC (even to 100 or
// "off": the operator chose).
//
// Most of what Vigil keeps live is the GOP caches' payload: byte slices,
// which the collector marks without scanning. At GOGC=100 the heap grows
// to twice what is live before a collection, which holds the whole cache
// a second time in resident memory. The collector's CPU per published unit
// grows as 1/GOGC while the memory saved shrinks. 25 was tried once ingest
// allocated each payload byte once (rss2): at 500 cameras on a quiet
// machine, alternating runs of the same binary (2026-12-03 18:37-18:40
// UTC), it held 32-38 MiB less than 50 but cost 2-3 points more of a core
// (30% against 27% with no readers, 46% against 44% with one each), which
// is what puts Vigil's CPU over go2rtc's there; so 50 (figures in
// BENCHMARKS.md, "Many cameras"). Unlike a soft memory limit (memtune,
// reverted in f0ea74e: the collector ran 20 times a second at 500
// cameras), the goal stays proportional to the live heap, so collections
// cannot run away.
const gcPercent = 50

// tuneGC sets the collector's heap growth to gcPercent unless environ
// sets GOGC.
func tuneGC(environ []string) {
	if envValue(environ, "GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
