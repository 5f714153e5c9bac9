package canary

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/pion/rtp"
)

// rtspFlow plays the camera over RTSP (interleaved TCP, Digest auth with
// the user's password or API token) and checks every access unit's stamp.
func rtspFlow(ctx context.Context, v *Visit) error { return playRTSP(ctx, v, gortsplib.ProtocolTCP) }

// rtspUDPFlow plays the camera over RTSP with RTP over UDP: Vigil sends to
// the viewer's own ports, outside the RTSP connection (and its proxy).
func rtspUDPFlow(ctx context.Context, v *Visit) error { return playRTSP(ctx, v, gortsplib.ProtocolUDP) }

// playRTSP plays the camera over RTSP with the given transport; the audio
// track, if the camera has one, is set up too and counted.
func playRTSP(ctx context.Context, v *Visit, proto gortsplib.Protocol) error {
	if v.User.Changed && v.User.Token != "" && !v.Attack {
		v.Secret = v.User.Token // the chosen password is not RTSP's (README)
	}
	path := "/" + v.Camera.ID
	if v.Sub {
		path += "/sub"
	}
	u := url.URL{Scheme: "rtsp", Host: v.RTSPHost, Path: path, User: url.UserPassword(v.User.Name, v.Secret)}
	bu, err := base.ParseURL(u.String())
	if err != nil {
		return err
	}
	c := &gortsplib.Client{Scheme: bu.Scheme, Host: bu.Host, Protocol: &proto, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	if err := c.Start(); err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()
	desc, _, err := c.Describe(bu)
	if v.Attack {
		v.judgeRTSP(err)
		return nil
	}
	if err != nil {
		return err
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		return errors.New("rtsp: no H.264 track")
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		return err
	}
	var g711 *format.G711
	if ami := desc.FindFormat(&g711); ami != nil {
		if _, err := c.Setup(desc.BaseURL, ami, 0, 0); err != nil {
			return err
		}
		c.OnPacketRTP(ami, g711, func(*rtp.Packet) { v.Audio(1) })
	}
	dec := &rtph264.Decoder{PacketizationMode: 1}
	if err := dec.Init(); err != nil {
		return err
	}
	var mu sync.Mutex // gortsplib calls back on its own goroutine
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		mu.Lock()
		defer mu.Unlock()
		if au, err := dec.Decode(pkt); err == nil && !v.bad {
			if !v.Frame(au) {
				go c.Close() // Close waits for this very callback to return
			}
		}
	})
	if _, err := c.Play(nil); err != nil {
		return err
	}
	if v.Cancel {
		time.AfterFunc(time.Duration(v.rng.IntN(300))*time.Millisecond, func() { v.Cancelled(); c.Close() })
	}
	err = c.Wait()
	c.Close() // no callback runs after Close returns
	v.AudioDone()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// judgeRTSP wants DESCRIBE refused with 401, 403 or 404 for an attacker.
func (v *Visit) judgeRTSP(err error) {
	var bad liberrors.ErrClientBadStatusCode
	switch {
	case err == nil:
		v.Served("not refused: RTSP DESCRIBE answered 200")
	case errors.As(err, &bad):
		if bad.Code == base.StatusUnauthorized || bad.Code == base.StatusForbidden || bad.Code == base.StatusNotFound {
			v.Refused()
		} else {
			v.Served(fmt.Sprintf("not refused: RTSP DESCRIBE answered %d", bad.Code))
		}
	}
}
