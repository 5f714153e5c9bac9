package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strings"

	"vigil/internal/sim"
)

// clusterCameras is many cameras over a cluster: camera j publishes to
// node j mod 3 and its one RTSP viewer reads it on node j+1 mod 3, so
// that every viewer is fed over the bus.
type clusterCameras struct {
	steps []int // camera counts
	rows  []cameraRow
	load  [2]string // the machine's load averages at the start and the end
}

func (c *clusterCameras) flags(fs *flag.FlagSet) {
	countsVar(fs, &c.steps, "cluster-cameras", "camera counts over three cluster nodes, viewers on other nodes (default 50,150,300,500; quick 6,15)")
}

func (c *clusterCameras) setDefaults(quick bool) error {
	if c.steps == nil {
		c.steps = quickOr(quick, []int{6, 15}, []int{50, 150, 300, 500})
	}
	return nil
}

// cameras is 0: the scenario provisions its own, in its cluster's Postgres.
func (c *clusterCameras) cameras() int { return 0 }

func (c *clusterCameras) run(ctx context.Context, b *bench) error {
	c.load[0] = loadAverage()
	defer func() { c.load[1] = loadAverage() }()
	cl, err := startCluster(ctx, b, "clustercams", 3)
	defer cl.stop()
	if err != nil {
		return err
	}
	n := c.steps[len(c.steps)-1]
	log.Printf("  adding %d cameras", n)
	devs, err := cl.addDevices(ctx, "clustercams", n)
	if err != nil {
		return err
	}
	log.Printf("  %v cameras", c.steps)
	nodes := cl.nodes
	return b.cameraSteps(ctx, cameraPlan{steps: c.steps, devs: devs,
		camera:  func(j int, d device) *sim.Camera { return b.camera(nodes[j%len(nodes)], d, b.small) },
		readURL: func(j int, d device) string { return nodes[(j+1)%len(nodes)].readURL(d) },
		srv:     nodes[0], also: cl.others(0)}, &c.rows)
}

func (c *clusterCameras) section(w *strings.Builder, _ *report) {
	w.WriteString("## Cluster: many cameras over three nodes, viewers on other nodes\n\n")
	fmt.Fprintf(w, "The same three nodes as above. Camera j (the small clip) publishes to node j mod 3 and its one RTSP viewer reads it "+
		"on node j+1 mod 3: every viewer is fed over the bus, every node homes a third of the cameras and serves another third's "+
		"viewers. Cameras are added step by step (%s), keeping the earlier ones; a step fits when no reader stalls, no camera "+
		"reconnects and over 95%% of the ideal rate is delivered. Each cell is CPU %% of a core / RSS MiB; bus Mbit/s "+
		"sent / received. Load averages: %s at the start, %s at the end.\n\n", joinInts(c.steps), c.load[0], c.load[1])
	w.WriteString("| cameras | delivered Mbit/s | % of ideal | fps/reader | node 1 CPU % / RSS MiB | node 2 | node 3 | nodes' CPU % per camera | node 1 bus Mbit/s | node 2 | node 3 | stalls (readers) | lost pkts | camera reconnects | generator CPU % | other CPU % |\n")
	w.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var rowNote []string
	for _, row := range c.rows {
		m := row.measurement
		nodes := byNode(m, 0)
		var use, bus []string
		total := 0.0
		for _, n := range nodes {
			use = append(use, fmt.Sprintf("%.1f / %.0f", n.cpuPct, n.rssMiB))
			bus = append(bus, num(n.bus.sentMbps, 0)+" / "+num(n.bus.recvMbps, 0))
			total += n.cpuPct
		}
		fmt.Fprintf(w, "| %d | %.1f | %.0f | %.1f | %s | %.3f | %s | %d (%d) | %d | %d | %.0f | %.0f |\n",
			row.cameras, m.rw.mbps, pct(m.rw.mbps, row.idealMbps), m.rw.fpsPerReader, strings.Join(use, " | "),
			total/float64(row.cameras), strings.Join(bus, " | "), m.rw.stalls, m.rw.stalledReaders, m.rw.lost, row.reconnects,
			m.bench.cpuPct, max(0, m.otherCPU))
		rowNote = append(rowNote, rowNotes(fmt.Sprintf("%d cameras", row.cameras), m)...)
	}
	notes(w, rowNote)
}

func (c *clusterCameras) targets(w *strings.Builder, _ *report) {
	largest := -1
	for i, row := range c.rows {
		if row.fits() {
			largest = i
		}
	}
	want := c.steps[len(c.steps)-1]
	switch {
	case largest < 0:
		fmt.Fprintf(w, "- **%d cameras over 3 nodes, viewers on other nodes**: **not met** — no step fit.\n", want)
	default:
		row := c.rows[largest]
		var per []string
		for i, n := range byNode(row.measurement, 0) {
			per = append(per, fmt.Sprintf("node %d %.1f%% CPU, %.0f MiB", i+1, n.cpuPct, n.rssMiB))
		}
		fmt.Fprintf(w, "- **%d cameras over 3 nodes, viewers on other nodes**: %s — the largest step that fit: %d cameras (%s; "+
			"%.0f%% of the ideal delivered, generator %.0f%% CPU).\n", want, verdict(row.cameras == want), row.cameras,
			strings.Join(per, "; "), pct(row.rw.mbps, row.idealMbps), row.bench.cpuPct)
	}
}
