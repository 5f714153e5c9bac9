package canary

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"vigil/internal/sim"
)

// rtcPeer is a pion viewer (package sim) whose every access unit goes
// through the visit's checks, and whose audio is counted.
type rtcPeer struct {
	*sim.WebRTCViewer
	v    *Visit
	mu   sync.Mutex // the viewer calls back on its own goroutines
	bad  chan struct{}
	once sync.Once
}

func newRTCPeer(v *Visit) (*rtcPeer, error) {
	p := &rtcPeer{v: v, bad: make(chan struct{})}
	v.Adaptive = true
	w, err := sim.NewWebRTCViewer(v.c.keys, sim.WebRTCOptions{Audio: v.Camera.Audio, OnUnit: p.unit, OnAudio: p.audio})
	if err != nil {
		return nil, err
	}
	p.WebRTCViewer = w
	return p, nil
}

func (p *rtcPeer) unit(au [][]byte) {
	p.mu.Lock()
	ok := p.v.bad || p.v.Frame(au)
	p.mu.Unlock()
	if !ok {
		p.once.Do(func() { close(p.bad) })
	}
}

func (p *rtcPeer) audio() {
	p.mu.Lock()
	p.v.Audio(1)
	p.mu.Unlock()
}

// play waits until the visit's time is up, the connection is gone or a
// violation, then hangs up and judges the audio.
func (p *rtcPeer) play(ctx context.Context) {
	if p.v.Cancel {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(100+p.v.rng.IntN(900))*time.Millisecond)
		defer cancel()
		p.v.Cancelled()
	}
	select {
	case <-ctx.Done():
	case <-p.Gone():
	case <-p.bad:
	}
	p.Close()
	p.mu.Lock()
	p.v.AudioDone()
	p.mu.Unlock()
}

// whepFlow plays the camera over WebRTC (WHEP, RFC 9725) with a pion
// viewer and checks every access unit's stamp; an attacker's offer must be
// refused.
func whepFlow(ctx context.Context, v *Visit) error {
	p, err := newRTCPeer(v)
	if err != nil {
		return err
	}
	defer p.Close()
	offer, err := p.Offer(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.Base+v.camPath("/whep"), strings.NewReader(offer))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.SetBasicAuth(v.User.Name, v.Secret)
	v.forwarded(req)
	res, err := v.HTTP.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if v.Attack {
		res.Body = io.NopCloser(bytes.NewReader(body))
		v.judgeAttack(res)
		return nil
	}
	if res.StatusCode != http.StatusCreated {
		return fmt.Errorf("WHEP: %s", res.Status)
	}
	if err := p.Accept(string(body)); err != nil {
		return err
	}
	p.play(ctx)
	if loc := res.Header.Get("Location"); loc != "" {
		// Hang up, so that the user's WebRTC sessions are freed at once.
		if req, err := http.NewRequest(http.MethodDelete, v.Base+loc, nil); err == nil {
			req.SetBasicAuth(v.User.Name, v.Secret)
			v.forwarded(req)
			if res, err := v.HTTP.Do(req); err == nil {
				res.Body.Close()
			}
		}
	}
	return nil
}

// googleRTC is a smart display on Google's WebRTC camera flow: EXECUTE
// answered with a signaling URL and a token, the offer posted there, the
// answer applied, the stream's stamps checked, "end" on hanging up.
func googleRTC(ctx context.Context, v *Visit, cmd executeResult) error {
	sig, tok := fmt.Sprint(cmd.States["cameraStreamSignalingUrl"]), fmt.Sprint(cmd.States["cameraStreamAuthToken"])
	i := strings.Index(sig, "/api/")
	if i < 0 || tok == "" {
		return fmt.Errorf("EXECUTE webrtc: signaling URL %q", sig)
	}
	p, err := newRTCPeer(v)
	if err != nil {
		return err
	}
	defer p.Close()
	offer, err := p.Offer(ctx)
	if err != nil {
		return err
	}
	signal := func(action, sdp string) (map[string]string, error) {
		b, _ := json.Marshal(map[string]string{"action": action, "deviceId": v.Camera.ID, "sdp": sdp})
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, v.Base+sig[i:], bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		v.forwarded(req)
		res, err := v.HTTP.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("google webrtc %s: %s", action, res.Status)
		}
		var out map[string]string
		return out, json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&out)
	}
	ans, err := signal("offer", offer)
	if err != nil {
		return err
	}
	if err := p.Accept(ans["sdp"]); err != nil {
		return err
	}
	p.play(ctx)
	if _, err := signal("end", ""); err != nil {
		return err
	}
	// The display's token, on the signaling URL of a camera the user may
	// not see: it must be refused before any negotiation.
	swap := *v
	if !swap.retarget(v.c.layout.Cameras[v.rng.IntN(len(v.c.layout.Cameras))]) || !swap.Attack {
		return nil
	}
	b, _ := json.Marshal(map[string]string{"action": "offer", "deviceId": swap.Camera.ID, "sdp": offer})
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost,
		v.Base+"/api/cameras/"+swap.Camera.ID+"/google/webrtc", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	v.forwarded(req)
	res, err := v.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	swap.judgeAttack(res)
	return nil
}
