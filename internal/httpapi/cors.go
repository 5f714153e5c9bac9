package httpapi

import (
	"net/http"
	"slices"
	"strings"
)

// cors lets the configured origins' pages (a Cast receiver, a dashboard)
// fetch media: playlists, segments, MP4 and stills, with Range, and play
// over WebRTC (WHEP: POST an SDP offer, DELETE the session). Requests
// from other origins get no CORS headers, so browsers keep their bytes from
// the page. Media requests carry their own credentials (a stream token in
// the URL for Cast, or an Authorization header), so no cookies are allowed
// across origins: Access-Control-Allow-Credentials is never sent, and a
// cookie-authenticated POST also needs the session's CSRF header.
//
// A request whose URL carries a stream token is open to every origin: the
// token is its only credential (no cookie is ever honoured across origins),
// and Google's Cast receivers, whose origins are Google's to choose, must
// read playlists and segments with it.
func cors(origins []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		tokened := r.URL.Query().Get("token") != ""
		if origin != "" && (tokened || slices.Contains(origins, origin)) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, Location, X-Still-Captured, X-Still-Source, X-Still-Fallback")
			if r.Method == http.MethodOptions {
				methods, headers := "GET, HEAD, OPTIONS", "Range, Authorization"
				if isWHEP(r.URL.Path) {
					// WHEP (draft-ietf-wish-whep): the offer is a POST of
					// application/sdp, hanging up a DELETE; a GET of the
					// session tells its mode.
					methods, headers = "GET, POST, DELETE, OPTIONS", "Authorization, Content-Type"
				}
				h.Set("Access-Control-Allow-Methods", methods)
				h.Set("Access-Control-Allow-Headers", headers)
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// isWHEP reports whether path is a camera's WHEP endpoint or session:
// /api/cameras/{id}/whep or /api/cameras/{id}/whep/{session}.
func isWHEP(path string) bool {
	rest, ok := strings.CutPrefix(path, "/api/cameras/")
	if !ok {
		return false
	}
	f := strings.Split(rest, "/")
	return len(f) >= 2 && len(f) <= 3 && f[0] != "" && f[1] == "whep"
}
