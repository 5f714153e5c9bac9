package main

import (
	"fmt"
	"strings"
)

// webrtcSection is the WebRTC fan-out table.
func (r *report) webrtcSection(b *strings.Builder) {
	w := r.webrtc
	if w == nil {
		return
	}
	m := w.m
	b.WriteString("## WebRTC fan-out: one 1080p camera to N WHEP viewers\n\n")
	fmt.Fprintf(b, "The 1080p camera (%.1f Mbit/s, GOP %s) with %d pion viewers in the generator, each joined over WHEP "+
		"(`POST /api/cameras/{id}/whep` as the admin, a complete offer, loopback ICE candidates), ten joins at a time. "+
		"TTFF runs from the POST to the viewer's first complete access unit (depacketized from SRTP). Viewers have a "+
		"jitter buffer and send NACKs, as browsers do: lost counts packets missing on arrival, repaired those of them "+
		"that a retransmission brought back. A stall is a pause of over %s between two frames of a viewer (ones still "+
		"open at the end count); max gap is over the whole run, joins included. Every unit's stamp is checked. Vigil's "+
		"RSS with the camera and no viewer was %.0f MiB. WebRTC is UDP: every packet is SRTP-encrypted for its "+
		"viewer and sent with a syscall of its own (`sendto`, which `syscw` does not count), where RTSP over TCP "+
		"writes a frame per syscall, so its CPU per Gbit/s is not comparable with the RTSP fan-out's.\n\n",
		r.big.mbps, gopDuration(r.big), w.viewers, webrtcStallGap, w.baseRSS)
	b.WriteString("| viewers | failed joins | TTFF p50 | p95 | max | first unit not a keyframe | delivered Mbit/s | % of ideal | fps/viewer | stalls (viewers) | max gap | lost pkts | repaired | bad stamps (viewers) | Vigil CPU % | CPU %/Gbit/s | Vigil RSS MiB | alloc MiB/s | GC/s | generator CPU % | other CPU % |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| %d | %d | %s | %s | %s | %d | %.1f | %.0f | %.1f | %d (%d) | %s | %d | %d | %d | %.1f | %s | %.0f | %s | %s | %.0f | %.0f |\n\n",
		w.viewers, w.failed, ms(percentile(w.ttff, 50)), ms(percentile(w.ttff, 95)), ms(percentile(w.ttff, 100)), w.notKey,
		w.mbps, pct(w.mbps, w.idealMbps), w.fps, w.stalls, w.stalled, ms(w.maxGap), w.lost, w.late, w.badStamps,
		m.vigil.cpuPct, perGbit(m.vigil.cpuPct, w.mbps), m.vigil.rssMiB, num(m.allocMBps, 0), num(m.gcPerSec, 1), m.bench.cpuPct, max(0, m.otherCPU))
}

// webrtcTarget is the WebRTC target line.
func (r *report) webrtcTarget() string {
	w := r.webrtc
	if w == nil {
		return ""
	}
	ok := w.failed == 0 && w.stalls == 0 && w.badStamps == 0 && w.viewers >= 50
	return fmt.Sprintf("- **50 concurrent WebRTC viewers of one camera with no stalls**: %s — %d viewers, %d failed joins, %d stalls, %.1f fps each, "+
		"%.0f Mbit/s delivered (%.0f%% of ideal), TTFF p95 %s; Vigil %.1f%% CPU, %.0f MiB RSS (%.0f MiB without viewers).\n",
		verdict(ok), w.viewers, w.failed, w.stalls, w.fps, w.mbps, pct(w.mbps, w.idealMbps), ms(percentile(w.ttff, 95)),
		w.m.vigil.cpuPct, w.m.vigil.rssMiB, w.baseRSS)
}
