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
			// URI is a snapshot's (GetSnapshot).
			URI string `json:"uri"`
		} `json:"payload"`
	} `json:"event"`
}

// alexaFlow is an Echo Show: the directive its skill's Lambda forwards
// for the visit's camera with the user's link token inside — WebRTC
// (InitiateSessionWithOffer, a pion viewer, SessionDisconnected), HLS
// (InitializeCameraStreams, the URL played) or a snapshot (GetSnapshot,
// the URL fetched). An attacker's directive must get NO_SUCH_ENDPOINT with
// no answer, no stream and no snapshot.
func alexaFlow(ctx context.Context, v *Visit) error {
	if v.User.AlexaToken == "" || !v.onLinked() {
		return nil
	}
	switch v.rng.IntN(5) {
	case 0, 1:
		return alexaHLS(ctx, v)
	case 2:
		return alexaSnapshot(ctx, v)
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
	return v.alexaSwap(ctx, strings.Replace(u.RequestURI(), "/api/cameras/"+v.Camera.ID+"/", "/api/cameras/{id}/", 1), false)
}

// alexaSnapshot asks for the camera's snapshot and fetches its URL as
// Alexa does, with the link's token as a bearer: the picture's block code
// is checked as a still's. The URL, put on the path of a camera the user
// may not see, must open nothing there.
func alexaSnapshot(ctx context.Context, v *Visit) error {
	ev, err := v.directive(ctx, "Alexa.SmartVision.SnapshotProvider", "GetSnapshot", map[string]any{"preferOnDemandSnapshot": true})
	if err != nil {
		return err
	}
	uri := ev.Event.Payload.URI
	if v.Attack {
		v.judgeAlexa(ev, uri != "")
		return nil
	}
	if uri == "" {
		return fmt.Errorf("GetSnapshot: %s %s", ev.Event.Header.Name, ev.Event.Payload.Type)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return err
	}
	res, err := v.alexaGet(ctx, u.RequestURI(), true)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxStill))
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return newErrStatus(res, "GET "+u.Path, b)
	}
	if err != nil {
		return ignoreEnd(err)
	}
	if !v.jpegPicture(b) {
		return nil
	}
	return v.alexaSwap(ctx, strings.Replace(u.RequestURI(), "/alexa/snapshot/"+v.Camera.ID, "/alexa/snapshot/{id}", 1), true)
}

// alexaSwap requests uri, an Alexa URL for the visit's camera with the
// camera's id replaced by "{id}", for a camera drawn at random, when the
// user may not see it: it must be refused with nothing served.
func (v *Visit) alexaSwap(ctx context.Context, uri string, bearer bool) error {
	swap := *v
	if !swap.retarget(v.c.layout.Cameras[v.rng.IntN(len(v.c.layout.Cameras))]) || !swap.Attack {
		return nil
	}
	res, err := swap.alexaGet(context.WithoutCancel(ctx), strings.Replace(uri, "{id}", swap.Camera.ID, 1), bearer)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	swap.judgeAttack(res)
	return nil
}

// alexaGet GETs uri as Alexa would: with the link's token as a bearer, or
// with none (a URL that carries its own token).
func (v *Visit) alexaGet(ctx context.Context, uri string, bearer bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.Base+uri, nil)
	if err != nil {
		return nil, err
	}
	if bearer {
		req.Header.Set("Authorization", "Bearer "+v.User.AlexaToken)
	}
	v.forwarded(req)
	return v.HTTP.Do(req)
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
