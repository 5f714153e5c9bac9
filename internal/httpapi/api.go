package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
)

// Camera is a camera as its viewer sees it in the API.
type Camera struct {
	ID     access.DeviceID `json:"id"`
	Name   string          `json:"name"`
	Role   string          `json:"role"` // owner, viewer (a share) or operator (unclaimed, admins)
	Online bool            `json:"online"`
	Until  time.Time       `json:"share_until,omitzero"`
}

// ShareView is one share of a camera, for its owner.
type ShareView struct {
	User    string    `json:"user"`
	Until   time.Time `json:"until,omitzero"`
	Created time.Time `json:"created"`
}

// AccessView is one viewing session in a camera's history, for its owner.
type AccessView struct {
	User     string          `json:"user"`
	Output   string          `json:"output"`
	Audience access.Audience `json:"audience"`
	Remote   string          `json:"remote"`
	Started  time.Time       `json:"started"`
	Ended    time.Time       `json:"ended,omitzero"`
	Bytes    int64           `json:"bytes"`
}

// Households lists cameras and shares; changes go through auth, which
// revokes what they end.
type Households interface {
	auth.Households
	Cameras(ctx context.Context, user access.UserID, admin bool, now time.Time) ([]Camera, error)
	Shares(ctx context.Context, device access.DeviceID) ([]ShareView, error)
	History(ctx context.Context, device access.DeviceID, limit int) ([]AccessView, error)
}

// API is the JSON API for cameras, claiming and sharing.
type API struct {
	Auth       *auth.Service
	Authn      *Authenticator
	Users      Principals
	Households Households
	Online     func(access.DeviceID) bool
	// RTSPBase returns "rtsp://host:port" as the request's client reaches
	// the RTSP server; nil leaves RTSP URLs out.
	RTSPBase func(r *http.Request) string
	Tokens   *auth.Tokens
	Signups  Signups
	// OpenSignup lets anyone create an account (config signup).
	OpenSignup bool
	// Links lists and ends linked services; nil leaves /api/links out.
	Links  Links
	Logger *slog.Logger
}

// Signups stores invitations and new accounts.
type Signups interface {
	CreateInvitation(ctx context.Context, codeSHA256 string, by access.UserID, expires time.Time) error
	SignUp(ctx context.Context, u store.User, phc, invitationSHA256 string, now time.Time) error
}

func (a *API) routes(mux *Router) {
	mux.Handle("GET /api/cameras", serve(a.Logger, a.cameras))
	mux.Handle("POST /api/cameras/claim", serve(a.Logger, a.claim))
	mux.Handle("GET /api/cameras/{id}/shares", serve(a.Logger, a.shares))
	mux.Handle("PUT /api/cameras/{id}/shares/{user}", serve(a.Logger, a.share))
	mux.Handle("DELETE /api/cameras/{id}/shares/{user}", serve(a.Logger, a.unshare))
	mux.Handle("POST /api/cameras/{id}/tokens", serve(a.Logger, a.token))
	mux.Handle("GET /api/cameras/{id}/access", serve(a.Logger, a.history))
	mux.Handle("DELETE /api/cameras/{id}", serve(a.Logger, a.release))
	mux.Handle("GET /api/openapi.json", serve(a.Logger, a.openAPI))
	mux.Handle("POST /api/login", serve(a.Logger, a.login))
	mux.Handle("POST /api/logout", serve(a.Logger, a.logout))
	mux.Handle("GET /api/session", serve(a.Logger, a.session))
	mux.Handle("POST /api/password", serve(a.Logger, a.password))
	mux.Handle("POST /api/tokens", serve(a.Logger, a.createAPIToken))
	mux.Handle("GET /api/tokens", serve(a.Logger, a.listAPITokens))
	mux.Handle("DELETE /api/tokens/{token}", serve(a.Logger, a.deleteAPIToken))
	mux.Handle("POST /api/invitations", serve(a.Logger, a.invite))
	mux.Handle("POST /api/signup", serve(a.Logger, a.signup))
	if a.Links != nil {
		mux.Handle("GET /api/links", serve(a.Logger, a.links))
		mux.Handle("DELETE /api/links/{id}", serve(a.Logger, a.unlink))
	}
}

// release gives the camera up: owner and shares dropped, viewing ends, and
// a new claim code comes back for whoever gets the camera next.
func (a *API) release(w http.ResponseWriter, r *http.Request) error {
	owner, device, err := a.owned(r)
	if err != nil {
		return err
	}
	code, err := a.Auth.Release(r.Context(), owner, device, a.Households)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"id": string(device), "claim_code": code})
}

// historyLimit bounds one history answer.
const historyLimit = 500

// history lists who watched the camera, newest first; owners only.
func (a *API) history(w http.ResponseWriter, r *http.Request) error {
	_, device, err := a.owned(r)
	if err != nil {
		return err
	}
	h, err := a.Households.History(r.Context(), device, historyLimit)
	if err != nil {
		return err
	}
	if h == nil {
		h = []AccessView{}
	}
	return writeJSON(w, http.StatusOK, h)
}

// Stream tokens last 10 minutes unless asked otherwise, an hour at most:
// a long view renews its token before it ends.
const (
	tokenTTL    = 10 * time.Minute
	tokenMaxTTL = time.Hour
)

var audiences = map[access.Audience]bool{
	access.AudienceWeb: true, access.AudienceRTSP: true, access.AudienceGoogle: true, access.AudienceAlexa: true,
}

// token mints a stream token for a camera the user may see, with the URLs
// a player can use with it.
func (a *API) token(w http.ResponseWriter, r *http.Request) error {
	c, err := a.user(r, auth.ScopeView)
	if err != nil {
		return err
	}
	name := c.Name
	device, err := access.ParseDeviceID(r.PathValue("id"))
	if err != nil {
		return errNotFound
	}
	body := struct {
		Audience   access.Audience `json:"audience"`
		Stream     string          `json:"stream"`
		TTLSeconds int             `json:"ttl_seconds"`
	}{Audience: access.AudienceWeb}
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &body); err != nil {
			return err
		}
	}
	// Left out, the stream is the camera's adaptive set (main and sub): a
	// player on a poor network steps down to sub.
	var stream access.StreamID
	if body.Stream != "" {
		stream, err = access.ParseStreamID(body.Stream)
	}
	if err != nil || !audiences[body.Audience] || body.TTLSeconds < 0 {
		return httpError(http.StatusBadRequest, "audience must be web, rtsp, google or alexa; stream main or sub; ttl_seconds positive", err)
	}
	ttl := tokenTTL
	if body.TTLSeconds > 0 {
		ttl = min(time.Duration(body.TTLSeconds)*time.Second, tokenMaxTTL)
	}
	g, err := a.Auth.Grant(r.Context(), name, device, body.Audience)
	if err != nil {
		return err
	}
	expires := time.Now().Add(ttl)
	if g.Expiry().Before(expires) {
		expires = g.Expiry()
	}
	tok := a.Tokens.Mint(auth.Token{User: name, Device: device, Stream: stream, Audience: body.Audience,
		Session: c.Bound, Expires: expires})
	return writeJSON(w, http.StatusOK, map[string]any{
		"token": tok, "expires": expires.UTC(), "urls": a.tokenURLs(r, device, stream, body.Audience, tok)})
}

// tokenURLs are the URLs a player of audience can open with tok. The HLS
// URL is the multivariant playlist: it lists the streams the token opens
// and their audio, which a media playlist leaves out. Without a stream
// (the adaptive set) the other URLs serve main.
func (a *API) tokenURLs(r *http.Request, device access.DeviceID, stream access.StreamID, aud access.Audience, tok string) map[string]string {
	if aud == access.AudienceRTSP {
		if a.RTSPBase == nil {
			return map[string]string{}
		}
		path := string(device)
		if stream == access.StreamSub {
			path += "/" + string(stream)
		}
		return map[string]string{"rtsp": a.RTSPBase(r) + "/" + path + "?token=" + tok}
	}
	q := "?token=" + tok
	if stream != "" {
		q = "?stream=" + string(stream) + "&token=" + tok
	}
	base := "/api/cameras/" + string(device)
	return map[string]string{
		"hls":   base + "/hls/index.m3u8?token=" + tok,
		"mp4":   base + "/live.mp4" + q,
		"still": base + "/still.jpg" + q,
	}
}

// user authenticates the request.
func (a *API) user(r *http.Request, need auth.Scope) (caller, error) { return a.Authn.user(r, need) }

func writeJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	return json.NewEncoder(w).Encode(v)
}

// readJSON decodes a small JSON body strictly. The body must be declared
// application/json: a cross-site form or a text/plain fetch cannot send
// that without a CORS preflight, so no other site can post JSON in a
// visitor's name (a sign-in that binds the visitor to the attacker's
// account, login CSRF, included).
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return httpError(http.StatusUnsupportedMediaType, "the body must be JSON, sent with Content-Type: application/json", err)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return httpError(http.StatusBadRequest, "malformed JSON body: "+err.Error(), err)
	}
	return nil
}

func (a *API) cameras(w http.ResponseWriter, r *http.Request) error {
	p, err := a.user(r, auth.ScopeView)
	if err != nil {
		return err
	}
	cams, err := a.Households.Cameras(r.Context(), p.ID, p.Admin, time.Now())
	if err != nil {
		return err
	}
	for i := range cams {
		cams[i].Online = a.Online(cams[i].ID)
	}
	if cams == nil {
		cams = []Camera{}
	}
	return writeJSON(w, http.StatusOK, cams)
}

func (a *API) claim(w http.ResponseWriter, r *http.Request) error {
	c, err := a.user(r, auth.ScopeManage)
	if err != nil {
		return err
	}
	var body struct {
		Code string `json:"code"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	id, err := a.Auth.Claim(r.Context(), c.Name, body.Code, a.Households)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]access.DeviceID{"id": id})
}

// owned checks that the request's user owns the camera in the path.
func (a *API) owned(r *http.Request) (string, access.DeviceID, error) {
	p, err := a.user(r, auth.ScopeManage)
	if err != nil {
		return "", "", err
	}
	device, err := access.ParseDeviceID(r.PathValue("id"))
	if err != nil {
		return "", "", errNotFound
	}
	cams, err := a.Households.Cameras(r.Context(), p.ID, false, time.Now())
	if err != nil {
		return "", "", err
	}
	for _, c := range cams {
		if c.ID == device && c.Role == "owner" {
			return p.Name, device, nil
		}
	}
	return "", "", errNotFound
}

func (a *API) shares(w http.ResponseWriter, r *http.Request) error {
	_, device, err := a.owned(r)
	if err != nil {
		return err
	}
	shares, err := a.Households.Shares(r.Context(), device)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, shares)
}

func (a *API) share(w http.ResponseWriter, r *http.Request) error {
	owner, device, err := a.owned(r)
	if err != nil {
		return err
	}
	var body struct {
		Until time.Time `json:"until"`
	}
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &body); err != nil {
			return err
		}
	}
	if err := a.Auth.Share(r.Context(), owner, device, r.PathValue("user"), body.Until, a.Households); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) unshare(w http.ResponseWriter, r *http.Request) error {
	owner, device, err := a.owned(r)
	if err != nil {
		return err
	}
	if err := a.Auth.Unshare(r.Context(), owner, device, r.PathValue("user"), a.Households); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
