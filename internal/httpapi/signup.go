package httpapi

import (
	"net/http"
)

// invite makes a single-use sign-up code (admins only).
func (a *API) invite(w http.ResponseWriter, r *http.Request) error {
	code, expires, err := a.Accounts.Invite(r.Context(), callerOf(r))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"invitation": code, "expires": expires.UTC()})
}

// signup creates an account with a chosen password (auth.Accounts.SignUp).
func (a *API) signup(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name       string `json:"name"`
		Password   string `json:"password"`
		Invitation string `json:"invitation"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	if err := a.Accounts.SignUp(r.Context(), body.Name, body.Password, body.Invitation, r.RemoteAddr); err != nil {
		return signInError(err)
	}
	return writeJSON(w, http.StatusCreated, map[string]string{"user": body.Name})
}
