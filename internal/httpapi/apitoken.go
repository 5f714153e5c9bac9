package httpapi

import (
	"errors"
	"net/http"
	"time"

	"vigil/internal/auth"
	"vigil/internal/store"
)

// API tokens last 90 days unless asked otherwise, a year at most.
const (
	apiTokenTTL    = 90 * 24 * time.Hour
	apiTokenMaxTTL = 365 * 24 * time.Hour
)

type apiTokenView struct {
	ID      string     `json:"id"`
	Name    string     `json:"name"`
	Scope   auth.Scope `json:"scope"`
	Token   string     `json:"token,omitempty"` // only when created
	Created time.Time  `json:"created"`
	Expires time.Time  `json:"expires"`
}

// createAPIToken makes a token for the signed-in user and shows it once.
// It works as the password for HTTP Basic and RTSP Digest (user name + token).
func (a *API) createAPIToken(w http.ResponseWriter, r *http.Request) error {
	p := callerOf(r)
	body := struct {
		Name    string `json:"name"`
		Scope   string `json:"scope"`
		TTLDays int    `json:"ttl_days"`
	}{}
	if r.ContentLength != 0 {
		if err := readJSON(w, r, &body); err != nil {
			return err
		}
	}
	scope, err := auth.ParseScope(body.Scope)
	if err != nil || len(body.Name) > 64 || body.TTLDays < 0 {
		return httpError(http.StatusBadRequest, "name at most 64 characters; scope view (default) or manage; ttl_days positive", err)
	}
	ttl := apiTokenTTL
	if body.TTLDays > 0 {
		ttl = min(time.Duration(body.TTLDays)*24*time.Hour, apiTokenMaxTTL)
	}
	secret, err1 := auth.NewPassword()
	id, err2 := randomHex(8)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	now := time.Now()
	t := store.APIToken{ID: id, User: p.ID, Name: body.Name, Credential: auth.HashCredential(p.Name, secret),
		Scope: scope, Created: now, Expires: now.Add(ttl)}
	if err := a.Authn.Sessions.CreateAPIToken(r.Context(), t); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, apiTokenView{ID: id, Name: t.Name, Scope: scope, Token: secret, Created: now, Expires: t.Expires})
}

func (a *API) listAPITokens(w http.ResponseWriter, r *http.Request) error {
	p := callerOf(r)
	toks, err := a.Authn.Sessions.APITokens(r.Context(), p.ID, time.Now())
	if err != nil {
		return err
	}
	out := make([]apiTokenView, 0, len(toks))
	for _, t := range toks {
		out = append(out, apiTokenView{ID: t.ID, Name: t.Name, Scope: t.Scope, Created: t.Created, Expires: t.Expires})
	}
	return writeJSON(w, http.StatusOK, out)
}

// deleteAPIToken revokes a token; the user's live views end with it, since
// any of them may have been opened with it.
func (a *API) deleteAPIToken(w http.ResponseWriter, r *http.Request) error {
	p := callerOf(r)
	if err := a.Authn.Sessions.DeleteAPIToken(r.Context(), p.ID, r.PathValue("token")); err != nil {
		return httpError(http.StatusNotFound, "no such token", err)
	}
	if a.Authn.Revoke != nil {
		a.Authn.Revoke(p.ID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
