package alexa

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"slices"
	"time"

	"vigil/internal/access"
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

// initializeStreams answers with the streams asked for that this server
// serves — HLS always, RTSP when RTSPS is on the HTTPS port — each at a
// URL carrying a stream token bound to the link, with the stream's true
// resolution and codecs, and a still of the camera as imageUri.
func (x *Directives) initializeStreams(ctx context.Context, c *call) (*response, error) {
	var p struct {
		CameraStreams []cameraStream `json:"cameraStreams"`
	}
	if err := json.Unmarshal(c.d.Payload, &p); err != nil || len(p.CameraStreams) == 0 {
		return nil, fail(errInvalidDirective, "payload.cameraStreams is required", err)
	}
	asked := func(protocol string) bool {
		return slices.ContainsFunc(p.CameraStreams, func(s cameraStream) bool { return s.Protocol == protocol })
	}
	hls, rtsp := asked("HLS"), x.RTSPS && asked("RTSP")
	if !hls && !rtsp {
		return nil, fail(errInvalidValue, "only HLS streams, and RTSP when RTSPS is on, are offered", nil)
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
	origin := x.origin(c.r)
	base := origin + "/api/cameras/" + string(id)
	q := "?" + url.Values{"token": {tok}}.Encode()
	s := cameraStream{ExpirationTime: expires.UTC().Format(time.RFC3339), IdleTimeoutSeconds: idleTimeout,
		Resolution: resolution{pic.Width, pic.Height}, AuthorizationType: "NONE", VideoCodec: "H264", AudioCodec: audioCodec(pic)}
	var streams []cameraStream
	if hls {
		s.URI, s.Protocol = base+"/hls/index.m3u8"+q, "HLS"
		streams = append(streams, s)
	}
	if rtsp {
		s.URI, s.Protocol = rtspsURL(origin, id)+q, "RTSP"
		streams = append(streams, s)
	}
	return reply(c.d, "Alexa.CameraStreamController", "Response", map[string]any{
		"cameraStreams": streams, "imageUri": base + "/still.jpg" + q}), nil
}

// rtspsURL is the camera's main stream over RTSP on TLS on the HTTPS port
// of origin (Alexa takes RTSP only over TLS on 443, interleaved on TCP).
func rtspsURL(origin string, id access.DeviceID) string {
	u, err := url.Parse(origin)
	host := ""
	if err == nil {
		host = u.Host
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "443")
		}
	}
	return "rtsps://" + host + "/" + url.PathEscape(string(id))
}
