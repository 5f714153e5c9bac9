package record

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Every way recorded footage can be dropped or abandoned has a reason:
// it is counted by reason (vigil_record_dropped_fragments_total{reason}
// for fragments, vigil_record_failed_segments_total{reason} for whole
// segments, vigil_record_unindexed_segments_total for stored segments
// left without a row) and logged, at most once per lossLogEvery per reason, with the
// camera, the error and what to do about it.
type lossReason int

const (
	// Fragments (GOPs) dropped; the segment goes on without them.
	lossQueueFull    lossReason = iota // the writer queue was full
	lossReaderBehind                   // the hub skipped the recorder's reader to the next keyframe
	lossNoStart                        // a segment could not start at the keyframe
	// Whole segments lost.
	lossFirstFragment // the first fragment did not fit the writer queue
	lossMux           // the muxer refused a unit
	lossEgress        // the reader's egress check failed
	lossStore         // the blob store refused the put, or sealing failed
	lossStoreStalled  // the blob store took nothing for StoreTimeout
	// Not lost: a stored segment left without a row, for Reconcile.
	lossUnindexed
	nLossReasons
)

// What a loss reason counts.
const (
	lostFragments = iota
	lostSegments
	leftUnindexed
)

// lossReasons describes each reason: its label, what it counts, what
// happened and what to do.
var lossReasons = [nLossReasons]struct {
	label string
	kind  int
	what  string
	fix   string
}{
	lossQueueFull: {"queue_full", lostFragments, "recorder: the store falls behind; fragments dropped from the writer queue",
		"give the blob store more write throughput (disk, S3 endpoint) or record fewer streams; live viewing is not slowed"},
	lossReaderBehind: {"reader_behind", lostFragments, "recorder: the recorder fell behind the camera; the hub skipped it to the next keyframe",
		"the recorder did not get the CPU to keep up: check the machine's load or record fewer streams"},
	lossNoStart: {"no_start", lostFragments, "recorder: a segment could not start; its GOP is not recorded",
		"check the database (the camera's ownership epoch could not be read); the recorder tries again at the next keyframe"},
	lossFirstFragment: {"first_fragment", lostSegments, "recorder: segment lost: its first GOP is larger than the writer queue",
		"shorten the camera's GOP (keyframe interval) or lower its bitrate"},
	lossMux: {"mux", lostSegments, "recorder: segment lost: the stream did not mux",
		"the camera sent what the fMP4 muxer refuses; report it with the error"},
	lossEgress: {"egress", lostSegments, "recorder: segment lost: the reader's egress check refused a frame",
		"an isolation check failed (see the hub's error); the recorder joins the camera's next session"},
	lossStore: {"store", lostSegments, "recorder: segment lost: the blob store refused it",
		"check the blob store's errors and free space"},
	lossStoreStalled: {"store_stalled", lostSegments, "recorder: segment lost: the blob store took nothing for the store timeout",
		"check that the blob store is reachable and not overloaded"},
	lossUnindexed: {"index", leftUnindexed, "recorder: a stored segment's row was not added in time; its object is kept",
		"check the database; the next start's reconciliation indexes the object"},
}

// lossLogEvery is how often a line of one loss reason is logged.
const lossLogEvery = 30 * time.Second

// lost counts n fragments or segments of tg lost for why, and logs it
// (rate-limited).
func (r *Recorder) lost(why lossReason, n int, tg Target, err error) {
	if n <= 0 {
		return
	}
	info := lossReasons[why]
	switch info.kind {
	case lostFragments:
		r.metrics.dropped.WithLabelValues(info.label).Add(float64(n))
	case lostSegments:
		r.metrics.failed.WithLabelValues(info.label).Add(float64(n))
	default:
		r.metrics.unindexed.Add(float64(n))
	}
	if ok, held := r.losses.Allow(why); ok {
		r.log.Warn(info.what, "camera", tg.Device, "stream", tg.Stream, "reason", info.label, "count", n,
			"error", err, "fix", info.fix, "suppressed", held)
	}
}

// newLossCounters registers the counters of lost fragments and segments,
// by reason, each reason at zero.
func newLossCounters(reg prometheus.Registerer) (dropped, failed *prometheus.CounterVec) {
	dropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_record_dropped_fragments_total",
		Help: "Recorded fragments (GOPs) dropped, by reason: queue_full (the store fell behind), reader_behind (the recorder fell behind the camera), no_start (a segment could not start)."},
		[]string{"reason"})
	failed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_record_failed_segments_total",
		Help: "Segments lost, by reason: first_fragment, mux, egress, store (the store refused it), store_stalled (the store took nothing for the store timeout)."},
		[]string{"reason"})
	for _, info := range lossReasons {
		switch info.kind {
		case lostFragments:
			dropped.WithLabelValues(info.label)
		case lostSegments:
			failed.WithLabelValues(info.label)
		}
	}
	reg.MustRegister(dropped, failed)
	return dropped, failed
}
