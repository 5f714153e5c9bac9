package main

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
	"golang.org/x/sync/errgroup"
)

// stallAfter is how long a reader may go without a frame before it counts
// as stalled.
const stallAfter = time.Second

// reader is one RTSP viewer over TCP that counts what it receives without
// depacketizing: bytes of RTP, frames by the marker bit (RFC 6184 §5.1),
// lost packets by sequence number, stalls by gaps between frames.
type reader struct {
	client *gortsplib.Client

	bytes     atomic.Uint64
	frames    atomic.Uint64
	lost      atomic.Uint64
	stalls    atomic.Uint64
	lastFrame atomic.Int64 // unix nanos
	ended     atomic.Bool

	// Touched only by gortsplib's read goroutine.
	seq    uint16
	hasSeq bool
}

// dialFunc dials a reader's TCP connection; nil means the default dialer.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// dialReader connects, retrying DESCRIBE until the camera is live or ctx ends.
func dialReader(ctx context.Context, rawURL string, dial dialFunc) (*reader, error) {
	for {
		r, err := openReader(rawURL, dial)
		if err == nil {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("reader %s: %w (last error: %v)", redact(rawURL), ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func openReader(rawURL string, dial dialFunc) (*reader, error) {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	tcp := gortsplib.ProtocolTCP
	r := &reader{client: &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &tcp, DialContext: dial}}
	if err := r.client.Start(); err != nil {
		return nil, err
	}
	desc, _, err := r.client.Describe(u)
	if err == nil {
		err = r.client.SetupAll(desc.BaseURL, desc.Medias)
	}
	if err != nil {
		r.client.Close()
		return nil, err
	}
	r.lastFrame.Store(time.Now().UnixNano())
	r.client.OnPacketRTPAny(func(_ *description.Media, _ format.Format, pkt *rtp.Packet) { r.packet(pkt) })
	if _, err := r.client.Play(nil); err != nil {
		r.client.Close()
		return nil, err
	}
	go func() { r.client.Wait(); r.ended.Store(true) }()
	return r, nil
}

func (r *reader) packet(pkt *rtp.Packet) {
	if r.hasSeq && pkt.SequenceNumber != r.seq+1 {
		r.lost.Add(uint64(pkt.SequenceNumber - r.seq - 1))
	}
	r.seq, r.hasSeq = pkt.SequenceNumber, true
	r.bytes.Add(uint64(pkt.MarshalSize()))
	if !pkt.Marker {
		return
	}
	now := time.Now().UnixNano()
	if now-r.lastFrame.Swap(now) > int64(stallAfter) {
		r.stalls.Add(1)
	}
	r.frames.Add(1)
}

// stalledNow reports whether the reader has had no frame for stallAfter.
func (r *reader) stalledNow(now time.Time) bool {
	return now.UnixNano()-r.lastFrame.Load() > int64(stallAfter)
}

func (r *reader) close() { r.client.Close() }

// readerTally is a snapshot of a group of readers' counters.
type readerTally struct {
	at                  time.Time
	bytes, frames, lost uint64
	stalls              []uint64 // per reader
	ended               int
}

func tally(rs []*reader) readerTally {
	t := readerTally{at: time.Now(), stalls: make([]uint64, len(rs))}
	for i, r := range rs {
		t.bytes += r.bytes.Load()
		t.frames += r.frames.Load()
		t.lost += r.lost.Load()
		t.stalls[i] = r.stalls.Load()
		if r.ended.Load() {
			t.ended++
		}
	}
	return t
}

// readerWindow is what a group of readers received over a window.
type readerWindow struct {
	readers        int
	mbps           float64 // RTP bytes (header and payload), all readers
	fpsPerReader   float64
	lost           uint64
	stalls         uint64 // stall episodes, including ones still open at the end
	stalledReaders int
	ended          int
}

// window compares two tallies of the same readers; a stall still open at
// b's time counts once.
func window(rs []*reader, a, b readerTally) readerWindow {
	secs := b.at.Sub(a.at).Seconds()
	w := readerWindow{readers: len(rs), lost: b.lost - a.lost, ended: b.ended}
	w.mbps = float64(b.bytes-a.bytes) * 8 / secs / 1e6
	if len(rs) > 0 {
		w.fpsPerReader = float64(b.frames-a.frames) / secs / float64(len(rs))
	}
	for i, r := range rs {
		n := b.stalls[i] - a.stalls[i]
		if r.stalledNow(b.at) {
			n++
		}
		w.stalls += n
		if n > 0 {
			w.stalledReaders++
		}
	}
	return w
}

// dialAll opens one reader per URL, 16 at a time, each retrying for up to 30 s.
func dialAll(ctx context.Context, urls []string) ([]*reader, error) {
	return dialAllWith(ctx, urls, nil)
}

// dialAllWith is dialAll with a dialer for every reader.
func dialAllWith(ctx context.Context, urls []string, dial dialFunc) ([]*reader, error) {
	rs := make([]*reader, len(urls))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, u := range urls {
		g.Go(func() error {
			dctx, cancel := context.WithTimeout(gctx, 30*time.Second)
			defer cancel()
			r, err := dialReader(dctx, u, dial)
			rs[i] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		closeAll(rs)
		return nil, err
	}
	return rs, nil
}

// waitFrames waits until every reader has received a frame since since, or
// limit passes; it returns how many had not.
func waitFrames(ctx context.Context, rs []*reader, since time.Time, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	for {
		missing := 0
		for _, r := range rs {
			if r.frames.Load() == 0 || r.lastFrame.Load() < since.UnixNano() {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return missing
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func closeAll(rs []*reader) {
	for _, r := range rs {
		if r != nil {
			r.close()
		}
	}
}

// redact drops the password from an RTSP URL for error messages.
func redact(rawURL string) string {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return "[bad url]"
	}
	v := *u
	v.User = nil
	return v.String()
}
