package httpapi

import (
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
		cams[i].Online, cams[i].Sub, cams[i].LastSeen = st.Online, st.Sub, st.LastFrame.UTC()
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
