package canary

import (
	"context"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"net/http"
)

// Flow is one kind of viewer: it opens one output for the visit's camera
// and hands what it receives to the visit's checks. New outputs (the
// Google Home EXECUTE flow, Alexa) plug in here through Config.Flows.
type Flow struct {
	// Name names the output in the report.
	Name string
	// Weight is how often the flow is chosen relative to the others.
	Weight int
	// Video says the flow needs a camera that publishes video (not one
	// that only uploads stills).
	Video bool
	// Run makes one visit. An error is a failed view (network, offline,
	// restart), never a verdict: verdicts go through the Visit's methods.
	Run func(ctx context.Context, v *Visit) error
}

// Visit is one viewing: a user asks for a camera through one output.
type Visit struct {
	User   User
	Camera *Camera
	// Attack is set when the user may not see the camera: the request must
	// be refused (401, 403 or 404) with no media.
	Attack bool
	// Cancel asks the flow to hang up mid-response (the caller retries at once).
	Cancel bool
	// HTTP reaches Vigil through the HTTP proxy; Base is its http://host:port.
	HTTP *http.Client
	Base string
	// RTSPHost is the viewer RTSP proxy's host:port.
	RTSPHost string

	rng    *rand.Rand
	output string
	c      *checker
	bad    bool // a violation was recorded in this visit
}

// Frame checks one access unit (NAL units without start codes) received:
// its stamps must be the visit's camera's. It returns false on a violation.
func (v *Visit) Frame(nalus [][]byte) bool {
	if !v.c.accessUnit(v.output, v.User.Name, v.Camera.ID, nalus) {
		v.bad = true
	}
	return !v.bad
}

// Picture checks one decoded still by its block code.
func (v *Visit) Picture(img image.Image) bool {
	if !v.c.picture(v.output, v.User.Name, v.Camera.ID, img) {
		v.bad = true
	}
	return !v.bad
}

// Upload checks a still served as uploaded, by its bytes.
func (v *Visit) Upload(b []byte) bool {
	if !v.c.uploadBytes(v.output, v.User.Name, v.Camera.ID, b) {
		v.bad = true
	}
	return !v.bad
}

// Refused records an attack refused as it must be.
func (v *Visit) Refused() { v.c.out(v.output).refusals.Add(1) }

// Served records media, or a success, served to an attacker.
func (v *Visit) Served(detail string) {
	v.bad = true
	v.c.attackServed(v.output, v.User.Name, v.Camera.ID, detail)
}

// Cancelled records a hang-up mid-response.
func (v *Visit) Cancelled() { v.c.out(v.output).cancels.Add(1) }

// get makes a GET as the visit's user (Basic auth unless the URL carries
// a token) and returns the response; for an attack it judges the status
// and returns a nil response.
func (v *Visit) get(ctx context.Context, pathAndQuery string, basic bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.Base+pathAndQuery, nil)
	if err != nil {
		return nil, err
	}
	if basic {
		req.SetBasicAuth(v.User.Name, v.User.Password)
	}
	res, err := v.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if v.Attack {
		v.judgeAttack(res)
		res.Body.Close()
		return nil, nil
	}
	if res.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(res.Body, 4096))
		res.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", redactToken(pathAndQuery), res.Status)
	}
	return res, nil
}

// judgeAttack refuses anything but 401, 403 or 404 to an attacker.
func (v *Visit) judgeAttack(res *http.Response) {
	switch res.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		v.Refused()
	default:
		n, _ := io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
		v.Served(fmt.Sprintf("not refused: status %d, %d body bytes", res.StatusCode, n))
	}
}

// redactToken drops a ?token= from a path for error messages.
func redactToken(p string) string {
	for i := range len(p) {
		if p[i] == '?' {
			return p[:i]
		}
	}
	return p
}
