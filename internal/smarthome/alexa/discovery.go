package alexa

import (
	"context"
	"sync"
	"time"

	"vigil/internal/access"
)

// fallbackPicture is advertised for a camera that is offline at discovery
// and was never measured since this process started; AddOrUpdateReport or
// the next Discover corrects it.
var fallbackPicture = Picture{Video: "H264", Width: 1280, Height: 720}

// pictures remembers each camera's last measured picture, so that one
// offline at discovery is still advertised at its true resolution. It
// holds one small value per camera ever discovered.
type pictures struct {
	mu   sync.Mutex
	last map[access.DeviceID]Picture // guarded by mu
}

func (p *pictures) measured(id access.DeviceID, pic Picture) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == nil {
		p.last = map[access.DeviceID]Picture{}
	}
	p.last[id] = pic
}

func (p *pictures) lastOf(id access.DeviceID) Picture {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pic, ok := p.last[id]; ok {
		return pic
	}
	return fallbackPicture
}

type capability struct {
	Type          string         `json:"type"`
	Interface     string         `json:"interface"`
	Version       string         `json:"version"`
	Properties    map[string]any `json:"properties,omitempty"`
	Configuration map[string]any `json:"configuration,omitempty"`
	// CameraStreamConfigurations sits beside interface, not inside
	// configuration (Alexa.CameraStreamController 3).
	CameraStreamConfigurations []streamConfig `json:"cameraStreamConfigurations,omitempty"`
}

type resolution struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

type streamConfig struct {
	Protocols          []string     `json:"protocols"`
	Resolutions        []resolution `json:"resolutions"`
	AuthorizationTypes []string     `json:"authorizationTypes"`
	VideoCodecs        []string     `json:"videoCodecs"`
	AudioCodecs        []string     `json:"audioCodecs"`
}

type discoveredEndpoint struct {
	EndpointID        string       `json:"endpointId"`
	ManufacturerName  string       `json:"manufacturerName"`
	FriendlyName      string       `json:"friendlyName"`
	Description       string       `json:"description"`
	DisplayCategories []string     `json:"displayCategories"`
	Capabilities      []capability `json:"capabilities"`
}

// discover lists exactly the link's visible cameras as CAMERA endpoints,
// each with the resolution and codecs its stream has now.
func (x *Directives) discover(ctx context.Context, c *call) (*response, error) {
	cams, err := x.visible(ctx, c.link)
	if err != nil {
		return nil, err
	}
	return reply(c.d, "Alexa.Discovery", "Discover.Response", map[string]any{"endpoints": x.endpoints(ctx, c.link, cams)}), nil
}

// endpoints describes cams for Discover and AddOrUpdateReport.
func (x *Directives) endpoints(ctx context.Context, link Link, cams []Camera) []discoveredEndpoint {
	eps := []discoveredEndpoint{}
	for _, cam := range cams {
		pic, err := x.Viewing.Picture(ctx, link, cam.ID)
		if err == nil {
			x.pictures.measured(cam.ID, pic)
		} else {
			pic = x.pictures.lastOf(cam.ID)
		}
		eps = append(eps, discoveredEndpoint{EndpointID: string(cam.ID), ManufacturerName: "Vigil",
			FriendlyName: cam.Name, Description: "Vigil camera", DisplayCategories: []string{"CAMERA"},
			Capabilities: x.capabilities(pic)})
	}
	return eps
}

func (x *Directives) capabilities(pic Picture) []capability {
	iface := func(name, version string) capability {
		return capability{Type: "AlexaInterface", Interface: name, Version: version}
	}
	health := iface("Alexa.EndpointHealth", "3.1")
	health.Properties = map[string]any{"supported": []map[string]string{{"name": "connectivity"}},
		"proactivelyReported": x.ProactiveReports, "retrievable": true}
	stream := iface("Alexa.CameraStreamController", "3")
	protocols := []string{"HLS"}
	if x.RTSPS {
		protocols = append(protocols, "RTSP")
	}
	stream.CameraStreamConfigurations = []streamConfig{{Protocols: protocols,
		Resolutions: []resolution{{pic.Width, pic.Height}}, AuthorizationTypes: []string{"NONE"},
		VideoCodecs: []string{pic.Video}, AudioCodecs: []string{audioCodec(pic)}}}
	caps := []capability{iface("Alexa", "3"), health, stream}
	if x.Snapshots != nil {
		caps = append(caps, iface(snapshotInterface, snapshotVersion))
	}
	if x.Peers != nil {
		rtc := iface("Alexa.RTCSessionController", "3")
		rtc.Configuration = map[string]any{"isFullDuplexAudioSupported": false}
		caps = append(caps, rtc)
	}
	return caps
}

// audioCodec is the audio of the camera's HLS stream, as
// CameraStreamController names it: HLS carries AAC only.
func audioCodec(p Picture) string {
	if p.Audio == "AAC" {
		return "AAC"
	}
	return "NONE"
}

// reportState answers with the camera's connectivity.
func (x *Directives) reportState(_ context.Context, c *call) (*response, error) {
	res := reply(c.d, "Alexa", "StateReport", struct{}{})
	res.Context = &eventContext{Properties: []property{connectivity(x.Viewing.Online(c.camera.ID), time.Now())}}
	return res, nil
}
