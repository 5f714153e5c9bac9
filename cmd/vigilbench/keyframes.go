package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// watchKeyframes reads rawURL over RTSP and signals each complete IDR
// access unit on the returned channel, dropping signals nobody waits for.
func watchKeyframes(rawURL string) (<-chan struct{}, func(), error) {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return nil, nil, err
	}
	tcp := gortsplib.ProtocolTCP
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &tcp}
	if err := c.Start(); err != nil {
		return nil, nil, err
	}
	desc, _, err := c.Describe(u)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("describe: %w", err)
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		c.Close()
		return nil, nil, errNoVideo
	}
	dec, err := forma.CreateDecoder()
	if err == nil {
		_, err = c.Setup(desc.BaseURL, medi, 0, 0)
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	keys := make(chan struct{}, 1)
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) { signalKey(dec, pkt, keys) })
	if _, err := c.Play(nil); err != nil {
		c.Close()
		return nil, nil, err
	}
	return keys, c.Close, nil
}

func signalKey(dec *rtph264.Decoder, pkt *rtp.Packet, keys chan<- struct{}) {
	au, err := dec.Decode(pkt)
	if err != nil || !h264.IsRandomAccess(au) {
		return
	}
	select {
	case keys <- struct{}{}:
	default:
	}
}

// trackKeyframes watches rawURL over RTSP until the first new keyframe
// arrives; from then on lastKey returns when the last one arrived.
func trackKeyframes(ctx context.Context, rawURL string) (lastKey func() time.Time, stop func(), err error) {
	keys, stopWatch, err := watchKeyframes(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("watch keyframes: %w", err)
	}
	// The first keyframe is the GOP cache's replay: it is not new.
	for range 2 {
		select {
		case <-ctx.Done():
			stopWatch()
			return nil, nil, ctx.Err()
		case <-time.After(5 * time.Second):
			stopWatch()
			return nil, nil, errors.New("watch keyframes: none in 5 s")
		case <-keys:
		}
	}
	var last atomic.Int64 // unix nanos
	last.Store(time.Now().UnixNano())
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-keys:
				last.Store(time.Now().UnixNano())
			}
		}
	}()
	stop = func() { cancel(); <-done; stopWatch() }
	return func() time.Time { return time.Unix(0, last.Load()) }, stop, nil
}
