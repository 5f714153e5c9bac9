// Package smarthometest holds the fakes both assistants' tests use: two
// households of cameras, the fake token resolution, directive fixtures
// from testdata, and a loopback recorder standing in for HomeGraph or
// Alexa's event gateway.
package smarthometest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"vigil/internal/access"
	"vigil/internal/smarthome"
)

// Homes is the cameras users may see and which are online.
type Homes struct {
	mu      sync.Mutex
	cameras map[access.UserID][]smarthome.Camera // guarded by mu
	online  map[access.DeviceID]bool             // guarded by mu
}

// TwoHouseholds: olga sees porch, yard and shed, bob his garage; the yard
// is offline.
func TwoHouseholds() *Homes {
	return &Homes{
		cameras: map[access.UserID][]smarthome.Camera{
			"u-olga": {{ID: "cam-porch", Name: "Porch"}, {ID: "cam-yard", Name: "Yard"}, {ID: "cam-shed", Name: "Shed"}},
			"u-bob":  {{ID: "cam-garage", Name: "Garage"}},
		},
		online: map[access.DeviceID]bool{"cam-porch": true, "cam-garage": true, "cam-shed": true},
	}
}

func (h *Homes) Cameras(_ context.Context, u access.UserID) ([]smarthome.Camera, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]smarthome.Camera(nil), h.cameras[u]...), nil
}

func (h *Homes) Online(d access.DeviceID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.online[d]
}

// SetOnline turns a camera on- or offline.
func (h *Homes) SetOnline(d access.DeviceID, on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.online[d] = on
}

// SetCameras replaces what u may see (a share made or ended).
func (h *Homes) SetCameras(u access.UserID, cams ...smarthome.Camera) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cameras[u] = cams
}

// Resolve is the fake links' token rule: "tok-<link id>" names a link,
// "expired" has expired, anything else is invalid.
func Resolve[L any](links map[string]L, token string, expired, invalid error) (L, error) {
	var zero L
	if token == "expired" {
		return zero, expired
	}
	l, ok := links[strings.TrimPrefix(token, "tok-")]
	if !ok || !strings.HasPrefix(token, "tok-") {
		return zero, invalid
	}
	return l, nil
}

// Fixture reads testdata/name with its {{placeholders}} filled from vars.
func Fixture(t testing.TB, name string, vars map[string]string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	return s
}

// Recorder is an assistant's cloud on loopback: it records every call and
// answers from a script of statuses, then 200 (or OK when set).
type Recorder struct {
	// OK is the success status (Alexa's gateway answers 202); 0 is 200.
	OK int
	// Refusal, when set, is the body written with a scripted status.
	Refusal func(status int) string

	mu     sync.Mutex
	script []int  // guarded by mu
	calls  []Call // guarded by mu
}

// Call is one request the Recorder received.
type Call struct {
	Path, Token string // Token: the bearer
	Body        map[string]any
	Status      int
}

// Fail answers the next calls with these statuses.
func (rc *Recorder) Fail(statuses ...int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.script = append(rc.script, statuses...)
}

func (rc *Recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c := Call{Path: r.URL.Path, Token: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), Status: rc.OK}
	json.Unmarshal(b, &c.Body)
	if c.Status == 0 {
		c.Status = http.StatusOK
	}
	rc.mu.Lock()
	refused := len(rc.script) > 0
	if refused {
		c.Status, rc.script = rc.script[0], rc.script[1:]
	}
	rc.calls = append(rc.calls, c)
	rc.mu.Unlock()
	w.WriteHeader(c.Status)
	if refused && rc.Refusal != nil {
		io.WriteString(w, rc.Refusal(c.Status))
	}
}

// Calls returns every call so far, refused ones included.
func (rc *Recorder) Calls() []Call {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Call(nil), rc.calls...)
}

// Take returns the calls answered with success since the last Take and
// forgets every call so far.
func (rc *Recorder) Take() []Call {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []Call
	for _, c := range rc.calls {
		if c.Status/100 == 2 {
			out = append(out, c)
		}
	}
	rc.calls = nil
	return out
}

// Delivered returns the calls answered with success, keeping them.
func (rc *Recorder) Delivered() []Call {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []Call
	for _, c := range rc.calls {
		if c.Status/100 == 2 {
			out = append(out, c)
		}
	}
	return out
}
