package google

import "encoding/json"

// Intent names (Google's smart home intents).
const (
	intentSync       = "action.devices.SYNC"
	intentQuery      = "action.devices.QUERY"
	intentExecute    = "action.devices.EXECUTE"
	intentDisconnect = "action.devices.DISCONNECT"

	typeCamera              = "action.devices.types.CAMERA"
	traitCameraStrm         = "action.devices.traits.CameraStream"
	cmdGetCamStream         = "action.devices.commands.GetCameraStream"
	protocolHLS             = "hls"
	protocolMP4             = "progressive_mp4"
	protocolWebRTC          = "webrtc"
	statusSuccess           = "SUCCESS"
	statusError             = "ERROR"
	errDeviceNotFound       = "deviceNotFound"
	errDeviceOffline        = "deviceOffline"
	errAuthExpired          = "authExpired"
	errAuthFailure          = "authFailure"
	errProtocol             = "protocolError"
	errNotSupported         = "notSupported"
	errFunctionNotSupported = "functionNotSupported"
	errTransient            = "transientError"
)

// request is the body Google posts for every intent.
type request struct {
	RequestID string `json:"requestId"`
	Inputs    []struct {
		Intent  string          `json:"intent"`
		Payload json.RawMessage `json:"payload"`
	} `json:"inputs"`
}

type deviceRef struct {
	ID string `json:"id"`
}

type queryPayload struct {
	Devices []deviceRef `json:"devices"`
}

type executePayload struct {
	Commands []struct {
		Devices   []deviceRef `json:"devices"`
		Execution []struct {
			Command string `json:"command"`
			Params  struct {
				StreamToChromecast       bool     `json:"StreamToChromecast"`
				SupportedStreamProtocols []string `json:"SupportedStreamProtocols"`
			} `json:"params"`
		} `json:"execution"`
	} `json:"commands"`
}

type response struct {
	RequestID string `json:"requestId"`
	Payload   any    `json:"payload"`
}

type errorPayload struct {
	ErrorCode   string `json:"errorCode"`
	DebugString string `json:"debugString,omitempty"`
}

type syncDevice struct {
	ID              string         `json:"id"`
	Type            string         `json:"type"`
	Traits          []string       `json:"traits"`
	Name            map[string]any `json:"name"`
	WillReportState bool           `json:"willReportState"`
	Attributes      map[string]any `json:"attributes"`
	DeviceInfo      map[string]any `json:"deviceInfo"`
}

type syncPayload struct {
	AgentUserID string       `json:"agentUserId"`
	Devices     []syncDevice `json:"devices"`
}

type queryState struct {
	Online    bool   `json:"online"`
	Status    string `json:"status"`
	ErrorCode string `json:"errorCode,omitempty"`
}

type commandResult struct {
	IDs       []string       `json:"ids"`
	Status    string         `json:"status"`
	States    map[string]any `json:"states,omitempty"`
	ErrorCode string         `json:"errorCode,omitempty"`
}
