package webrtc

import (
	"cmp"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// pathEstimate is a PeerConnection's estimate of what its path carries,
// from transport-wide congestion control feedback (TWCC,
// draft-holmer-rmcat-transport-wide-cc-extensions-01): pion's TWCC
// interceptor numbers every packet sent, the peer reports which arrived
// and when, and pion's cc interceptor hands us both sides.
//
// The estimate is simple, because what it feeds chooses among a few fixed
// rates (main, sub, keyframes, stills), not an encoder's bitrate. Over the
// last two seconds of reports (a camera sends most of its bits in one
// keyframe a GOP), it is the rate at which the path spread the packet
// trains sent (trainRate): the rate of the path's slowest link, measured
// without filling it, but never under what the path delivered. Without trains, it falls back to what was
// delivered: when more than 5 % of packets were lost, or the queuing
// delay (one-way delay above the lowest seen in ten seconds) exceeds
// 300 ms, the path carries what it delivered; otherwise at least twice
// that. (pion's GCC, tried first, never left its initial estimate on a
// link that drops a keyframe's burst.)
type pathEstimate struct {
	mu      sync.Mutex
	ext     uint8                // guarded by mu; the TWCC header extension's id; 0: none
	sent    [sentRing]sentPacket // guarded by mu; by transport sequence number
	reports []report             // guarded by mu; the last second's, oldest first
	base    []delaySample        // guarded by mu; lowest delays, for the baseline
	rate    int                  // guarded by mu; bits/s; 0 until a report came
	basis   basis                // guarded by mu; what rate came from
	since   time.Time            // guarded by mu; packets sent before are not reported (forget)
	// train is the last window's packet-train rate, of at (guarded by mu):
	// it stands for trainKeep in a window without one.
	train   int
	trainAt time.Time
}

// basis is what an estimate came from, for the log line of a change of
// mode: the packet trains' median rate, or what was delivered, with the
// window's loss and median queuing delay.
type basis struct {
	trains    int
	lossPct   float64
	queued    time.Duration
	delivered int
}

// LogValue lets slog print the basis as a group.
func (b basis) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("trains", b.trains), slog.Float64("loss_pct", b.lossPct),
		slog.Duration("queued", b.queued), slog.Int("delivered", b.delivered))
}

// sentRing is how many packets sent are remembered for their reports:
// several seconds at a main stream's rate.
const sentRing = 8192

// Congestion thresholds (see pathEstimate).
const (
	congestedLoss  = 0.05
	congestedDelay = 300 * time.Millisecond
	reportWindow   = 2 * time.Second
	baselineWindow = 10 * time.Second
)

type sentPacket struct {
	seq  uint16
	at   time.Time
	size int
	ok   bool // set when recorded
}

// report is one packet's fate: when it left, its size, and when it
// arrived on the peer's clock (zero: lost).
type report struct {
	got      time.Time // when the report came
	departed time.Time
	arrived  time.Duration
	size     int
	lost     bool
}

type delaySample struct {
	at    time.Time
	delay time.Duration // arrival (peer's clock) − departure (ours): offset plus path delay
}

var _ cc.BandwidthEstimator = (*pathEstimate)(nil)

// AddStream records every packet of a stream as it leaves (pion calls it
// once per stream, inside the interceptor chain, after the TWCC
// interceptor numbered the packet).
func (e *pathEstimate) AddStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	var id uint8
	for _, x := range info.RTPHeaderExtensions {
		if x.URI == twccURI {
			id = uint8(x.ID)
		}
	}
	if id == 0 {
		return w
	}
	e.mu.Lock()
	e.ext = id
	e.mu.Unlock()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		var tcc rtp.TransportCCExtension
		if tcc.Unmarshal(h.GetExtension(id)) == nil {
			e.mu.Lock()
			e.sent[tcc.TransportSequence%sentRing] = sentPacket{seq: tcc.TransportSequence, at: time.Now(),
				size: h.MarshalSize() + len(payload), ok: true}
			e.mu.Unlock()
		}
		return w.Write(h, payload, a)
	})
}

// twccURI is the TWCC header extension's URI (RFC 8285 extmap).
const twccURI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

// WriteRTCP takes the peer's RTCP; TWCC reports update the estimate.
func (e *pathEstimate) WriteRTCP(pkts []rtcp.Packet, _ interceptor.Attributes) error {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range pkts {
		if fb, ok := p.(*rtcp.TransportLayerCC); ok {
			e.take(now, fb)
		}
	}
	e.rate = e.estimate(now)
	return nil
}

// take adds one TWCC report's packets. Caller holds mu.
func (e *pathEstimate) take(now time.Time, fb *rtcp.TransportLayerCC) {
	arrival := time.Duration(fb.ReferenceTime) * 64 * time.Millisecond
	seq, deltas, left := fb.BaseSequenceNumber, fb.RecvDeltas, int(fb.PacketStatusCount)
	status := func(sym uint16) {
		if left <= 0 {
			return
		}
		left--
		r := report{got: now, lost: sym == rtcp.TypeTCCPacketNotReceived}
		if !r.lost && len(deltas) > 0 {
			arrival += time.Duration(deltas[0].Delta) * time.Microsecond
			deltas = deltas[1:]
			r.arrived = arrival
		}
		if s := e.sent[seq%sentRing]; s.ok && s.seq == seq && !s.at.Before(e.since) {
			r.departed, r.size = s.at, s.size
			e.reports = append(e.reports, r)
			if !r.lost {
				e.sample(now, r.arrived-time.Duration(s.at.UnixNano()))
			}
		}
		seq++
	}
	for _, c := range fb.PacketChunks {
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			for range c.RunLength {
				status(c.PacketStatusSymbol)
			}
		case *rtcp.StatusVectorChunk:
			for _, sym := range c.SymbolList {
				status(sym)
			}
		}
	}
	i := 0
	for i < len(e.reports) && now.Sub(e.reports[i].got) > reportWindow {
		i++
	}
	e.reports = e.reports[i:]
}

// sample keeps the delays that can still be the lowest of the baseline
// window (a monotonic queue). Caller holds mu.
func (e *pathEstimate) sample(now time.Time, d time.Duration) {
	for len(e.base) > 0 && e.base[len(e.base)-1].delay >= d {
		e.base = e.base[:len(e.base)-1]
	}
	e.base = append(e.base, delaySample{at: now, delay: d})
	for len(e.base) > 1 && now.Sub(e.base[0].at) > baselineWindow {
		e.base = e.base[1:]
	}
}

// estimate is the path's rate from the window's reports. Caller holds mu.
//
// A path carries at least what it delivered, congested or not: a train
// that arrived spread wider than the link's rate (the receiver paused
// while it came, a shaper's timer ran late) does not bring the estimate
// under it. One such train, the only one in the window of a sub stream
// with a keyframe every two seconds, read 390 kbit/s on an 800 kbit/s
// link carrying the sub stream's 520 kbit/s cleanly, and the session fell
// to keyframes; congested, where the train alone was taken, one read
// 216 kbit/s on that link delivering 1.1 Mbit/s of a sub stream's
// catch-up.
func (e *pathEstimate) estimate(now time.Time) int {
	train, trains := trainRate(e.reports)
	kept := 0
	if train > 0 {
		e.train, e.trainAt = train, now
	} else if now.Sub(e.trainAt) < trainKeep {
		// A sub stream's keyframe, its only train, comes every GOP: as
		// often as the window turns over. Without this, the estimate fell
		// to twice what was delivered whenever one keyframe's reports had
		// left the window before the next one's came, the probe up's
		// three seconds above never ran, and a session stayed on sub
		// after the cap was lifted. It stands only while the path is not
		// congested.
		kept = e.train
	}
	var lost, bytes int
	var first, last time.Duration
	var queued []time.Duration
	for _, r := range e.reports {
		if r.lost {
			lost++
			continue
		}
		if bytes == 0 || r.arrived < first {
			first = r.arrived
		}
		last = max(last, r.arrived)
		bytes += r.size
		queued = append(queued, r.arrived-time.Duration(r.departed.UnixNano())-e.base[0].delay)
	}
	if bytes == 0 {
		e.basis = basis{trains: trains}
		return cmp.Or(train, e.rate)
	}
	span := max(last-first, reportWindow/2) // a window just begun (forget) is not a rate
	delivered := int(float64(bytes*8) / span.Seconds())
	e.basis = basis{trains: trains, lossPct: 100 * float64(lost) / float64(len(e.reports)), queued: median(queued), delivered: delivered}
	congested := float64(lost) > congestedLoss*float64(len(e.reports)) || e.basis.queued > congestedDelay
	switch {
	case train > 0:
		return max(train, delivered)
	case congested:
		return delivered
	}
	return max(kept, 2*delivered)
}

// Packet trains: packets sent back to back (a keyframe's burst leaves
// faster than any access link carries it) arrive spaced by the slowest
// link on the path, so a train's bytes over its arrival span are that
// link's rate (packet-train dispersion), whether or not the link is
// loaded. A train has at least trainMin packets received.
const (
	trainGap = 2 * time.Millisecond
	trainMin = 5
	// trainKeep is how long a window's train rate stands in a window
	// without one: more than a GOP.
	trainKeep = 4 * time.Second
)

// trainRate is the median rate of the trains among reports, in bits/s,
// and how many there were; 0 when there are none.
func trainRate(reports []report) (int, int) {
	var rates []int
	start := 0
	for i := 1; i <= len(reports); i++ {
		if i < len(reports) && reports[i].departed.Sub(reports[i-1].departed) < trainGap {
			continue
		}
		if r := oneTrain(reports[start:i]); r > 0 {
			rates = append(rates, r)
		}
		start = i
	}
	if len(rates) == 0 {
		return 0, 0
	}
	slices.Sort(rates)
	return rates[len(rates)/2], len(rates)
}

// oneTrain is the rate one train arrived at; 0 if too few of it arrived.
func oneTrain(t []report) int {
	n, bytes := 0, 0
	var first, last time.Duration
	for _, r := range t {
		if r.lost {
			continue
		}
		if n == 0 {
			first = r.arrived
		} else {
			bytes += r.size // the first packet's bytes arrived before its time
		}
		last = max(last, r.arrived)
		n++
	}
	if n < trainMin || last <= first {
		return 0
	}
	return int(float64(bytes*8) / (last - first).Seconds())
}

// median of ds (which it sorts); 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// forget drops the reports, and those to come of the packets sent so far:
// the session changed what it sends, and the path's state under the old
// stream (its queue, its losses) says nothing of the new one. Before,
// the old stream's packets still queued on the link, reported lost or
// late after a switch to the sub stream, moved the session on down to
// keyframes within a second of the switch. The delay baseline stays.
func (e *pathEstimate) forget() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reports, e.rate, e.since, e.train = e.reports[:0], 0, time.Now(), 0
}

// why is what the estimate came from, for the log.
func (e *pathEstimate) why() basis {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.basis
}

// GetTargetBitrate is the estimate in bits/s; 0 until the peer reported.
func (e *pathEstimate) GetTargetBitrate() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rate
}

// OnTargetBitrateChange is not used: the session reads the estimate.
func (e *pathEstimate) OnTargetBitrateChange(func(int)) {}

// GetStats reports the estimate.
func (e *pathEstimate) GetStats() map[string]any {
	return map[string]any{"rate": e.GetTargetBitrate()}
}

// Close lets go of the reports.
func (e *pathEstimate) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reports, e.base = nil, nil
	return nil
}
