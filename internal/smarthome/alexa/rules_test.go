package alexa

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The field rules of PROTOCOLS.md's Alexa section, which every response
// of these tests is held to (Amazon's published JSON schema is not
// vendored: its licence is not one we can ship).

var (
	uuidV4     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	endpointID = regexp.MustCompile(`^[a-zA-Z0-9_\-=#;:?@&]{1,256}$`)
	errorTypes = []string{errInvalidCredential, errExpiredCredential, errNoSuchEndpoint, errUnreachable,
		"BRIDGE_UNREACHABLE", errNotInMode, errInvalidDirective, errInvalidValue, errRateLimit, errInternal}
)

// checkResponse validates a response to the directive req (both as JSON)
// and returns the problems found.
func checkResponse(req, res []byte) []string {
	var d request
	var r struct {
		Event struct {
			Header   header          `json:"header"`
			Endpoint *endpoint       `json:"endpoint"`
			Payload  json.RawMessage `json:"payload"`
		} `json:"event"`
		Context *struct {
			Properties []property `json:"properties"`
		} `json:"context"`
	}
	var bad []string
	badf := func(f string, a ...any) { bad = append(bad, fmt.Sprintf(f, a...)) }
	json.Unmarshal(req, &d)
	if err := json.Unmarshal(res, &r); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	h := r.Event.Header
	version := "3"
	if h.Namespace == snapshotInterface {
		version = snapshotVersion // the interface's own payload version
	}
	if h.Namespace == "" || h.Name == "" || h.PayloadVersion != version || !uuidV4.MatchString(h.MessageID) {
		badf("header %+v: namespace, name, payloadVersion 3 and a UUID v4 messageId", h)
	}
	if d.Directive != nil {
		if h.MessageID == d.Directive.Header.MessageID {
			badf("messageId reused from the directive")
		}
		if h.CorrelationToken != d.Directive.Header.CorrelationToken {
			badf("correlationToken %q, the directive's was %q", h.CorrelationToken, d.Directive.Header.CorrelationToken)
		}
		if de := d.Directive.Endpoint; de != nil && (r.Event.Endpoint == nil || r.Event.Endpoint.EndpointID != de.EndpointID) {
			badf("endpoint not echoed: %+v", r.Event.Endpoint)
		}
	}
	if r.Event.Endpoint != nil && r.Event.Endpoint.Scope != nil {
		badf("the access token was sent back in event.endpoint.scope")
	}
	var p map[string]any
	if err := json.Unmarshal(r.Event.Payload, &p); err != nil {
		badf("payload is not an object: %s", r.Event.Payload)
	}
	switch h.Namespace + "/" + h.Name {
	case "Alexa/ErrorResponse":
		if !slices.Contains(errorTypes, fmt.Sprint(p["type"])) || p["message"] == nil {
			badf("error payload %v", p)
		}
		if p["type"] == errNotInMode && p["currentDeviceMode"] == nil {
			badf("NOT_SUPPORTED_IN_CURRENT_MODE without currentDeviceMode")
		}
	case "Alexa.Authorization/ErrorResponse":
		if p["type"] != errAcceptGrantFailed {
			badf("AcceptGrant error %v", p)
		}
	case "Alexa.Discovery/Discover.Response":
		bad = append(bad, checkEndpoints(r.Event.Payload)...)
	case "Alexa/StateReport":
		if r.Context == nil || !slices.ContainsFunc(r.Context.Properties, validConnectivity) {
			badf("StateReport without a connectivity property: %+v", r.Context)
		}
	case "Alexa.RTCSessionController/AnswerGeneratedForSession":
		a, _ := p["answer"].(map[string]any)
		if a["format"] != "SDP" || a["value"] == "" || a["value"] == nil {
			badf("answer %v", p)
		}
	case "Alexa.RTCSessionController/SessionConnected", "Alexa.RTCSessionController/SessionDisconnected":
		if p["sessionId"] == "" || p["sessionId"] == nil {
			badf("no sessionId: %v", p)
		}
	case "Alexa.CameraStreamController/Response":
		bad = append(bad, checkStreams(r.Event.Payload)...)
	case snapshotInterface + "/" + snapshotEvent:
		exp, err := time.Parse(time.RFC3339, fmt.Sprint(p["expirationTime"]))
		if !strings.HasPrefix(fmt.Sprint(p["uri"]), "https://") || err != nil || time.Until(exp) > 10*time.Minute {
			badf("snapshot %v: an https uri and an expirationTime at most 10 minutes ahead", p)
		}
	case "Alexa.Authorization/AcceptGrant.Response":
	default:
		badf("unexpected event %s/%s", h.Namespace, h.Name)
	}
	return bad
}

func validConnectivity(p property) bool {
	v, _ := p.Value.(map[string]any)
	_, err := time.Parse(time.RFC3339Nano, p.TimeOfSample)
	return p.Namespace == "Alexa.EndpointHealth" && p.Name == "connectivity" && err == nil &&
		(v["value"] == "OK" || v["value"] == "UNREACHABLE")
}

func checkEndpoints(raw json.RawMessage) []string {
	var p struct {
		Endpoints []struct {
			discoveredEndpoint
			Capabilities []map[string]any `json:"capabilities"`
		} `json:"endpoints"`
	}
	var bad []string
	if err := json.Unmarshal(raw, &p); err != nil || p.Endpoints == nil {
		return []string{"payload.endpoints is not a list"}
	}
	for _, e := range p.Endpoints {
		if !endpointID.MatchString(e.EndpointID) || e.ManufacturerName == "" || e.FriendlyName == "" ||
			e.Description == "" || !slices.Equal(e.DisplayCategories, []string{"CAMERA"}) {
			bad = append(bad, fmt.Sprintf("endpoint %+v", e.discoveredEndpoint))
		}
		have := map[string]map[string]any{}
		for _, c := range e.Capabilities {
			if c["type"] != "AlexaInterface" || c["version"] == nil {
				bad = append(bad, fmt.Sprintf("capability %v", c))
			}
			have[fmt.Sprint(c["interface"])] = c
		}
		if have["Alexa"]["version"] != "3" {
			bad = append(bad, "no Alexa 3 interface")
		}
		eh := have["Alexa.EndpointHealth"]
		props, _ := eh["properties"].(map[string]any)
		if eh["version"] != "3.1" || props["retrievable"] != true || !strings.Contains(fmt.Sprint(props["supported"]), "connectivity") {
			bad = append(bad, fmt.Sprintf("EndpointHealth %v", eh))
		}
		cs := have["Alexa.CameraStreamController"]
		if cs == nil || cs["configuration"] != nil {
			bad = append(bad, "CameraStreamController missing, or its configurations inside configuration")
		}
		if rtc := have["Alexa.RTCSessionController"]; rtc != nil {
			if c, _ := rtc["configuration"].(map[string]any); c["isFullDuplexAudioSupported"] == nil {
				bad = append(bad, "RTCSessionController without isFullDuplexAudioSupported")
			}
		}
		b, _ := json.Marshal(cs["cameraStreamConfigurations"])
		var cfgs []streamConfig
		json.Unmarshal(b, &cfgs)
		for _, c := range cfgs {
			for _, r := range c.Resolutions {
				if r.Width <= 0 || r.Height <= 0 {
					bad = append(bad, fmt.Sprintf("resolution %+v", r))
				}
			}
			if len(c.Protocols) == 0 || len(c.Resolutions) == 0 || len(c.VideoCodecs) == 0 || len(c.AudioCodecs) == 0 ||
				len(c.AuthorizationTypes) == 0 {
				bad = append(bad, fmt.Sprintf("stream configuration %+v", c))
			}
		}
		if len(cfgs) == 0 {
			bad = append(bad, "no cameraStreamConfigurations")
		}
	}
	return bad
}

func checkStreams(raw json.RawMessage) []string {
	var p struct {
		CameraStreams []cameraStream `json:"cameraStreams"`
		ImageURI      string         `json:"imageUri"`
	}
	var bad []string
	if err := json.Unmarshal(raw, &p); err != nil || len(p.CameraStreams) == 0 || !strings.HasPrefix(p.ImageURI, "http") {
		return []string{"cameraStreams and imageUri expected"}
	}
	for _, s := range p.CameraStreams {
		_, err := time.Parse(time.RFC3339, s.ExpirationTime)
		scheme := map[string]string{"HLS": "http", "RTSP": "rtsps://"}[s.Protocol] // RTSP only over TLS
		if scheme == "" || !strings.HasPrefix(s.URI, scheme) || err != nil || s.Resolution.Width <= 0 ||
			s.Resolution.Height <= 0 || s.VideoCodec != "H264" || s.AuthorizationType == "" || s.AudioCodec == "" ||
			s.IdleTimeoutSeconds <= 0 {
			bad = append(bad, fmt.Sprintf("camera stream %+v", s))
		}
	}
	return bad
}
