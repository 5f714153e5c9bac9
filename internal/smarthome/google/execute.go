package google

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"

	"vigil/internal/access"
)

// protocols are the stream protocols Vigil serves to Google, in order of
// preference: Cast-played HLS and MP4 first (they start from the GOP cache
// on any receiver), WebRTC when the display asks only for it.
func (f *Fulfillment) protocols() []string {
	if f.WebRTC {
		return []string{protocolHLS, protocolMP4, protocolWebRTC}
	}
	return []string{protocolHLS, protocolMP4}
}

// pickProtocol chooses among the protocols the request supports (none
// listed: any of ours) the one we prefer; "" when there is none.
func (f *Fulfillment) pickProtocol(supported []string) string {
	for _, p := range f.protocols() {
		if len(supported) == 0 || slices.Contains(supported, p) {
			return p
		}
	}
	return ""
}

func (f *Fulfillment) execute(r *http.Request, link Link, raw json.RawMessage) (any, error) {
	var x executePayload
	if err := json.Unmarshal(raw, &x); err != nil {
		return errorPayload{ErrorCode: errProtocol, DebugString: "payload.commands expected"}, nil
	}
	cams, err := f.visible(r.Context(), link)
	if err != nil {
		return nil, err
	}
	results := []commandResult{}
	for _, c := range x.Commands {
		for _, e := range c.Execution {
			for _, d := range c.Devices {
				res := f.getStream(r, link, cams, access.DeviceID(d.ID), e.Command, e.Params.SupportedStreamProtocols)
				res.IDs = []string{d.ID}
				results = append(results, res)
			}
		}
	}
	return map[string]any{"commands": results}, nil
}

// getStream answers one device's GetCameraStream.
func (f *Fulfillment) getStream(r *http.Request, link Link, cams map[access.DeviceID]Camera, id access.DeviceID,
	command string, supported []string,
) commandResult {
	fail := func(code string) commandResult { return commandResult{Status: statusError, ErrorCode: code} }
	if _, ok := cams[id]; !ok {
		return fail(errDeviceNotFound)
	}
	if command != cmdGetCamStream {
		return fail(errFunctionNotSupported)
	}
	protocol := f.pickProtocol(supported)
	if protocol == "" {
		return fail(errNotSupported)
	}
	if !f.Viewing.Online(id) {
		return fail(errDeviceOffline)
	}
	tok, _, err := f.Viewing.StreamToken(r.Context(), link, id)
	if err != nil {
		f.Logger.Warn("google stream token refused", "camera", id, "link", link.ID, "error", err)
		return fail(errDeviceNotFound)
	}
	if protocol == protocolWebRTC {
		states := map[string]any{"cameraStreamProtocol": protocol, "cameraStreamAuthToken": tok,
			"cameraStreamSignalingUrl": f.origin(r) + "/api/cameras/" + string(id) + "/google/webrtc"}
		if f.ICEServers != "" {
			states["cameraStreamIceServers"] = f.ICEServers
		}
		return commandResult{Status: statusSuccess, States: states}
	}
	path := "/api/cameras/" + string(id) + "/hls/index.m3u8"
	if protocol == protocolMP4 {
		path = "/api/cameras/" + string(id) + "/live.mp4"
	}
	// The token rides in the URL too: Cast's default receiver sends no
	// headers of ours.
	u := f.origin(r) + path + "?" + url.Values{"token": {tok}}.Encode()
	return commandResult{Status: statusSuccess, States: map[string]any{
		"cameraStreamAccessUrl": u, "cameraStreamProtocol": protocol, "cameraStreamAuthToken": tok,
	}}
}
