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
// grows as 1/GOGC while the memory saved shrinks. At 50 (figures in
// BENCHMARKS.md, "Many cameras") ingest allocated each payload byte twice,
// once as the packet the depacketizer referred to and once as the unit;
// since it allocates it once (the unit), a collection comes half as often
// per unit, and 25 runs the collector about as often as 50 did then
// (500 cameras: 75 MiB/s allocated at 1.3 collections a second before,
// 35 MiB/s after) while the heap's headroom over what is live halves:
// 30 MiB less resident at 500 cameras, 14 at 150 (2026-12-03, a loaded
// machine). Unlike a soft memory limit (memtune, reverted in f0ea74e: the
// collector ran 20 times a second at 500 cameras), the goal stays
// proportional to the live heap, so collections cannot run away.
const gcPercent = 25

// tuneGC sets the collector's heap growth to gcPercent unless environ
// sets GOGC.
func tuneGC(environ []string) {
	if envValue(environ, "GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
