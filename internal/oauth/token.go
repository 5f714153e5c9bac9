package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ory/fosite"

	"vigil/internal/auth"
)

// Token serves POST /oauth/token (RFC 6749 §4.1.3 and §6): a code or a
// refresh token for {token_type, access_token, refresh_token, expires_in}.
// The client authenticates with its secret in the body or with HTTP Basic.
// A bad, expired, replayed or revoked code or refresh token, or one of a
// link or user that has ended, is 400 invalid_grant; a replayed code or a
// reused retired refresh token also ends the link (RFC 6749 §4.1.2, RFC
// 6819 §5.2.2.3).
func (s *Server) Token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	addr := auth.AddressKey(r.RemoteAddr)
	if s.throttled(w, addr) {
		return
	}
	ar, err := s.provider.NewAccessRequest(ctx, r, &session{})
	switch {
	case errors.Is(err, fosite.ErrInvalidClient):
		s.addrFails.Fail(addr)
	case errors.Is(err, fosite.ErrInvalidGrant):
		s.burnCode(ctx, ar)
	case err == nil:
		err = s.grantLive(r, ar)
	}
	if err != nil {
		s.log.Debug("oauth: token request refused", "error", reason(err))
		s.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) ||
		ar.GetGrantTypes().ExactOne("authorization_code") && errors.Is(err, fosite.ErrNotFound) {
		// Two exchanges of one code raced and the other won: a replay all
		// the same (RFC 6749 §4.1.2), so what the winner got goes too. The
		// code's session may also be gone already, removed by a third
		// racer's revocation (not found): the same replay, not a 500.
		if rerr := s.revoke(ctx, ar.GetID()); rerr != nil {
			s.log.Error("oauth: revoking a raced code's tokens failed", "link", ar.GetID(), "error", rerr)
		}
		err = fosite.ErrInvalidGrant.WithHint("The authorization code has already been used.")
	}
	if err != nil {
		s.log.Warn("oauth: token response failed", "client", ar.GetClient().GetID(), "link", ar.GetID(), "error", reason(err))
		s.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	// RFC 6750 spells the type "Bearer"; fosite writes "bearer".
	resp.SetTokenType("Bearer")
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
}

// burnCode ends the pending link of a code whose exchange failed after
// fosite accepted the code itself: the PKCE verifier was wrong or missing
// (RFC 7636 §4.6). Whoever sent it may have intercepted the code, so the
// code must not be tried again with other verifiers; the person links
// again. fosite gives the request its link's id only once the code is
// accepted — until then the id is a fresh one that names no link — so a
// bad or spent code burns nothing here.
func (s *Server) burnCode(ctx context.Context, ar fosite.AccessRequester) {
	if ar == nil || !ar.GetGrantTypes().ExactOne("authorization_code") {
		return
	}
	err := s.revoke(ctx, ar.GetID())
	switch {
	case err == nil:
		s.log.Warn("oauth: code exchanged with a wrong PKCE verifier; the code is burnt", "link", ar.GetID(),
			"client", ar.GetClient().GetID())
	case !errors.Is(err, fosite.ErrNotFound):
		s.log.Error("oauth: burning a code failed", "link", ar.GetID(), "error", err)
	}
}

// grantLive refuses tokens for a link that was revoked meanwhile or whose
// user was disabled: fosite only knows its own records.
func (s *Server) grantLive(r *http.Request, ar fosite.AccessRequester) error {
	if _, err := s.activeLink(r.Context(), ar.GetID(), false); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fosite.ErrInvalidGrant.WithHint("The account link has ended.").WithWrap(err)
		}
		return fosite.ErrServerError.WithWrap(err)
	}
	return nil
}

// Revoke serves POST /oauth/revoke (RFC 7009): revoking an access or
// refresh token ends its whole link. An unknown token is 200, as §2.2
// asks; a token of another client is refused with 400 unauthorized_client
// (§2.1), where fosite would answer 200 and do nothing.
func (s *Server) Revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	addr := auth.AddressKey(r.RemoteAddr)
	if s.throttled(w, addr) {
		return
	}
	err := s.provider.NewRevocationRequest(ctx, r)
	if errors.Is(err, fosite.ErrInvalidClient) {
		s.addrFails.Fail(addr)
	}
	if errors.Is(err, fosite.ErrUnauthorizedClient) {
		s.provider.WriteAccessError(ctx, w, nil, err)
		return
	}
	if err != nil {
		s.log.Debug("oauth: revocation refused", "error", reason(err))
	}
	s.provider.WriteRevocationResponse(ctx, w, err)
}

// throttled answers 429 when the request's address has failed client
// secrets too often. Only the address is throttled: a client secret is a
// long machine secret no one guesses, and throttling the client id would
// let anyone lock a service (Google) out. RFC 6749 has no error for it;
// the answer must not be invalid_client, which Google takes for a broken
// link, so it is temporarily_unavailable, with Retry-After saying when.
func (s *Server) throttled(w http.ResponseWriter, addr string) bool {
	wait := s.addrFails.Wait(addr)
	if wait <= 0 {
		return false
	}
	secs := strconv.Itoa(int((wait + time.Second - 1) / time.Second))
	w.Header().Set("Retry-After", secs)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprintf(w, `{"error":"temporarily_unavailable","error_description":"too many failed client authentications from this address; retry in %s s"}`, secs)
	return true
}
