package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"

	"github.com/ory/fosite"

	"vigil/internal/access"
)

// loginCSRFCookie carries the sign-in form's CSRF token before there is a
// session (double submit: the form must echo it). SameSite=Strict keeps
// other sites from sending it, so they cannot post the form either.
const loginCSRFCookie = "vigil_oauth_csrf"

// maxFormBytes bounds the sign-in and consent forms.
const maxFormBytes = 64 << 10

// authz is one authorization request being answered.
type authz struct {
	client *Client
	ar     fosite.AuthorizeRequester
	// action is where the pages' forms post: this endpoint, same query.
	action   string
	redirect string
	// origin is the redirect URI's scheme://host, for CSP's form-action.
	origin string
}

// Authorize serves GET and POST /oauth/authorize (RFC 6749 §4.1.1). The
// GET shows the sign-in form, or the consent page to a signed-in person;
// the POSTs are those forms. Allowing redirects to the client's URI with
// a code and the unchanged state; denying, with error=access_denied. An
// unknown client or unregistered redirect URI gets an error page and
// never a redirect (§4.1.2.1).
func (s *Server) Authorize(w http.ResponseWriter, r *http.Request) {
	a, ok := s.registered(r)
	if !ok {
		s.pages.render(w, http.StatusBadRequest, "error", pageData{Title: "Cannot link",
			Message: "The service that sent you here is unknown, or asked to return to an address not registered for it."}, "")
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	if m := q.Get("response_mode"); m != "" && m != "query" {
		// fosite would answer form_post with an inline script; every
		// answer here is a plain query redirect.
		redirectError(w, r, a, "unsupported_response_mode")
		return
	}
	// The OAuth parameters come from the query alone, the same for the GET
	// and the forms posted back to it: a form field cannot change them.
	ar, err := s.provider.NewAuthorizeRequest(ctx, queryOnly(r))
	if err == nil && q.Get("code_challenge") != "" && q.Get("code_challenge_method") != "S256" {
		// fosite checks this only when issuing the code; say it before
		// anyone signs in (RFC 7636 §4.4.1: S256 only, plain refused).
		err = fosite.ErrInvalidRequest.WithHint("code_challenge_method must be S256.")
	}
	if err != nil {
		s.log.Debug("oauth: authorize request refused", "client", a.client.ID, "error", reason(err))
		s.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	a.ar = ar
	if r.Method != http.MethodPost {
		acct, err := s.signIn.SignedIn(r)
		if err != nil {
			s.loginPage(w, r, a, http.StatusOK, "", "")
			return
		}
		s.consentPage(w, r, a, acct, http.StatusOK, "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.pages.render(w, http.StatusBadRequest, "error", pageData{Title: "Cannot link", Message: "The form could not be read."}, "")
		return
	}
	switch r.PostForm.Get("step") {
	case "login":
		s.login(w, r, a)
	case "consent":
		s.consent(w, r, a)
	default:
		s.pages.render(w, http.StatusBadRequest, "error", pageData{Title: "Cannot link", Message: "The form is not one of ours."}, "")
	}
}

// registered checks client_id and redirect_uri before anything else: the
// client must be configured and the URI one of its own, exactly.
func (s *Server) registered(r *http.Request) (authz, bool) {
	q := r.URL.Query()
	if len(q["client_id"]) != 1 || len(q["redirect_uri"]) != 1 {
		return authz{}, false
	}
	c, ok := s.clients[q.Get("client_id")]
	if !ok || !c.allowsRedirect(q.Get("redirect_uri")) {
		return authz{}, false
	}
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		return authz{}, false
	}
	return authz{client: c, action: "/oauth/authorize?" + q.Encode(), redirect: q.Get("redirect_uri"), origin: u.Scheme + "://" + u.Host}, true
}

// redirectError sends an error back to the client's (registered) redirect
// URI with the request's state (RFC 6749 §4.1.2.1).
func redirectError(w http.ResponseWriter, r *http.Request, a authz, code string) {
	u, _ := url.Parse(a.redirect) // parsed once already, in registered
	q := u.Query()
	q.Set("error", code)
	if st := r.URL.Query().Get("state"); st != "" {
		q.Set("state", st)
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// queryOnly is r as fosite should see it: a GET with the query only.
func queryOnly(r *http.Request) *http.Request {
	g := r.Clone(r.Context())
	g.Method, g.Body, g.ContentLength = http.MethodGet, http.NoBody, 0
	g.Form, g.PostForm, g.MultipartForm = nil, nil, nil
	return g
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, a authz, status int, user, msg string) {
	token := ""
	if c, err := r.Cookie(loginCSRFCookie); err == nil && len(c.Value) == 32 {
		token = c.Value
	} else if token, err = randomID("", 16); err != nil {
		s.fail(w, "login csrf", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: token, Path: "/oauth/", MaxAge: 3600,
		HttpOnly: true, Secure: r.TLS != nil || s.secureCookies, SameSite: http.SameSiteStrictMode})
	s.pages.render(w, status, "login", pageData{Title: "Sign in", Client: a.client.Name, User: user, Message: msg,
		CSRF: token, Action: a.action}, a.origin)
}

func (s *Server) consentPage(w http.ResponseWriter, r *http.Request, a authz, acct Account, status int, msg string) {
	cams, err := s.cameras.Cameras(r.Context(), acct.ID)
	if err != nil {
		s.fail(w, "consent cameras", err)
		return
	}
	s.pages.render(w, status, "consent", pageData{Title: "Link " + a.client.Name, Client: a.client.Name, User: acct.Name,
		Message: msg, CSRF: acct.CSRF, Action: a.action, Cameras: cams}, a.origin)
}

func (s *Server) fail(w http.ResponseWriter, what string, err error) {
	s.log.Error("oauth: "+what, "error", err)
	s.pages.render(w, http.StatusInternalServerError, "error", pageData{Title: "Cannot link",
		Message: "Something went wrong on our side. Please try again later."}, "")
}

func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// login checks the sign-in form and shows the consent page.
func (s *Server) login(w http.ResponseWriter, r *http.Request, a authz) {
	name := r.PostForm.Get("name")
	c, err := r.Cookie(loginCSRFCookie)
	if err != nil || !sameToken(r.PostForm.Get("csrf"), c.Value) {
		s.loginPage(w, r, a, http.StatusForbidden, name, "This page expired. Please sign in again.")
		return
	}
	acct, err := s.signIn.SignIn(w, r, name, r.PostForm.Get("password"))
	var refused *RefusedError
	switch {
	case errors.As(err, &refused):
		s.log.Debug("oauth: sign-in refused", "client", a.client.ID, "error", err)
		s.loginPage(w, r, a, refused.Code, name, refused.Msg)
	case err != nil:
		s.fail(w, "sign-in", err)
	default:
		s.consentPage(w, r, a, acct, http.StatusOK, "")
	}
}

// consent answers the consent form: deny, or create the link with the
// chosen cameras and redirect with a code.
func (s *Server) consent(w http.ResponseWriter, r *http.Request, a authz) {
	ctx := r.Context()
	acct, err := s.signIn.SignedIn(r)
	if err != nil {
		s.loginPage(w, r, a, http.StatusUnauthorized, "", "Your session ended. Please sign in again.")
		return
	}
	if !sameToken(r.PostForm.Get("csrf"), acct.CSRF) {
		s.consentPage(w, r, a, acct, http.StatusForbidden, "This page expired. Please choose again.")
		return
	}
	switch r.PostForm.Get("decision") {
	case "deny":
		s.provider.WriteAuthorizeError(ctx, w, a.ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
		return
	case "allow":
	default:
		s.consentPage(w, r, a, acct, http.StatusBadRequest, "Choose Allow or Deny.")
		return
	}
	devices, err := s.chosen(ctx, acct.ID, r.PostForm["camera"])
	if errors.Is(err, ErrUnknownDevice) {
		s.consentPage(w, r, a, acct, http.StatusBadRequest, "Choose among your cameras.")
		return
	}
	if err != nil {
		s.fail(w, "consent", err)
		return
	}
	if err := s.issue(ctx, w, a, acct, devices); err != nil {
		s.log.Error("oauth: issuing a code failed", "client", a.client.ID, "user", acct.ID, "error", reason(err))
		s.provider.WriteAuthorizeError(ctx, w, a.ar, err)
	}
}

// chosen validates the ticked cameras: each one the user can see now.
func (s *Server) chosen(ctx context.Context, user access.UserID, ticked []string) ([]access.DeviceID, error) {
	var devices []access.DeviceID
	for _, t := range ticked {
		d, err := access.ParseDeviceID(t)
		if err != nil {
			return nil, ErrUnknownDevice
		}
		devices = append(devices, d)
	}
	return s.visible(ctx, user, devices)
}

// issue creates the link and its authorization code in one transaction,
// then redirects: the link never exists without its code, nor the code
// without its link. The request's id is the link's, so every token
// derived from the code names its link.
func (s *Server) issue(ctx context.Context, w http.ResponseWriter, a authz, acct Account, devices []access.DeviceID) error {
	id, err1 := randomID("lnk_", 16)
	agent, err2 := randomID("agu_", 16)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	l := Link{ID: id, User: acct.ID, Client: a.client.ID, Devices: devices, AgentUserID: agent, Created: s.now()}
	tctx, err := s.fs.BeginTX(ctx)
	if err != nil {
		return err
	}
	defer s.fs.Rollback(tctx) // after Commit, a no-op
	if err := s.st.CreateLink(tctx, l); err != nil {
		return err
	}
	a.ar.SetID(l.ID)
	for _, scope := range a.ar.GetRequestedScopes() {
		a.ar.GrantScope(scope)
	}
	resp, err := s.provider.NewAuthorizeResponse(tctx, a.ar, &session{User: acct.ID, Link: l.ID})
	if err != nil {
		return err
	}
	if err := s.fs.Commit(tctx); err != nil {
		return err
	}
	s.log.Info("audit", "event", "link", "client", a.client.ID, "user", acct.ID, "link", l.ID, "cameras", len(devices))
	s.provider.WriteAuthorizeResponse(ctx, w, a.ar, resp)
	return nil
}
