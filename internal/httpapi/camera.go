package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"vigil/internal/config"
	"vigil/internal/household"
)

// CameraStatus is what the hub says of a camera, for listings: no media.
type CameraStatus struct {
	Online bool // the main stream is live
	Sub    bool // the sub stream is live
	// LastFrame is when the camera last sent video since this process
	// started; zero if it has not.
	LastFrame time.Time
}

// withStatus fills in what the hub says of each camera.
func (a *API) withStatus(cams []household.Camera) {
	for i := range cams {
		st := a.Status(cams[i].ID)
		cams[i].Online, cams[i].Sub = st.Online, st.Sub
		if !st.LastFrame.Before(cams[i].Since) { // another epoch's is not the caller's to know
			cams[i].LastSeen = st.LastFrame.UTC()
		}
	}
}

// maxCameraName bounds a camera's name in characters.
const maxCameraName = 64

// cameraName is name trimmed, or an error saying what a name may be.
func cameraName(name string) (string, error) {
	name = strings.TrimSpace(name)
	bad := name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxCameraName ||
		strings.ContainsFunc(name, unicode.IsControl)
	if bad {
		return "", httpError(http.StatusBadRequest, "name must be 1 to 64 characters, without control characters", nil)
	}
	return name, nil
}

// rename changes a camera's name; owners only (auth.RightsOf, via owned).
func (a *API) rename(w http.ResponseWriter, r *http.Request) error {
	device, err := a.owned(r)
	if err != nil {
		return err
	}
	var body struct {
		Name string `json:"name"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	name, err := cameraName(body.Name)
	if err != nil {
		return err
	}
	if err := a.Households.Rename(r.Context(), device, name); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"id": device, "name": name})
}

// addCamera provisions a camera owned by the caller. Without a source it
// pushes: the answer holds its push URL, user and password, shown once.
// A source (an rtsp:// URL Vigil pulls from) is for admins only: the
// server would connect wherever a user pointed it.
func (a *API) addCamera(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name   string `json:"name"`
		Source string `json:"source"`
	}
	if err := readJSON(w, r, &body); err != nil {
		return err
	}
	name, err := cameraName(body.Name)
	if err != nil {
		return err
	}
	c := callerOf(r)
	if body.Source != "" && !c.Admin {
		return httpError(http.StatusForbidden, "only admins add cameras that Vigil pulls (source); leave source out for a camera that pushes", nil)
	}
	if err := checkSource(body.Source); err != nil {
		return err
	}
	added, err := a.Households.AddCamera(r.Context(), c.ID, name, config.Secret(body.Source))
	if errors.Is(err, household.ErrTooManyCameras) {
		return httpError(http.StatusConflict, err.Error(), err)
	}
	if err != nil {
		return err
	}
	out := map[string]any{"id": added.ID, "name": added.Name}
	if body.Source == "" {
		out["user"], out["password"] = string(added.ID), added.Password
		if a.RTSPBase != nil {
			out["push_url"] = a.RTSPBase(r) + "/" + string(added.ID)
		}
	}
	return writeJSON(w, http.StatusCreated, out)
}

// checkSource accepts "" or an rtsp(s) URL with a host.
func checkSource(source string) error {
	if source == "" {
		return nil
	}
	u, err := url.Parse(source)
	if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "" {
		return httpError(http.StatusBadRequest, "source must be an rtsp:// or rtsps:// URL, e.g. rtsp://user:pass@192.0.2.10:554/stream1", nil)
	}
	return nil
}
