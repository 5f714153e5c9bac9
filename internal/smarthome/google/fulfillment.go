package google

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"vigil/internal/access"
	"vigil/internal/smarthome"
)

// maxBody bounds a fulfillment request; Google's are a few KiB.
const maxBody = 64 << 10

// Fulfillment answers Google's smart home intents. It is an http.Handler
// for the one POST endpoint Google calls.
type Fulfillment struct {
	Links   Links
	Viewing Viewing
	// BaseURL is the public https origin stream URLs start with (a Cast
	// receiver fetches them from the internet); "" uses the request's host.
	BaseURL string
	// WebRTC offers Google's WebRTC flow (signaling at
	// /api/cameras/{id}/google/webrtc) to displays that ask for it.
	WebRTC bool
	// ICEServers is cameraStreamIceServers: the STUN/TURN servers as a
	// JSON-encoded string ("" leaves it out).
	ICEServers string
	// Reports, if set, is told of links that disconnect, so that nothing is
	// reported for them afterwards.
	Reports *Reporter
	Logger  *slog.Logger
}

var _ http.Handler = (*Fulfillment)(nil)

func (f *Fulfillment) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var req request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&req); err != nil || len(req.Inputs) == 0 {
		writeJSON(w, http.StatusBadRequest, response{RequestID: req.RequestID,
			Payload: errorPayload{ErrorCode: errProtocol, DebugString: "body must be a smart home intent request"}})
		return
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	link, err := f.Links.Resolve(r.Context(), strings.TrimSpace(bearer))
	if !ok || err != nil {
		code := errAuthFailure
		if errors.Is(err, ErrAuthExpired) {
			code = errAuthExpired
		}
		f.Logger.Info("google request refused", "intent", req.Inputs[0].Intent, "error_code", code, "error", err)
		writeJSON(w, http.StatusUnauthorized, response{RequestID: req.RequestID, Payload: errorPayload{ErrorCode: code}})
		return
	}
	in := req.Inputs[0]
	var payload any
	switch in.Intent {
	case intentSync:
		payload, err = f.sync(r.Context(), link)
	case intentQuery:
		payload, err = f.query(r.Context(), link, in.Payload)
	case intentExecute:
		payload, err = f.execute(r, link, in.Payload)
	case intentDisconnect:
		f.disconnect(r.Context(), link)
		writeJSON(w, http.StatusOK, struct{}{})
		return
	default:
		payload = errorPayload{ErrorCode: errNotSupported, DebugString: "unknown intent " + in.Intent}
	}
	if err != nil {
		f.Logger.Warn("google intent failed", "intent", in.Intent, "link", link.ID, "error", err)
		payload = errorPayload{ErrorCode: errTransient}
	}
	writeJSON(w, http.StatusOK, response{RequestID: req.RequestID, Payload: payload})
}

// visible returns the cameras the link exposes that its user may still see.
func (f *Fulfillment) visible(ctx context.Context, link Link) (map[access.DeviceID]Camera, error) {
	cams, err := f.Viewing.Cameras(ctx, link.User)
	if err != nil {
		return nil, err
	}
	out := map[access.DeviceID]Camera{}
	for _, c := range smarthome.Exposed(cams, link.Devices) {
		out[c.ID] = c
	}
	return out, nil
}

func (f *Fulfillment) sync(ctx context.Context, link Link) (any, error) {
	cams, err := f.visible(ctx, link)
	if err != nil {
		return nil, err
	}
	p := syncPayload{AgentUserID: link.AgentUserID, Devices: []syncDevice{}}
	for _, id := range link.Devices { // the order the user chose them in
		c, ok := cams[id]
		if !ok {
			continue
		}
		p.Devices = append(p.Devices, syncDevice{
			ID: string(c.ID), Type: typeCamera, Traits: []string{traitCameraStrm},
			Name:            map[string]any{"name": c.Name, "defaultNames": []string{"Vigil camera"}},
			WillReportState: true,
			Attributes: map[string]any{
				"cameraStreamSupportedProtocols": f.protocols(),
				"cameraStreamNeedAuthToken":      true,
			},
			DeviceInfo: map[string]any{"manufacturer": "Vigil", "model": "camera"},
		})
	}
	return p, nil
}

func (f *Fulfillment) query(ctx context.Context, link Link, raw json.RawMessage) (any, error) {
	var q queryPayload
	if err := json.Unmarshal(raw, &q); err != nil {
		return errorPayload{ErrorCode: errProtocol, DebugString: "payload.devices expected"}, nil
	}
	cams, err := f.visible(ctx, link)
	if err != nil {
		return nil, err
	}
	states := map[string]queryState{}
	for _, d := range q.Devices {
		if _, ok := cams[access.DeviceID(d.ID)]; !ok {
			states[d.ID] = queryState{Status: statusError, ErrorCode: errDeviceNotFound}
			continue
		}
		states[d.ID] = queryState{Online: f.Viewing.Online(access.DeviceID(d.ID)), Status: statusSuccess}
	}
	return map[string]any{"devices": states}, nil
}

func (f *Fulfillment) disconnect(ctx context.Context, link Link) {
	if f.Reports != nil {
		f.Reports.Forget(link.AgentUserID)
	}
	if err := f.Links.Disconnect(ctx, link); err != nil {
		f.Logger.Error("google disconnect failed", "link", link.ID, "error", err)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// origin is the scheme and host stream URLs start with.
func (f *Fulfillment) origin(r *http.Request) string {
	if f.BaseURL != "" {
		return strings.TrimRight(f.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: r.Host}).String()
}
