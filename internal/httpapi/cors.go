package httpapi

import (
	"net/http"
	"slices"
)

// cors lets the configured origins' pages (a Cast receiver, a dashboard)
// fetch media: playlists, segments, MP4 and stills, with Range. Requests
// from other origins get no CORS headers, so browsers keep their bytes from
// the page. Media requests carry their own credentials (a stream token in
// the URL for Cast), so no cookies are allowed across origins.
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
			h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, X-Still-Captured, X-Still-Source, X-Still-Fallback")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Range, Authorization")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
