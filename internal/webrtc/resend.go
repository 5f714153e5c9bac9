package webrtc

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// A lost packet is sent again at most resendTimes times, resendGap apart
// at least, and only within resendAge of its first sending: pion's NACK
// responder answers every NACK, and a peer behind a congested link asks
// again every few tens of milliseconds for each of hundreds of packets,
// so unbounded answers would fill the link with stale retransmissions and
// starve what is sent now (a switch to the sub stream then never gets
// through). More than one try, because a retransmission can be lost too
// (the burst of a joining peer's first GOP overflows socket buffers).
const (
	resendTimes = 3
	resendGap   = 100 * time.Millisecond
	resendAge   = time.Second
	resendRing  = 4096
)

// resendLimit is the interceptor that bounds retransmissions. It sits
// under the NACK responder (registered before it), so it sees every
// packet written: a sequence number newer than the stream's highest is a
// first sending, an older one a retransmission. It is per
// PeerConnection; its session holds it to cut retransmissions off at a
// switch of stream (cutAt).
type resendLimit struct {
	interceptor.NoOp
	cut atomic.Int64 // unix nanoseconds; packets first sent before are not resent
}

// resendFactory makes each PeerConnection's resendLimit and hands it over
// for its session.
type resendFactory struct{ byPC *byPC[*resendLimit] }

func (f resendFactory) NewInterceptor(pc string) (interceptor.Interceptor, error) {
	l := &resendLimit{}
	f.byPC.add(pc, l)
	return l, nil
}

// cutAt stops retransmissions of the packets first sent before t; nil
// does nothing.
func (l *resendLimit) cutAt(t time.Time) {
	if l != nil {
		l.cut.Store(t.UnixNano())
	}
}

// BindLocalStream bounds the retransmissions of one stream.
func (l *resendLimit) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	s := &resendState{}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if !s.allow(h.SequenceNumber, time.Now(), time.Unix(0, l.cut.Load())) {
			return h.MarshalSize() + len(payload), nil // dropped, as the link would
		}
		return w.Write(h, payload, a)
	})
}

// resendState is one stream's packets sent, by sequence number.
type resendState struct {
	mu      sync.Mutex
	started bool
	highest uint16
	sent    [resendRing]struct {
		seq      uint16
		at, last time.Time // first sent, last sent
		times    int
	}
}

// allow records a packet with sequence number seq written at now and
// reports whether it may go out; a retransmission may not when the packet
// was first sent before cut.
func (s *resendState) allow(seq uint16, now, cut time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &s.sent[seq%resendRing]
	if !s.started || int16(seq-s.highest) > 0 {
		s.started, s.highest = true, seq
		e.seq, e.at, e.last, e.times = seq, now, now, 0
		return true
	}
	if e.seq != seq || e.times >= resendTimes || now.Sub(e.at) > resendAge || now.Sub(e.last) < resendGap ||
		e.at.Before(cut) {
		return false
	}
	e.times++
	e.last = now
	return true
}
