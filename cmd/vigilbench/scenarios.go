package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"strings"
)

// scenarios is the bench's table: every scenario, in the order they run
// and are reported. A scenario is one file (its settings, its run and its
// section of BENCHMARKS.md); its line here is all that registers it.
func scenarios() []entry {
	return []entry{
		{"fanout", "RTSP fan-out: one 1080p camera to N readers, CPU and writes per delivered Gbit/s", &fanout{}},
		{"cameras", "many cameras: N small cameras, one RTSP reader each, CPU and RSS per camera", &manyCameras{}},
		{"ttff", "RTSP time to first decodable frame, from before the TCP connection", &ttff{}},
		{"slow", "a slow RTSP reader beside a full-speed one: skips, not stalls", &slow{}},
		{"stills", "cached stills under an open-loop load, and stills of fresh keyframes", &stills{}},
		{"httpttff", "time to first frame over progressive MP4 and LL-HLS, warm and cold", &httpTTFF{}},
		{"seek", "seeks in sealed recordings: a clip from a random point to its first fragment", &seek{}},
		{"recording", "N cameras recorded, sealed to disk, against live only: CPU, RSS, writes, fsyncs", &recordCost{}},
		{"llhls", "LL-HLS glass-to-glass latency of a player-like loop", &llhls{}},
		{"webrtc", "WebRTC fan-out: N WHEP viewers of one 1080p camera", &webrtcFanout{}},
		{"tls", "TLS costs: RTSPS against plain RTSP, HTTPS stills", &tlsCost{}},
		{"webui", "click to first frame on the owner's web page in Chromium", &webUI{}},
		{"players", "hls.js and Shaka Player in Chromium behind 800 kbit/s + 150 ms: time until smooth on the sub stream", &players{}},
		{"clusterfanout", "three cluster nodes: one 1080p camera's readers on its home node, then on another fed over the bus", &clusterFanout{}},
		{"clustercams", "many cameras over three cluster nodes, each viewer on another node: CPU and RSS per node", &clusterCameras{}},
		{"webrtc-poor", "a WHEP viewer behind 800 kbit/s + 150 ms: time until smooth on the sub stream, back to main when lifted", &webrtcPoor{}},
		{"failover", "three cluster nodes, one killed: time until its cameras are seen again from another node", &failover{}},
	}
}

// entry is one line of the table.
type entry struct {
	name     string // what -run selects
	measures string // what it measures, for -h and the progress log
	scenario scenario
}

// scenario is one measurement. Its value holds its settings (from its
// flags) and, once run, its figures.
type scenario interface {
	// flags declares the scenario's own flags, zero by default.
	flags(fs *flag.FlagSet)
	// setDefaults fills the flags left zero, smaller for a quick run, and
	// checks them.
	setDefaults(quick bool) error
	// cameras is how many provisioned cameras it uses, the first ones.
	cameras() int
	// run measures. It keeps the figures of the steps it finished when it
	// fails, and returns when ctx ends.
	run(ctx context.Context, b *bench) error
	// section writes its section of the report.
	section(w *strings.Builder, r *report)
	// targets writes its lines of the report's Targets section.
	targets(w *strings.Builder, r *report)
}

// noFlags is embedded by a scenario without flags of its own.
type noFlags struct{}

func (noFlags) flags(*flag.FlagSet)    {}
func (noFlags) setDefaults(bool) error { return nil }

// oneCamera is embedded by a scenario that uses the first camera alone.
type oneCamera struct{}

func (oneCamera) cameras() int { return 1 }

// noTargets is embedded by a scenario with no line in the Targets section.
type noTargets struct{}

func (noTargets) targets(*strings.Builder, *report) {}

// selectRun returns the scenarios -run names, in the table's order; empty
// selects all.
func selectRun(all []entry, run string) ([]entry, error) {
	if run == "" {
		return all, nil
	}
	want := map[string]bool{}
	for f := range strings.SplitSeq(run, ",") {
		want[strings.TrimSpace(f)] = true
	}
	var names []string
	var picked []entry
	for _, e := range all {
		names = append(names, e.name)
		if want[e.name] {
			picked = append(picked, e)
			delete(want, e.name)
		}
	}
	for name := range want {
		return nil, fmt.Errorf("-run: unknown scenario %q (have %s)", name, strings.Join(names, ","))
	}
	return picked, nil
}

// camerasNeeded is how many cameras the scenarios use together.
func camerasNeeded(run []entry) int {
	n := 1
	for _, e := range run {
		n = max(n, e.scenario.cameras())
	}
	return n
}

// runAll runs the scenarios in order and returns those it ran; a scenario
// that fails is reported with the steps it finished, and the others still
// run.
func (b *bench) runAll(ctx context.Context, run []entry, rep *report) []entry {
	var ran []entry
	for _, e := range run {
		if ctx.Err() != nil {
			break
		}
		log.Printf("%s: %s", e.name, e.measures)
		if err := e.scenario.run(ctx, b); err != nil {
			rep.fail(e.name, err)
		}
		ran = append(ran, e)
	}
	return ran
}
