package alexa

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"vigil/internal/access"
	"vigil/internal/smarthome"
)

// maxBody bounds a directive; an offer with its candidates is a few KiB.
const maxBody = 64 << 10

// Directives answers the skill's directives. It is an http.Handler for
// the one POST endpoint the skill's Lambda forwards them to; every answer
// is 200 with an event, errors included (ErrorResponse), as the Lambda
// returns it to Alexa unchanged.
type Directives struct {
	Links   Links
	Viewing Viewing
	// Peers answers WebRTC offers; nil refuses RTCSessionController.
	Peers Peers
	// Grants exchanges AcceptGrant's code; nil fails AcceptGrant.
	Grants *Grants
	// BaseURL is the public https origin stream URLs start with (an Echo
	// fetches them from the internet); "" uses the request's host.
	BaseURL string
	// RTSPS says RTSP over TLS is served on the HTTPS port of BaseURL (or
	// the request's host): Discover and InitializeCameraStreams then offer
	// RTSP beside HLS.
	RTSPS bool
	// Snapshots serves the snapshot URLs GetSnapshot answers with; nil
	// leaves the snapshot capability out of Discover.
	Snapshots *Snapshots
	// Sessions is the table of live WebRTC views; required with Peers.
	Sessions *Sessions
	// ProxySecret, when set, must come in the X-Vigil-Proxy-Secret header
	// (the skill's Lambda sends it); a request without it is 403.
	ProxySecret string
	// Relinked, when set, is told of a link whose AcceptGrant succeeded:
	// the person linked the skill again, so that links of theirs waiting
	// to be relinked can end.
	Relinked func(ctx context.Context, link Link) error
	// Activity, when set, notes every directive whose token resolves as a
	// use of its link (see Reporter.Silence).
	Activity Activity
	// ProactiveReports says connectivity is reported to the event gateway
	// (Discover declares proactivelyReported).
	ProactiveReports bool
	Logger           *slog.Logger

	pictures pictures
}

var _ http.Handler = (*Directives)(nil)

// call is one directive being answered.
type call struct {
	r      *http.Request
	d      *directive
	link   Link
	camera Camera // for endpoint directives: the link's camera it names
}

type handler func(ctx context.Context, c *call) (*response, error)

// route returns the handler of a directive and whether it names an
// endpoint that must be one of the link's cameras.
func (x *Directives) route(key string) (handler, bool) {
	switch key {
	case "Alexa.Discovery/Discover":
		return x.discover, false
	case "Alexa.Authorization/AcceptGrant":
		return x.acceptGrant, false
	case "Alexa/ReportState":
		return x.reportState, true
	case "Alexa.RTCSessionController/InitiateSessionWithOffer":
		return x.initiateSession, true
	case "Alexa.RTCSessionController/SessionConnected":
		return x.sessionConnected, true
	case "Alexa.RTCSessionController/SessionDisconnected":
		return x.sessionDisconnected, true
	case "Alexa.CameraStreamController/InitializeCameraStreams":
		return x.initializeStreams, true
	case snapshotInterface + "/GetSnapshot":
		return x.getSnapshot, true
	}
	return nil, false
}

func (x *Directives) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if x.ProxySecret != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Vigil-Proxy-Secret")), []byte(x.ProxySecret)) != 1 {
		http.Error(w, "directives come through the skill's Lambda, with its X-Vigil-Proxy-Secret", http.StatusForbidden)
		return
	}
	var req request
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req)
	d := req.Directive
	if err != nil || d == nil || d.Header.Namespace == "" || d.Header.Name == "" || d.Header.MessageID == "" {
		if d == nil {
			d = &directive{}
		}
		writeJSON(w, errorResponse(d, fail(errInvalidDirective, "body must be an Alexa directive", err)))
		return
	}
	writeJSON(w, x.answer(r, d))
}

// answer authorizes d by the token inside it and runs its handler.
func (x *Directives) answer(r *http.Request, d *directive) *response {
	h, onEndpoint := x.route(d.key())
	if h == nil {
		return x.refuse(d, Link{}, fail(errInvalidDirective, "unsupported directive "+d.key(), nil))
	}
	link, err := x.Links.Resolve(r.Context(), token(d))
	if err != nil {
		typ := errInvalidCredential
		if errors.Is(err, ErrAuthExpired) {
			typ = errExpiredCredential
		}
		return x.refuse(d, Link{}, fail(typ, "the access token is not valid", err))
	}
	if x.Activity != nil {
		if err := x.Activity.SeeLink(r.Context(), link.ID, time.Now()); err != nil {
			x.Logger.Warn("alexa links: noting a link's use failed", "link", link.ID, "error", err)
		}
	}
	c := &call{r: r, d: d, link: link}
	if onEndpoint {
		if c.camera, err = x.camera(r.Context(), link, d); err != nil {
			return x.refuse(d, link, err)
		}
	}
	res, err := h(r.Context(), c)
	if err != nil {
		return x.refuse(d, link, err)
	}
	return res
}

func (x *Directives) refuse(d *directive, link Link, err error) *response {
	x.Logger.Info("alexa directive refused", "directive", d.key(), "link", link.ID, "error", err)
	return errorResponse(d, err)
}

// token is the access token inside d, where each directive carries it.
func token(d *directive) string {
	var p struct {
		Scope   *scope `json:"scope"`
		Grantee *scope `json:"grantee"`
	}
	json.Unmarshal(d.Payload, &p)
	switch {
	case d.key() == "Alexa.Discovery/Discover" && p.Scope != nil:
		return p.Scope.Token
	case d.key() == "Alexa.Authorization/AcceptGrant" && p.Grantee != nil:
		return p.Grantee.Token
	case d.Endpoint != nil && d.Endpoint.Scope != nil:
		return d.Endpoint.Scope.Token
	}
	return ""
}

// visible returns the cameras the link exposes that its user may still
// see, in the order the user chose them.
func (x *Directives) visible(ctx context.Context, link Link) ([]Camera, error) {
	cams, err := x.Viewing.Cameras(ctx, link.User)
	if err != nil {
		return nil, err
	}
	return smarthome.Exposed(cams, link.Devices), nil
}

// camera is the link's camera that d names, or NO_SUCH_ENDPOINT.
func (x *Directives) camera(ctx context.Context, link Link, d *directive) (Camera, error) {
	if d.Endpoint == nil || d.Endpoint.EndpointID == "" {
		return Camera{}, fail(errInvalidDirective, "endpoint.endpointId is required", nil)
	}
	cams, err := x.visible(ctx, link)
	if err != nil {
		return Camera{}, err
	}
	id := access.DeviceID(d.Endpoint.EndpointID)
	if i := slices.IndexFunc(cams, func(c Camera) bool { return c.ID == id }); i >= 0 {
		return cams[i], nil
	}
	return Camera{}, noSuchEndpoint(nil)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// origin is the scheme and host stream URLs start with.
func (x *Directives) origin(r *http.Request) string {
	if x.BaseURL != "" {
		return strings.TrimRight(x.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: r.Host}).String()
}
