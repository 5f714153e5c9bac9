package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// freshStill is one still requested the moment a new keyframe reached an
// RTSP viewer of the camera.
type freshStill struct {
	latency  time.Duration // request start to the end of the JPEG
	stale    bool          // Vigil served the previous keyframe's still
	captured time.Time     // X-Still-Captured
	err      error
}

type freshStills []freshStill

// freshRun requests n fresh keyframe stills of d.
func freshRun(ctx context.Context, v *vigil, d device, n int) (freshStills, error) {
	keys, stop, err := watchKeyframes(v.readURL(d))
	if err != nil {
		return nil, err
	}
	defer stop()
	c := v.webClient(1)
	defer c.close()
	url := v.apiURL(d, "still.jpg")
	var out freshStills
	var last time.Time
	// The first keyframe is the GOP cache's replay: its still is not new.
	for len(out) < n+1 {
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(5 * time.Second):
			return out, fmt.Errorf("no keyframe in 5 s")
		case <-keys:
		}
		s := fetchFresh(ctx, c, url, last)
		if s.err != nil {
			log.Printf("  fresh still failed: %v", s.err)
		} else {
			last = s.captured
		}
		out = append(out, s)
	}
	return out[1:], nil
}

// fetchFresh gets one still and compares its capture time with the last.
func fetchFresh(ctx context.Context, c *webClient, url string, last time.Time) freshStill {
	t0 := time.Now()
	_, h, err := c.get(ctx, url)
	s := freshStill{latency: time.Since(t0), err: err}
	if err != nil {
		return s
	}
	if s.captured, err = time.Parse(time.RFC3339Nano, h.Get("X-Still-Captured")); err != nil {
		s.err = fmt.Errorf("X-Still-Captured: %w", err)
	}
	s.stale = !s.captured.After(last)
	return s
}

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
