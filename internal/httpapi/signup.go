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
	p := callerOf(r)
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
	// Strangers must not make Vigil spend: the attempt is counted and the
	// invitation checked before the password is hashed.
	addr := auth.AddressKey(r.RemoteAddr)
	if wait := a.Authn.Credentials.Addresses.Try(addr); wait > 0 {
		return &HTTPError{Code: http.StatusTooManyRequests, RetryAfter: wait,
			Msg: "too many failed attempts from this address; retry in " + retryAfter(wait) + " s"}
	}
	var inv string
	if body.Invitation != "" {
		inv = sha256Hex(body.Invitation)
		if err := a.Signups.Invitation(r.Context(), inv, time.Now()); err != nil {
			return invitationError(err)
		}
	}
	phc, err := a.Authn.hash(r, body.Password)
	if err != nil {
		a.Authn.Credentials.Addresses.Refund(addr) // not a guess: the invitation was good or not needed
		return err
	}
	id, err := randomHex(8)
	if err != nil {
		return err
	}
	// No generated RTSP password: players use API tokens.
	u := store.User{ID: access.UserID("u-" + id), Name: body.Name}
	err = a.Signups.SignUp(r.Context(), u, phc, inv, time.Now())
	if err == nil || errors.Is(err, store.ErrExists) {
		a.Authn.Credentials.Addresses.Refund(addr)
	}
	switch {
	case errors.Is(err, store.ErrExists):
		return httpError(http.StatusConflict, "that name is taken", err)
	case err != nil:
		return invitationError(err)
	}
	return writeJSON(w, http.StatusCreated, map[string]string{"user": body.Name})
}

// invitationError answers an invitation that is not (or no longer) live;
// the attempt stays counted against the address.
func invitationError(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return httpError(http.StatusForbidden, "invitation unknown, used or expired", err)
	}
	return err
}

func validUserName(s string) bool {
	return len(s) > 0 && len(s) <= 64 &&
		strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == ""
}
