package canary

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// alexaEvent is what the canary reads of an Alexa event.
type alexaEvent struct {
	Event struct {
		Header struct {
			Namespace, Name string
		} `json:"header"`
		Payload struct {
			Type   string `json:"type"`
			Answer *struct {
				Value string `json:"value"`
			} `json:"answer"`
			CameraStreams []struct {
				URI string `json:"uri"`
			} `json:"cameraStreams"`
		} `json:"payload"`
	} `json:"event"`
}

// alexaFlow is an Echo Show: the directive its skill's Lambda forwards
// for the visit's camera with the user's link token inside — WebRTC
// (InitiateSessionWithOffer, a pion viewer, SessionDisconnected) or HLS
// (InitializeCameraStreams, the URL played). An attacker's directive must
// get NO_SUCH_ENDPOINT with no answer and no stream.
func alexaFlow(ctx context.Context, v *Visit) error {
	if v.User.AlexaToken == "" {
		return nil
	}
	if v.rng.IntN(2) == 0 {
		return alexaHLS(ctx, v)
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
	session := "canary-" + randomHex(8)
	ev, err := v.directive(ctx, "Alexa.RTCSessionController", "InitiateSessionWithOffer", map[string]any{
		"sessionId": session, "offer": map[string]string{"format": "SDP", "value": offer}})
	if err != nil {
		return err
	}
	if v.Attack {
		v.judgeAlexa(ev, ev.Event.Payload.Answer != nil)
		return nil
	}
	if ev.Event.Payload.Answer == nil {
		return fmt.Errorf("InitiateSessionWithOffer: %s %s", ev.Event.Header.Name, ev.Event.Payload.Type)
	}
	if err := p.Accept(ev.Event.Payload.Answer.Value); err != nil {
		return err
	}
	p.play(ctx)
	_, err = v.directive(context.WithoutCancel(ctx), "Alexa.RTCSessionController", "SessionDisconnected",
		map[string]any{"sessionId": session})
	return err
}

// alexaHLS asks for the camera's HLS stream and plays it.
func alexaHLS(ctx context.Context, v *Visit) error {
	ev, err := v.directive(ctx, "Alexa.CameraStreamController", "InitializeCameraStreams", map[string]any{
		"cameraStreams": []map[string]any{{"protocol": "HLS", "resolution": map[string]int{"width": 1280, "height": 720},
			"authorizationType": "NONE", "videoCodec": "H264", "audioCodec": "AAC"}}})
	if err != nil {
		return err
	}
	streams := ev.Event.Payload.CameraStreams
	if v.Attack {
		v.judgeAlexa(ev, len(streams) > 0)
		return nil
	}
	if len(streams) != 1 {
		return fmt.Errorf("InitializeCameraStreams: %s %s", ev.Event.Header.Name, ev.Event.Payload.Type)
	}
	u, err := url.Parse(streams[0].URI)
	if err != nil {
		return err
	}
	if err := playHLS(ctx, v, u.RequestURI(), "ll"); err != nil {
		return err
	}
	// The Echo Show's stream token, on the URL of a camera the user may
	// not see: it must open nothing there.
	swap := *v
	if !swap.retarget(v.c.layout.Cameras[v.rng.IntN(len(v.c.layout.Cameras))]) || !swap.Attack {
		return nil
	}
	path := strings.Replace(u.RequestURI(), "/api/cameras/"+v.Camera.ID+"/", "/api/cameras/"+swap.Camera.ID+"/", 1)
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, v.Base+path, nil)
	if err != nil {
		return err
	}
	swap.forwarded(req)
	res, err := v.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	swap.judgeAttack(res)
	return nil
}

// judgeAlexa holds an attacker's answer to NO_SUCH_ENDPOINT with nothing
// to play.
func (v *Visit) judgeAlexa(ev alexaEvent, served bool) {
	if ev.Event.Header.Name == "ErrorResponse" && ev.Event.Payload.Type == "NO_SUCH_ENDPOINT" && !served {
		v.Refused()
		return
	}
	v.Served(fmt.Sprintf("Alexa answered %s %s", ev.Event.Header.Name, ev.Event.Payload.Type))
}

// directive posts one directive for the visit's camera, as the skill's
// Lambda forwards it, and decodes the event.
func (v *Visit) directive(ctx context.Context, namespace, name string, payload map[string]any) (alexaEvent, error) {
	b, _ := json.Marshal(map[string]any{"directive": map[string]any{
		"header": map[string]string{"namespace": namespace, "name": name, "payloadVersion": "3",
			"messageId": randomHex(16), "correlationToken": randomHex(8)},
		"endpoint": map[string]any{"scope": map[string]string{"type": "BearerToken", "token": v.User.AlexaToken},
			"endpointId": v.Camera.ID, "cookie": map[string]string{}},
		"payload": payload}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.Base+"/alexa/directive", bytes.NewReader(b))
	if err != nil {
		return alexaEvent{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	v.forwarded(req)
	res, err := v.HTTP.Do(req)
	if err != nil {
		return alexaEvent{}, err
	}
	defer res.Body.Close()
	var ev alexaEvent
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(&ev); err != nil || res.StatusCode != http.StatusOK {
		return alexaEvent{}, fmt.Errorf("%s/%s: %s", namespace, name, res.Status)
	}
	return ev, nil
}
