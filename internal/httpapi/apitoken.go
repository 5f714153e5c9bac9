package httpapi

import (
	"errors"
	"net/http"
	"time"

	"vigil/internal/auth"
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
	ttl := time.Duration(body.TTLDays) * 24 * time.Hour
	if body.TTLDays > int(auth.APITokenMaxTTL/(24*time.Hour)) {
		ttl = auth.APITokenMaxTTL
	}
	t, secret, err := a.Accounts.CreateAPIToken(r.Context(), callerOf(r), body.Name, body.Scope, ttl)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, apiTokenView{ID: t.ID, Name: t.Name, Scope: t.Scope, Token: secret,
		Created: t.Created, Expires: t.Expires})
}

func (a *API) listAPITokens(w http.ResponseWriter, r *http.Request) error {
	toks, err := a.Accounts.APITokens(r.Context(), callerOf(r))
	if err != nil {
		return err
	}
	out := make([]apiTokenView, 0, len(toks))
	for _, t := range toks {
		out = append(out, apiTokenView{ID: t.ID, Name: t.Name, Scope: t.Scope, Created: t.Created, Expires: t.Expires})
	}
	return writeJSON(w, http.StatusOK, out)
}

// deleteAPIToken revokes a token; the user's live views end with it.
func (a *API) deleteAPIToken(w http.ResponseWriter, r *http.Request) error {
	err := a.Accounts.DeleteAPIToken(r.Context(), callerOf(r), r.PathValue("token"))
	if errors.Is(err, auth.ErrUnknown) {
		return httpError(http.StatusNotFound, "no such token", err)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
