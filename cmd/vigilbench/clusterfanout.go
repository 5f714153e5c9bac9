package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"strings"
)

// crossNodeAim is the aim for a reader's node fed over the bus:
// its CPU per delivered Gbit/s at most this many times the home node's
// for the same readers read locally.
const crossNodeAim = 1.5

// clusterFanout is the fan-out across nodes: one 1080p camera homed on
// node 1 of three, measured with no reader, then read over RTSP by
// readers on node 1 itself (the local fan-out), then, those gone, by
// readers on node 2, which node 1 feeds over NATS.
type clusterFanout struct {
	local      int   // readers on node 1
	remote     []int // reader counts on node 2, step by step
	idle       fanoutRow
	localRows  []fanoutRow // node 1's readers; the measured server is node 1
	remoteRows []fanoutRow // node 2's readers; the measured server is node 2
	load       [2]string   // the machine's load averages at the start and the end
}

func (f *clusterFanout) flags(fs *flag.FlagSet) {
	fs.IntVar(&f.local, "cluster-fanout-local", 0, "readers on the camera's home node in the cross-node fan-out (default 200; quick 10)")
	countsVar(fs, &f.remote, "cluster-fanout", "reader counts on another node, step by step, in the cross-node fan-out (default 1,200; quick 1,10)")
}

func (f *clusterFanout) setDefaults(quick bool) error {
	f.local = cmp.Or(f.local, quickOr(quick, 10, 200))
	if f.remote == nil {
		f.remote = quickOr(quick, []int{1, 10}, []int{1, 200})
	}
	return nil
}

// cameras is 0: the scenario provisions its own, in its cluster's Postgres.
func (f *clusterFanout) cameras() int { return 0 }

func (f *clusterFanout) run(ctx context.Context, b *bench) error {
	f.load[0] = loadAverage()
	defer func() { f.load[1] = loadAverage() }()
	c, err := startCluster(ctx, b, "clusterfanout", 3)
	defer c.stop()
	if err != nil {
		return err
	}
	devs, err := c.addDevices(ctx, "clusterfanout", 1)
	if err != nil {
		return err
	}
	home, away := c.nodes[0], c.nodes[1]
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cam := b.camera(home, devs[0], b.big)
	go cam.Run(cctx)
	if err := waitLive(ctx, home.readURL(devs[0])); err != nil {
		return err
	}
	log.Printf("  no reader")
	sleep(ctx, b.opts.warmup)
	m, err := measure(ctx, home, nil, b.opts.window, c.others(0)...)
	if err != nil {
		return err
	}
	f.idle = fanoutRow{measurement: m}
	log.Printf("  %d readers on node 1 (home)", f.local)
	if err := measureSteps(ctx, b, []int{f.local}, home, home.readURL(devs[0]), cam, &f.localRows, c.others(0)...); err != nil {
		return err
	}
	log.Printf("  %v readers on node 2", f.remote)
	return measureSteps(ctx, b, f.remote, away, away.readURL(devs[0]), cam, &f.remoteRows, c.others(1)...)
}

// loadAverage is the machine's 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if err != nil || len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

// byNode is m's servers in node order, m's own server being node at and
// m.also the other nodes in order.
func byNode(m measurement, at int) []serverWindow {
	own := serverWindow{usage: m.vigil, bus: m.bus}
	if at > len(m.also) {
		return nil
	}
	out := append([]serverWindow{}, m.also[:at]...)
	out = append(out, own)
	return append(out, m.also[at:]...)
}

// crossRow is one row of the cross-node table.
type crossRow struct {
	where string
	at    int // the readers' node (0-based)
	row   fanoutRow
}

func (f *clusterFanout) rows() []crossRow {
	out := []crossRow{{"none (camera only)", 0, f.idle}}
	for _, r := range f.localRows {
		out = append(out, crossRow{"node 1 (home)", 0, r})
	}
	for _, r := range f.remoteRows {
		out = append(out, crossRow{"node 2 (over the bus)", 1, r})
	}
	return out
}

func (f *clusterFanout) section(w *strings.Builder, _ *report) {
	w.WriteString("## Cluster: cross-node fan-out\n\n")
	fmt.Fprintf(w, "Three nodes on one Postgres, embedded NATS routed to each other, as in the failover section. One camera (the 1080p clip) "+
		"publishes to node 1, its home. A window with no reader; then %d RTSP readers on node 1 (the local fan-out, closed after their window); "+
		"then readers on node 2, step by step (%s), which node 1 feeds over the bus (one sealed copy to node 2, whatever its readers). "+
		"Node 3 homes nothing and serves nothing: its CPU is the cluster's idle cost (NATS routes, claims bucket). Every node's CPU is "+
		"sampled in the same window; CPU %%/Gbit/s is the readers' node's CPU over what its readers received. Bus Mbit/s are the nodes' "+
		"`vigil_cluster_bus_sent_bytes_total` and `..._received_bytes_total`. Load averages: %s at the start, %s at the end.\n\n",
		f.local, joinInts(f.remote), f.load[0], f.load[1])
	w.WriteString("| readers | on | delivered Mbit/s | % of ideal | fps/reader | node 1 CPU % | node 2 CPU % | node 3 CPU % | readers' node CPU %/Gbit/s | node 1 bus sent Mbit/s | node 2 bus received Mbit/s | node 1 RSS MiB | node 2 RSS MiB | skips | stalls (readers) | lost pkts | camera reconnects | generator CPU % | other CPU % |\n")
	w.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var rowNote []string
	for _, r := range f.rows() {
		m := r.row.measurement
		nodes := byNode(m, r.at)
		if len(nodes) < 3 {
			continue
		}
		fmt.Fprintf(w, "| %d | %s | %.1f | %s | %s | %.1f | %.1f | %.1f | %s | %s | %s | %.0f | %.0f | %s | %d (%d) | %d | %d | %.0f | %.0f |\n",
			m.rw.readers, r.where, m.rw.mbps, num(pct(m.rw.mbps, r.row.idealMbps), 0), num(m.rw.fpsPerReader, 1),
			nodes[0].cpuPct, nodes[1].cpuPct, nodes[2].cpuPct, perGbit(m.vigil.cpuPct, m.rw.mbps),
			num(nodes[0].bus.sentMbps, 1), num(nodes[1].bus.recvMbps, 1), nodes[0].rssMiB, nodes[1].rssMiB,
			num(m.skips, 0), m.rw.stalls, m.rw.stalledReaders, m.rw.lost, r.row.reconnects, m.bench.cpuPct, max(0, m.otherCPU))
		rowNote = append(rowNote, rowNotes(fmt.Sprintf("%d readers on %s", m.rw.readers, r.where), m)...)
	}
	notes(w, rowNote)
}

// homeCPU is node 1's CPU % in a row of node 2's readers.
func homeCPU(row fanoutRow) float64 {
	if len(row.also) == 0 {
		return math.NaN()
	}
	return row.also[0].cpuPct
}

// steady reports whether b is a's figure within noise: within 25% of it
// or 2% of a core, whichever is larger (the machine is shared).
func steady(a, b float64) bool {
	return math.Abs(b-a) <= max(0.25*a, 2)
}

func (f *clusterFanout) targets(w *strings.Builder, _ *report) {
	if len(f.localRows) == 0 || len(f.remoteRows) == 0 {
		w.WriteString("- **Cross-node fan-out**: not measured (the scenario failed before its readers on node 2).\n")
		return
	}
	local, remote := f.localRows[len(f.localRows)-1], f.remoteRows[len(f.remoteRows)-1]
	if !local.clean() || !remote.clean() || local.rw.mbps <= 0 || remote.rw.mbps <= 0 {
		fmt.Fprintf(w, "- **Cross-node fan-out, node 2 ≤ %.1f× local CPU per Gbit/s**: not judged — a step was not clean "+
			"(local %d stalls, %d ended, %d camera reconnects; node 2 %d, %d, %d).\n", crossNodeAim,
			local.rw.stalls, local.rw.ended, local.reconnects, remote.rw.stalls, remote.rw.ended, remote.reconnects)
	} else {
		l, r := local.vigil.cpuPct/local.rw.mbps*1000, remote.vigil.cpuPct/remote.rw.mbps*1000
		fmt.Fprintf(w, "- **Cross-node fan-out, node 2 ≤ %.1f× local CPU per Gbit/s (%d readers on node 2, %d on node 1, same run)**: %s — node 2 %.1f%% of a core "+
			"for %.0f Mbit/s = %.1f%% per Gbit/s; node 1 with its own %d readers %.1f%% for %.0f Mbit/s = %.1f%% per Gbit/s (%.2f×).\n",
			crossNodeAim, remote.rw.readers, local.rw.readers, verdict(r <= crossNodeAim*l), remote.vigil.cpuPct, remote.rw.mbps, r,
			local.rw.readers, local.vigil.cpuPct, local.rw.mbps, l, r/l)
	}
	first := f.remoteRows[0]
	a, z := homeCPU(first), homeCPU(remote)
	sentA, sentZ := first.also[0].bus.sentMbps, remote.also[0].bus.sentMbps
	fmt.Fprintf(w, "- **Home node's cost independent of the remote readers (%d and %d on node 2)**: %s — node 1 %.1f%% and %.1f%% of a core "+
		"(%.1f%% with no reader), bus sent %s and %s Mbit/s (judged steady within 25%% or 2 points of a core).\n",
		first.rw.readers, remote.rw.readers, verdict(steady(a, z) && steady(sentA, sentZ)), a, z, f.idle.vigil.cpuPct, num(sentA, 1), num(sentZ, 1))
}

// joinInts is "1, 200".
func joinInts(ns []int) string {
	var s []string
	for _, n := range ns {
		s = append(s, fmt.Sprint(n))
	}
	return strings.Join(s, ", ")
}
