package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"vigil/internal/vigilproc"
)

// ttffLimit bounds one join's wait for its first keyframe.
const ttffLimit = 5 * time.Second

// join is one viewer's start, timed from before its TCP connection.
type join struct {
	handshake time.Duration // until the PLAY response
	ttff      time.Duration // until the first complete keyframe access unit
	firstKey  bool          // the first complete video unit was an IDR
	inband    bool          // that keyframe carried SPS and PPS in-band
	sdpParams bool          // the SDP carried SPS and PPS
	partial   bool          // packets arrived before the first unit's start
	err       error
}

// ttffTarget is the target for RTSP joins.
const ttffTarget = 100 * time.Millisecond

// ttff joins the 1080p camera over RTSP again and again, one at a time.
type ttff struct {
	oneCamera
	n     int // joins
	joins []join
}

func (t *ttff) flags(fs *flag.FlagSet) {
	fs.IntVar(&t.n, "joins", 0, "joins measured for time to first frame (default 50; quick 10)")
}

func (t *ttff) setDefaults(quick bool) error {
	t.n = cmp.Or(t.n, quickOr(quick, 10, 50))
	return nil
}

// run publishes the 1080p clip (2 s GOP) and joins it t.n times, one at
// a time, each after a random delay within one GOP.
func (t *ttff) run(ctx context.Context, b *bench) error {
	log.Printf("  %d joins", t.n)
	v, d, stop, err := b.live(ctx, "ttff", b.big, vigilproc.Config{})
	if err != nil {
		return err
	}
	defer stop()
	url := v.readURL(d)
	for range t.n {
		if !sleep(ctx, rand.N(2*time.Second)) {
			return ctx.Err()
		}
		j := timeJoin(url)
		if j.err != nil {
			log.Printf("  join failed: %v", j.err)
		}
		t.joins = append(t.joins, j)
	}
	return nil
}

func (t *ttff) section(b *strings.Builder, r *report) {
	s := t.stats()
	b.WriteString("## Time to first decodable frame\n\n")
	fmt.Fprintf(b, "%d joins of the 1080p camera (GOP %s), one at a time, each after a random 0–2 s delay. "+
		"Timed from before the TCP connection (so including DESCRIBE with its Digest challenge, SETUP and PLAY) "+
		"to the first complete access unit holding an IDR.\n\n", len(t.joins), gopDuration(r.big))
	b.WriteString("| joins | failed | TTFF p50 | p95 | max | handshake p50 | first unit not a keyframe | keyframe without in-band SPS/PPS | SPS/PPS in SDP | partial first packets |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| %d | %d | %s | %s | %s | %s | %d | %d | %d/%d | %d |\n\n",
		len(t.joins), s.failed, ms(s.p50), ms(s.p95), ms(s.max), ms(s.handshakeP50),
		s.notKey, s.noInband, s.sdp, len(t.joins)-s.failed, s.partial)
}

func (t *ttff) targets(b *strings.Builder, _ *report) {
	s := t.stats()
	fmt.Fprintf(b, "- **TTFF p95 < 100 ms**: %s — p50 %s, p95 %s (MediaMTX and go2rtc wait for the next keyframe: p50 ~970 ms, p95 ~1.9 s at a 2 s GOP).\n",
		verdict(s.failed == 0 && s.notKey == 0 && len(t.joins) > 0 && s.p95 < ttffTarget), ms(s.p50), ms(s.p95))
}

// ttffStats summarises the joins.
type ttffStats struct {
	p50, p95, max, handshakeP50 time.Duration
	failed, notKey, noInband    int
	sdp, partial                int
}

func (t *ttff) stats() ttffStats { return rtspJoinStats(t.joins) }

// rtspJoinStats summarises RTSP joins.
func rtspJoinStats(joins []join) ttffStats {
	var s ttffStats
	var ttffs, hs []time.Duration
	for _, j := range joins {
		if j.err != nil {
			s.failed++
			continue
		}
		ttffs, hs = append(ttffs, j.ttff), append(hs, j.handshake)
		s.max = max(s.max, j.ttff)
		s.notKey += b2i(!j.firstKey)
		s.noInband += b2i(!j.inband)
		s.sdp += b2i(j.sdpParams)
		s.partial += b2i(j.partial)
	}
	s.p50, s.p95, s.handshakeP50 = percentile(ttffs, 50), percentile(ttffs, 95), percentile(hs, 50)
	return s
}

// waitLive waits until the camera can be read and has sent a full GOP.
func waitLive(ctx context.Context, url string) error {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r, err := dialReader(dctx, url, nil)
	if err != nil {
		return err
	}
	defer r.close()
	sleep(ctx, 2500*time.Millisecond)
	if r.frames.Load() == 0 {
		return errors.New("camera is live but sent no frame in 2.5 s")
	}
	return nil
}

// timeJoin connects one viewer and times its first keyframe.
func timeJoin(rawURL string) join {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return join{err: err}
	}
	tcp := gortsplib.ProtocolTCP
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &tcp}
	t0 := time.Now()
	if err := c.Start(); err != nil {
		return join{err: err}
	}
	defer c.Close()
	w := &keyWatch{done: make(chan struct{})}
	var j join
	if j.sdpParams, err = setupVideo(c, u, w); err != nil {
		return join{err: err}
	}
	if _, err := c.Play(nil); err != nil {
		return join{err: fmt.Errorf("play: %w", err)}
	}
	j.handshake = time.Since(t0)
	select {
	case <-w.done:
		j.ttff = w.at.Sub(t0)
		j.firstKey, j.inband, j.partial = w.firstKey, w.inband, w.partial
	case <-time.After(ttffLimit):
		j.err = fmt.Errorf("no keyframe within %s", ttffLimit)
	}
	return j
}

// setupVideo describes u, sets up its H.264 media and feeds its packets to
// w. It reports whether the SDP carried SPS and PPS.
func setupVideo(c *gortsplib.Client, u *base.URL, w *keyWatch) (bool, error) {
	desc, _, err := c.Describe(u)
	if err != nil {
		return false, fmt.Errorf("describe: %w", err)
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		return false, errNoVideo
	}
	if w.dec, err = forma.CreateDecoder(); err != nil {
		return false, err
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return false, fmt.Errorf("setup: %w", err)
	}
	c.OnPacketRTP(medi, forma, w.packet)
	return forma.SPS != nil && forma.PPS != nil, nil
}

// keyWatch depacketizes one stream until its first keyframe access unit.
type keyWatch struct {
	dec  *rtph264.Decoder
	done chan struct{} // closed when the fields below are set

	// Written by gortsplib's read goroutine before done is closed.
	at       time.Time
	units    int
	firstKey bool
	inband   bool
	partial  bool
}

func (w *keyWatch) packet(pkt *rtp.Packet) {
	if w.units < 0 {
		return // finished
	}
	au, err := w.dec.Decode(pkt)
	switch {
	case errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious):
		w.partial = true
		return
	case err != nil:
		return
	}
	w.units++
	if w.units == 1 {
		w.firstKey = h264.IsRandomAccess(au)
	}
	if !h264.IsRandomAccess(au) {
		return
	}
	w.at, w.inband = time.Now(), hasParams(au)
	w.units = -1
	close(w.done)
}

// hasParams reports whether an access unit carries both SPS and PPS.
func hasParams(au [][]byte) bool {
	var sps, pps bool
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = true
		case h264.NALUTypePPS:
			pps = true
		}
	}
	return sps && pps
}

var errNoVideo = errors.New("no H.264 video in the session")
