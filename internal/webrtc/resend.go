package webrtc

import (
	"sync"
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
// first sending, an older one a retransmission.
type resendLimit struct {
	interceptor.NoOp
}

type resendFactory struct{}

func (resendFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &resendLimit{}, nil
}

// BindLocalStream bounds the retransmissions of one stream.
func (*resendLimit) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	s := &resendState{}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if !s.allow(h.SequenceNumber, time.Now()) {
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
// reports whether it may go out.
func (s *resendState) allow(seq uint16, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &s.sent[seq%resendRing]
	if !s.started || int16(seq-s.highest) > 0 {
		s.started, s.highest = true, seq
		e.seq, e.at, e.last, e.times = seq, now, now, 0
		return true
	}
	if e.seq != seq || e.times >= resendTimes || now.Sub(e.at) > resendAge || now.Sub(e.last) < resendGap {
		return false
	}
	e.times++
	e.last = now
	return true
}
