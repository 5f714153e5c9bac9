package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/store"
)

// invitationTTL is how long an invitation lasts unless asked otherwise.
const invitationTTL = 7 * 24 * time.Hour

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// invite makes a single-use sign-up code (admins only).
func (a *API) invite(w http.ResponseWriter, r *http.Request) error {
	p, err := a.user(r, auth.ScopeAccount)
	if err != nil {
		return err
	}
	if !p.Admin {
		return httpError(http.StatusForbidden, "only admins invite", nil)
	}
	code, err := auth.NewPassword()
	if err != nil {
		return err
	}
	expires := time.Now().Add(invitationTTL)
	if err := a.Signups.CreateInvitation(r.Context(), sha256Hex(code), p.ID, expires); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"invitation": code, "expires": expires.UTC()})
}

// signup creates an account with a chosen password: open when the operator
// enabled sign-up, otherwise with an invitation, which it spends.
func (a *API) signup(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name       string `json:"name"`
		Password   string `json:"password"`
		Invitation string `json:"invitation"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	if body.Invitation == "" && !a.OpenSignup {
		return httpError(http.StatusForbidden, "sign-up needs an invitation", nil)
	}
	if !validUserName(body.Name) {
		return httpError(http.StatusBadRequest, "name: 1-64 letters, digits, '-', '_' or '.'", nil)
	}
	if wait := a.Authn.Addresses.Wait(clientHost(r)); wait > 0 {
		return httpError(http.StatusTooManyRequests, "too many failed attempts; retry later", nil)
	}
	phc, err := auth.HashPassword(body.Password)
	if err != nil {
		return httpError(http.StatusBadRequest, err.Error(), err)
	}
	id, err := randomHex(8)
	if err != nil {
		return err
	}
	var inv string
	if body.Invitation != "" {
		inv = sha256Hex(body.Invitation)
	}
	// No generated RTSP password: players use API tokens.
	u := store.User{ID: access.UserID("u-" + id), Name: body.Name}
	err = a.Signups.SignUp(r.Context(), u, phc, inv, time.Now())
	switch {
	case errors.Is(err, store.ErrExists):
		return httpError(http.StatusConflict, "that name is taken", err)
	case errors.Is(err, store.ErrNotFound):
		a.Authn.Addresses.Fail(clientHost(r))
		return httpError(http.StatusForbidden, "invitation unknown, used or expired", err)
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]string{"user": body.Name})
}

func validUserName(s string) bool {
	return len(s) > 0 && len(s) <= 64 &&
		strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == ""
}
