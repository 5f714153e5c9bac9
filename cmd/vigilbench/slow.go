package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"strings"
	"time"

	"vigil/internal/vigilproc"
)

// slowReadBps is the slow reader's read rate: a quarter of the 1080p camera.
const slowReadBps = 1e6

// slow reads the 1080p camera with one reader at full speed and one
// whose socket is read at slowReadBps.
type slow struct {
	noFlags
	oneCamera
	noTargets
	ran          bool
	m            measurement // both readers; skips and CPU are Vigil's
	normal, slow readerWindow
}

// run checks the bounded-queue policy: a reader that cannot keep up
// should skip to the next keyframe (whole frames dropped, counted in
// vigil_reader_skips_total, RTP sequence unbroken) and the other reader
// should not notice.
func (s *slow) run(ctx context.Context, b *bench) error {
	v, d, stop, err := b.live(ctx, "slow", b.big, vigilproc.Config{})
	if err != nil {
		return err
	}
	defer stop()
	url := v.readURL(d)
	dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
	defer dcancel()
	since := time.Now()
	normal, err := dialReader(dctx, url, nil)
	if err != nil {
		return err
	}
	defer normal.close()
	slowR, err := dialReader(dctx, url, slowDial(slowReadBps))
	if err != nil {
		return err
	}
	defer slowR.close()
	rs := []*reader{normal, slowR}
	missing := settle(ctx, rs, since, b.opts.warmup)
	n0, s0 := tally(rs[:1]), tally(rs[1:])
	m, err := measure(ctx, v, rs, b.opts.window)
	if err != nil {
		return err
	}
	m.missing = missing
	s.ran, s.m = true, m
	s.normal, s.slow = window(rs[:1], n0, tally(rs[:1])), window(rs[1:], s0, tally(rs[1:]))
	log.Printf("  slow reader: %.1f Mbit/s %.1f fps lost=%d stalls=%d; normal reader: %.1f fps lost=%d stalls=%d; skips=%.0f",
		s.slow.mbps, s.slow.fpsPerReader, s.slow.lost, s.slow.stalls,
		s.normal.fpsPerReader, s.normal.lost, s.normal.stalls, m.skips)
	return nil
}

func (s *slow) section(b *strings.Builder, r *report) {
	if !s.ran {
		return
	}
	b.WriteString("## Slow reader\n\n")
	fmt.Fprintf(b, "The 1080p camera (%.1f Mbit/s) with two readers: one at full speed, one whose socket is read at "+
		"%.0f Mbit/s with a 64 KiB receive buffer. The policy is a bounded queue per reader that skips to the next "+
		"keyframe: the slow reader should lose whole frames (skips > 0, fewer fps) with its RTP sequence unbroken "+
		"(lost = 0), and the other reader should not notice.\n\n", r.big.mbps, slowReadBps/1e6)
	b.WriteString("| reader | delivered Mbit/s | fps | lost pkts | stalls |\n|---|---:|---:|---:|---:|\n")
	for _, row := range []struct {
		name string
		w    readerWindow
	}{{"full speed", s.normal}, {"slow", s.slow}} {
		fmt.Fprintf(b, "| %s | %.1f | %.1f | %d | %d |\n", row.name, row.w.mbps, row.w.fpsPerReader, row.w.lost, row.w.stalls)
	}
	fmt.Fprintf(b, "\nvigil_reader_skips_total rose by %s in the window; Vigil CPU %.1f%%.\n\n", num(s.m.skips, 0), s.m.vigil.cpuPct)
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
