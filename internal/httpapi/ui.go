package httpapi

import (
	"io/fs"
	"mime"
	"net/http"
	"path"

	"vigil/internal/auth"
)

// uiPolicy is the page's Content-Security-Policy: its own scripts and
// styles only (no inline script), media and stills from this origin, and
// no framing.
const uiPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"media-src 'self' blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// uiRoutes serves the web page: / and /ui/{file}. The files are public
// (they hold no data); everything they show comes from the API with the
// session.
func uiRoutes(mux *Router, files fs.FS) {
	serveFile := func(w http.ResponseWriter, r *http.Request, name string) {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
		h.Set("Content-Security-Policy", uiPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		w.Write(b)
	}
	mux.Handle("GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveFile(w, r, "index.html")
	}))
	mux.Handle("GET /ui/{file}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveFile(w, r, r.PathValue("file"))
	}))
}

// session tells the page who is signed in with the cookie, and the CSRF
// token its state-changing requests must carry (a page reload loses it).
func (a *API) session(w http.ResponseWriter, r *http.Request) error {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || a.Authn.Credentials.Sessions == nil {
		if _, err := a.Authn.user(r, auth.ScopeAccount); err != nil {
			return err
		}
		return httpError(http.StatusBadRequest, "no sign-in session: POST /api/login first", nil)
	}
	c, sess, err := a.Authn.Credentials.SessionCaller(r.Context(), ck.Value)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"user": c.Name, "admin": c.Admin, "csrf": sess.CSRF})
}
