package main

import (
	"context"
	"log"
	"net"
	"time"
)

// slowReadBps is the slow reader's read rate: a quarter of the 1080p camera.
const slowReadBps = 1e6

// slowResult is the slow-reader scenario: one camera, one reader at full
// speed and one whose socket is read at slowReadBps.
type slowResult struct {
	measurement  // both readers; skips and CPU are Vigil's
	normal, slow readerWindow
}

// runSlow checks the bounded-queue policy: a reader that cannot keep up
// should skip to the next keyframe (whole frames dropped, counted in
// vigil_reader_skips_total, RTP sequence unbroken) and the other reader
// should not notice.
func (b *bench) runSlow(ctx context.Context) (slowResult, error) {
	v, err := b.startVigil(ctx, "slow")
	if err != nil {
		return slowResult{}, err
	}
	defer v.stop()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go b.camera(v, b.devs[0], b.big).Run(cctx)
	url := v.readURL(b.devs[0])
	dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
	defer dcancel()
	since := time.Now()
	normal, err := dialReader(dctx, url, nil)
	if err != nil {
		return slowResult{}, err
	}
	defer normal.close()
	slow, err := dialReader(dctx, url, slowDial(slowReadBps))
	if err != nil {
		return slowResult{}, err
	}
	defer slow.close()
	rs := []*reader{normal, slow}
	missing := settle(ctx, rs, since, b.opts.warmup)
	n0, s0 := tally(rs[:1]), tally(rs[1:])
	m, err := measure(ctx, v, rs, b.opts.window)
	if err != nil {
		return slowResult{}, err
	}
	m.missing = missing
	res := slowResult{measurement: m,
		normal: window(rs[:1], n0, tally(rs[:1])), slow: window(rs[1:], s0, tally(rs[1:]))}
	log.Printf("  slow reader: %.1f Mbit/s %.1f fps lost=%d stalls=%d; normal reader: %.1f fps lost=%d stalls=%d; skips=%.0f",
		res.slow.mbps, res.slow.fpsPerReader, res.slow.lost, res.slow.stalls,
		res.normal.fpsPerReader, res.normal.lost, res.normal.stalls, m.skips)
	return res, nil
}

// slowDial dials TCP with a small receive buffer and reads at most bps.
func slowDial(bps float64) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(64 << 10)
		}
		return &slowConn{Conn: c, bps: bps, start: time.Now()}, nil
	}
}

// slowConn paces its reads so that the average rate stays under bps.
type slowConn struct {
	net.Conn
	bps   float64
	start time.Time
	n     int64 // bytes read so far
}

func (c *slowConn) Read(p []byte) (int, error) {
	if len(p) > 8<<10 {
		p = p[:8<<10]
	}
	n, err := c.Conn.Read(p)
	c.n += int64(n)
	due := c.start.Add(time.Duration(float64(c.n) * 8 / c.bps * float64(time.Second)))
	time.Sleep(time.Until(due))
	return n, err
}
