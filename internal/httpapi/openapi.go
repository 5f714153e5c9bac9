package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPI describes the HTTP surface; a test checks it against the routes.
//
//go:embed openapi.json
var openAPI []byte

func (a *API) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	return err
}
