package alexa

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"time"
)

// idleTimeout is how long an HLS stream may go unread before its token
// stops renewing (auth's renewals keep a token in use alive).
const idleTimeout = 30

type cameraStream struct {
	URI                string     `json:"uri,omitempty"`
	ExpirationTime     string     `json:"expirationTime,omitempty"`
	IdleTimeoutSeconds int        `json:"idleTimeoutSeconds,omitempty"`
	Protocol           string     `json:"protocol"`
	Resolution         resolution `json:"resolution"`
	AuthorizationType  string     `json:"authorizationType"`
	VideoCodec         string     `json:"videoCodec"`
	AudioCodec         string     `json:"audioCodec"`
}

// initializeStreams answers with an HLS URL carrying a stream token bound
// to the link, the stream's true resolution and codecs, and a still of
// the camera as imageUri.
func (x *Directives) initializeStreams(ctx context.Context, c *call) (*response, error) {
	var p struct {
		CameraStreams []cameraStream `json:"cameraStreams"`
	}
	if err := json.Unmarshal(c.d.Payload, &p); err != nil || len(p.CameraStreams) == 0 {
		return nil, fail(errInvalidDirective, "payload.cameraStreams is required", err)
	}
	if !slices.ContainsFunc(p.CameraStreams, func(s cameraStream) bool { return s.Protocol == "HLS" }) {
		return nil, fail(errInvalidValue, "only HLS streams are offered", nil)
	}
	id := c.camera.ID
	if !x.Viewing.Online(id) {
		return nil, fail(errUnreachable, "the camera is offline", nil)
	}
	pic, err := x.Viewing.Picture(ctx, c.link, id)
	if err != nil {
		return nil, fail(errUnreachable, "the camera's stream is not available", err)
	}
	if pic.Video != "H264" {
		return nil, &Error{Type: errNotInMode, Msg: "the camera's video is not H.264", Mode: "OTHER"}
	}
	tok, expires, err := x.Viewing.StreamToken(ctx, c.link, id)
	if err != nil {
		return nil, noSuchEndpoint(err)
	}
	base := x.origin(c.r) + "/api/cameras/" + string(id)
	q := "?" + url.Values{"token": {tok}}.Encode()
	s := cameraStream{URI: base + "/hls/index.m3u8" + q, ExpirationTime: expires.UTC().Format(time.RFC3339),
		IdleTimeoutSeconds: idleTimeout, Protocol: "HLS", Resolution: resolution{pic.Width, pic.Height},
		AuthorizationType: "NONE", VideoCodec: "H264", AudioCodec: audioCodec(pic)}
	return reply(c.d, "Alexa.CameraStreamController", "Response", map[string]any{
		"cameraStreams": []cameraStream{s}, "imageUri": base + "/still.jpg" + q}), nil
}
