package main

import (
	"context"
	"io"
	"net"
	"time"
)

// loopbackCeiling sends as fast as it can over one 127.0.0.1 TCP
// connection for d and returns the receiver's rate in Gbit/s: the most any
// RTSP fan-out on this machine could deliver, with both ends in Go.
func loopbackCeiling(ctx context.Context, d time.Duration) (float64, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	received := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			received <- 0
			return
		}
		defer c.Close()
		n, _ := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
		received <- n
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 256<<10)
	start := time.Now()
	for time.Since(start) < d && ctx.Err() == nil {
		if _, err := c.Write(buf); err != nil {
			c.Close()
			return 0, err
		}
	}
	c.Close()
	n := <-received
	return float64(n) * 8 / time.Since(start).Seconds() / 1e9, ctx.Err()
}
