package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"vigil/internal/access"
	"vigil/internal/config"
	"vigil/internal/oauth"
)

// Links is the registry of account links (oauth.Server).
type Links interface {
	Links(ctx context.Context, user access.UserID) ([]oauth.Link, error)
	Unlink(ctx context.Context, user access.UserID, id string) error
	Client(id string) (oauth.Client, bool)
}

var _ Links = (*oauth.Server)(nil)

// LinkView is a linked service as its user sees it in the API.
type LinkView struct {
	ID     string           `json:"id"`
	Client string           `json:"client"` // the service's client_id
	Name   string           `json:"name"`   // the service's name
	Kind   config.OAuthKind `json:"kind"`   // google, alexa or other
	// Cameras are what the service can show: those the user chose when
	// linking that the user can still see.
	Cameras []LinkCamera `json:"cameras"`
	Created time.Time    `json:"created"`
	// Relink: the service refused this link's credentials for good and
	// tells it nothing more until the person links it again.
	Relink bool `json:"relink,omitempty"`
}

// LinkCamera is a camera a link exposes.
type LinkCamera struct {
	ID   access.DeviceID `json:"id"`
	Name string          `json:"name"`
}

// links lists the caller's linked services.
func (a *API) links(w http.ResponseWriter, r *http.Request) error {
	p := callerOf(r)
	links, err := a.Links.Links(r.Context(), p.ID)
	if err != nil {
		return err
	}
	cams, err := a.Households.Household(r.Context(), p.ID)
	if err != nil {
		return err
	}
	names := map[access.DeviceID]string{}
	for _, c := range cams {
		names[c.ID] = c.Name
	}
	out := make([]LinkView, 0, len(links))
	for _, l := range links {
		v := LinkView{ID: l.ID, Client: l.Client, Name: l.Client, Kind: config.OAuthOther, Cameras: []LinkCamera{}, Created: l.Created}
		if c, ok := a.Links.Client(l.Client); ok {
			v.Name, v.Kind = c.Name, c.Kind
		}
		v.Relink = a.NeedsRelink != nil && a.NeedsRelink(r.Context(), l.ID)
		for _, d := range l.Devices {
			if name, ok := names[d]; ok {
				v.Cameras = append(v.Cameras, LinkCamera{ID: d, Name: name})
			}
		}
		out = append(out, v)
	}
	return writeJSON(w, http.StatusOK, out)
}

// unlink ends one of the caller's links, as the service's DISCONNECT
// would: its tokens stop working and its live views end. Someone else's
// link is "no such link".
func (a *API) unlink(w http.ResponseWriter, r *http.Request) error {
	p := callerOf(r)
	err := a.Links.Unlink(r.Context(), p.ID, r.PathValue("id"))
	if errors.Is(err, oauth.ErrNotFound) {
		return httpError(http.StatusNotFound, "no such link", err)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
