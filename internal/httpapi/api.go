package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/household"
	"vigil/internal/record"
)

// Households lists cameras and shares; changes go through auth, which
// revokes what they end.
type Households interface {
	auth.Households
	// Cameras lists what auth.RightsOf lets c see; Household the cameras
	// of user's household (owned and shared with them).
	Cameras(ctx context.Context, c auth.Caller, now time.Time) ([]household.Camera, error)
	Household(ctx context.Context, user access.UserID) ([]household.Camera, error)
	Shares(ctx context.Context, device access.DeviceID) ([]household.ShareView, error)
	History(ctx context.Context, device access.DeviceID, limit int) ([]household.AccessView, error)
	Rename(ctx context.Context, device access.DeviceID, name string) error
	AddCamera(ctx context.Context, owner access.UserID, name string, source config.Secret) (household.AddedCamera, error)
}

// API is the JSON API for cameras, claiming and sharing.
type API struct {
	Auth       *auth.Service
	Authn      *Authenticator
	Households Households
	// Status says whether a camera is live and when it last sent video.
	Status func(access.DeviceID) CameraStatus
	// RTSPBase returns "rtsp://host:port" as the request's client reaches
	// the RTSP server; nil leaves RTSP URLs out.
	RTSPBase func(r *http.Request) string
	// Accounts changes passwords, API tokens and invitations, and signs
	// people up.
	Accounts *auth.Accounts
	// Links lists and ends linked services; nil leaves /api/links out.
	Links Links
	// NeedsRelink, when set, says which links wait to be relinked (an
	// assistant refused their credentials for good).
	NeedsRelink func(ctx context.Context, link string) bool
	// Retention keeps cameras' retention rules; nil (recording off)
	// leaves /api/cameras/{id}/retention, the usage routes out.
	Retention *record.Rules
	// Usage and Quota say what footage takes and may take (required with
	// Retention).
	Usage Usage
	Quota Quota
	// ExportKeep is how long a release that asks to keep its footage
	// (?keep=true) keeps it by default (record_grace); 0 (recording off)
	// refuses to keep any.
	ExportKeep time.Duration
	// Events marks cameras' events; nil (recording off) leaves POST
	// /api/cameras/{id}/events out.
	Events *record.Events
	// Continuous keeps which camera streams are recorded all the time;
	// nil (recording off) leaves /api/cameras/{id}/continuous out.
	Continuous ContinuousFlags
	Logger     *slog.Logger
}

func (a *API) routes(mux *Router) {
	view, manage, account := a.as(auth.ScopeView), a.as(auth.ScopeManage), a.as(auth.ScopeAccount)
	mux.Handle("GET /api/cameras", view(a.cameras))
	mux.Handle("POST /api/cameras/claim", manage(a.claim))
	mux.Handle("POST /api/cameras", manage(a.addCamera))
	mux.Handle("GET /api/cameras/{id}/shares", manage(a.shares))
	mux.Handle("PUT /api/cameras/{id}/shares/{user}", manage(a.share))
	mux.Handle("DELETE /api/cameras/{id}/shares/{user}", manage(a.unshare))
	mux.Handle("POST /api/cameras/{id}/tokens", view(a.token))
	mux.Handle("GET /api/cameras/{id}/access", manage(a.history))
	mux.Handle("DELETE /api/cameras/{id}", manage(a.release))
	mux.Handle("PATCH /api/cameras/{id}", manage(a.rename))
	if a.Retention != nil {
		mux.Handle("GET /api/cameras/{id}/retention", manage(a.retention))
		mux.Handle("PUT /api/cameras/{id}/retention", manage(a.setRetention))
		mux.Handle("GET /api/cameras/{id}/usage", manage(a.usage))
		mux.Handle("GET /api/usage", view(a.householdUsage))
	}
	if a.Events != nil {
		mux.Handle("POST /api/cameras/{id}/events", serve(a.Logger, a.markEvent)) // its own edge: a camera or its owner
	}
	if a.Continuous != nil {
		mux.Handle("GET /api/cameras/{id}/continuous", manage(a.continuous))
		mux.Handle("PUT /api/cameras/{id}/continuous", manage(a.setContinuous))
	}
	mux.Handle("GET /api/openapi.json", view(a.openAPI))
	mux.Handle("POST /api/login", serve(a.Logger, a.login))
	mux.Handle("POST /api/logout", view(a.logout))
	mux.Handle("GET /api/session", serve(a.Logger, a.session)) // its own edge: it reads the session itself
	mux.Handle("POST /api/password", account(a.password))
	mux.Handle("POST /api/tokens", account(a.createAPIToken))
	mux.Handle("GET /api/tokens", account(a.listAPITokens))
	mux.Handle("DELETE /api/tokens/{token}", account(a.deleteAPIToken))
	mux.Handle("POST /api/invitations", account(a.invite))
	mux.Handle("POST /api/signup", serve(a.Logger, a.signup))
	if a.Links != nil {
		mux.Handle("GET /api/links", manage(a.links))
		mux.Handle("DELETE /api/links/{id}", manage(a.unlink))
	}
}

// as returns the route wrapper for handlers whose caller must be signed
// in with a credential that allows need.
func (a *API) as(need auth.Scope) func(handlerFunc) http.Handler {
	return func(h handlerFunc) http.Handler { return serve(a.Logger, a.Authn.signedIn(need, h)) }
}

// release gives the camera up: owner and shares dropped, viewing ends, and
// a new claim code comes back for whoever gets the camera next. With
// ?keep_days=N (1 to 30), or ?keep=true for ExportKeep, the owner keeps
// the footage of their ownership for that long (GET /api/exports);
// otherwise it is destroyed at once.
func (a *API) release(w http.ResponseWriter, r *http.Request) error {
	device, err := a.owned(r)
	if err != nil {
		return err
	}
	keep, err := a.keep(r)
	if err != nil {
		return err
	}
	code, err := a.Auth.Release(r.Context(), callerOf(r), device, keep, a.Households)
	if err != nil {
		return err
	}
	out := map[string]any{"id": string(device), "claim_code": code}
	if keep > 0 {
		out["kept_until"] = time.Now().Add(keep).UTC()
	}
	return writeJSON(w, http.StatusOK, out)
}

// keep is how long a release asks to keep the owner's footage: 0 without
// ?keep or ?keep_days.
func (a *API) keep(r *http.Request) (time.Duration, error) {
	q := r.URL.Query()
	days, want := q.Get("keep_days"), q.Get("keep") == "true"
	if days == "" && !want {
		return 0, nil
	}
	if a.ExportKeep <= 0 {
		return 0, httpError(http.StatusBadRequest, "recording is off: there is no footage to keep", nil)
	}
	if days == "" {
		return a.ExportKeep, nil
	}
	n, err := strconv.Atoi(days)
	if err != nil || n < 1 || time.Duration(n)*24*time.Hour > auth.MaxKeep {
		return 0, httpError(http.StatusBadRequest, "keep_days must be a whole number of days from 1 to 30", nil)
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

// historyLimit bounds one history answer.
const historyLimit = 500

// history lists who watched the camera, newest first; owners only. With
// ?grouped=true, sessions of one viewer close together are one line
// (household.Grouped), read from ten times as many sessions.
func (a *API) history(w http.ResponseWriter, r *http.Request) error {
	device, err := a.owned(r)
	if err != nil {
		return err
	}
	grouped := r.URL.Query().Get("grouped") == "true"
	limit := historyLimit
	if grouped {
		limit *= 10
	}
	h, err := a.Households.History(r.Context(), device, limit)
	if err != nil {
		return err
	}
	if grouped {
		h = household.Grouped(h, household.HistoryGap)
		h = h[:min(len(h), historyLimit)]
	}
	if h == nil {
		h = []household.AccessView{}
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
	tok, expires, err := a.Auth.StreamToken(r.Context(), callerOf(r), device, stream, body.Audience, ttl)
	if err != nil {
		return err
	}
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
	return decodeJSON(w, r, v, 64<<10)
}

// decodeJSON is readJSON with a body of at most limit bytes.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return httpError(http.StatusUnsupportedMediaType, "the body must be JSON, sent with Content-Type: application/json", err)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if tooBig := new(http.MaxBytesError); errors.As(err, &tooBig) {
			return httpError(http.StatusRequestEntityTooLarge, fmt.Sprintf("the JSON body is larger than %d bytes", limit), err)
		}
		return httpError(http.StatusBadRequest, "malformed JSON body: "+err.Error(), err)
	}
	return nil
}

func (a *API) cameras(w http.ResponseWriter, r *http.Request) error {
	cams, err := a.Households.Cameras(r.Context(), callerOf(r), time.Now())
	if err != nil {
		return err
	}
	a.withStatus(cams)
	if cams == nil {
		cams = []household.Camera{}
	}
	return writeJSON(w, http.StatusOK, cams)
}

func (a *API) claim(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Code string `json:"code"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	id, err := a.Auth.Claim(r.Context(), callerOf(r), body.Code, a.Households)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]access.DeviceID{"id": id})
}

// owned checks that the request's caller may manage the camera in the
// path (auth.RightsOf); any other camera is "no such camera".
func (a *API) owned(r *http.Request) (access.DeviceID, error) {
	device, err := access.ParseDeviceID(r.PathValue("id"))
	if err != nil {
		return "", errNotFound
	}
	rights, err := a.Auth.Rights(r.Context(), callerOf(r), device)
	if errors.Is(err, auth.ErrUnknown) || (err == nil && !rights.Manage) {
		return "", &HTTPError{Code: errNotFound.Code, Msg: errNotFound.Msg, Err: err}
	}
	return device, err
}

func (a *API) shares(w http.ResponseWriter, r *http.Request) error {
	device, err := a.owned(r)
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
	device, err := a.owned(r)
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
	if err := a.Auth.Share(r.Context(), callerOf(r), device, r.PathValue("user"), body.Until, a.Households); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) unshare(w http.ResponseWriter, r *http.Request) error {
	device, err := a.owned(r)
	if err != nil {
		return err
	}
	if err := a.Auth.Unshare(r.Context(), callerOf(r), device, r.PathValue("user"), a.Households); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
