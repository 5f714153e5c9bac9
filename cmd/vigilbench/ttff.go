package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
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

// ttffResult is the time-to-first-frame scenario.
type ttffResult struct {
	joins []join
}

// runTTFF publishes the 1080p clip (2 s GOP) and joins it opts.joins times,
// one at a time, each after a random delay within one GOP.
func (b *bench) runTTFF(ctx context.Context) (ttffResult, error) {
	v, err := b.startVigil(ctx, "ttff")
	if err != nil {
		return ttffResult{}, err
	}
	defer v.stop()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go b.camera(v, b.devs[0], b.big).Run(cctx)
	url := v.readURL(b.devs[0])
	if err := waitLive(ctx, url); err != nil {
		return ttffResult{}, err
	}
	var res ttffResult
	for range b.opts.joins {
		if !sleep(ctx, rand.N(2*time.Second)) {
			return res, ctx.Err()
		}
		j := timeJoin(url)
		if j.err != nil {
			log.Printf("  join failed: %v", j.err)
		}
		res.joins = append(res.joins, j)
	}
	return res, nil
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
