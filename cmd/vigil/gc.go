package main

import "runtime/debug"

// gcPercent is the garbage collector's heap growth between collections
// (GOGC) that serve sets unless the environment sets GOGC (even to 100 or
// "off": the operator chose).
//
// Most of what Vigil keeps live is the GOP caches' payload: byte slices,
// which the collector marks without scanning. GOGC=100 lets the heap grow
// to twice what is live before a collection, which costs the whole cache
// again in resident memory. The collector's CPU per published unit is
// proportional to 1/GOGC whatever the number of cameras (a collection
// costs in proportion to the live heap, and comes after GOGC% of it was
// allocated), while the memory saved shrinks: 50 is the knee.
// vigilbench -run cameras, same binary one run after another (2026-12-03,
// load 10-20), RSS without readers at 150 and 500 cameras: 132 and 322 MiB
// at GOGC=100, 107 and 269 at 50, 98-105 and 239-247 at 25; collections
// 0.7/s, 1.4/s, 2.5-3/s. BenchmarkManyCamerasGC (internal/hub, the same
// traffic in one process): the collector's CPU about 300, 600 and 900 ns
// per unit, +0.4 and +0.75% of a core at 500 cameras (12,500 units/s)
// for 50 and 25 against 100. A soft memory limit of live + 32 MiB was
// tried before (memtune, reverted in f0ea74e): it counted fragmentation
// and unreleased pages against the 32 MiB and ran the collector 20 times
// a second at 500 cameras; GOGC keeps the goal proportional to the live
// heap, so collections cannot run away.
const gcPercent = 50

// tuneGC sets the collector's heap growth to gcPercent unless environ
// sets GOGC.
func tuneGC(environ []string) {
	if envValue(environ, "GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
