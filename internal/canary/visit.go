package canary

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"
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
	User User
	// Secret is what the visit signs in with as User: their password, their
	// API token (as a player does), or for a stale-credential attack one
	// they had before a password change or token deletion.
	Secret string
	Camera *Camera
	// Addr is the client address the visit's requests name (see
	// householdAddr).
	Addr string
	// Sub asks for the camera's sub stream.
	Sub bool
	// Adaptive accepts the camera's sub stream as well as the stream asked
	// for: WebRTC steps a viewer whose grant covers both down to sub on a
	// poor path (issue 17), and every WebRTC visit's credentials do.
	Adaptive bool
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
	// notBefore is the earliest capture time the viewer may be shown (their
	// epoch for the camera, see Layout.notBefore); zero for an attack.
	notBefore time.Time
	// spanFrom and spanTo, when set, bound the capture times of the frames
	// the visit may receive: a recorded clip of that stretch, or a
	// time-limited share.
	spanFrom, spanTo time.Time
	// version is the pair's standing version when the visit was drawn: an
	// attack that a grant overtook is no verdict.
	version uint64
	// audio and frames count the audio packets (or samples) and the checked
	// video frames of the visit (atomically: RTSP and WebRTC deliver on
	// their own goroutines).
	audio, frames int64
}

// retarget points the visit at camera c as the layout stands: an attack
// if the user may not see it, else with the user's epoch for it. It
// returns false while a change of the pair is in flight.
func (v *Visit) retarget(c *Camera) bool {
	l := v.c.layout
	st, ok := l.settled(v.User.Name, c.ID)
	if !ok {
		return false
	}
	v.Camera, v.Attack, v.version, v.notBefore = c, !st.allowed, st.version, time.Time{}
	if st.allowed {
		v.notBefore = l.notBefore(v.User.Name, c.ID)
	}
	return true
}

// onLinked points a visit to a camera its user may see at one the user's
// assistant links expose: for the others deviceNotFound and
// NO_SUCH_ENDPOINT are the right answers, which a full run counted as
// 2,000 failed visits. Attacks keep their camera. It returns false when no
// such camera can be drawn now.
func (v *Visit) onLinked() bool {
	l := v.c.layout
	if v.Attack {
		return true
	}
	linked := l.linkedVisible(v.User.Name)
	if slices.Contains(linked, v.Camera) {
		return true
	}
	return len(linked) > 0 && v.retarget(linked[v.rng.IntN(len(linked))])
}

// Frame checks one access unit (NAL units without start codes) received:
// its stamps must be the visit's camera's. It returns false on a violation.
func (v *Visit) Frame(nalus [][]byte) bool {
	want := v.Camera.ID
	if v.Sub || v.Adaptive && v.c.stampedBy(nalus) == subID(want) {
		want = subID(want)
	}
	if !v.c.accessUnit(v.output, v.User.Name, want, v.notBefore, nalus) ||
		!v.spanFrom.IsZero() && !v.c.inSpan(v.output, v.User.Name, want, v.spanFrom, v.spanTo, nalus) {
		v.bad = true
	} else {
		atomic.AddInt64(&v.frames, 1)
	}
	return !v.bad
}

// Picture checks one decoded still by its block code.
func (v *Visit) Picture(img image.Image) bool {
	if !v.c.picture(v.output, v.User.Name, v.Camera.ID, v.notBefore, img) {
		v.bad = true
	}
	return !v.bad
}

// Upload checks a still served as uploaded, by its bytes.
func (v *Visit) Upload(b []byte) bool {
	if !v.c.uploadBytes(v.output, v.User.Name, v.Camera.ID, v.notBefore, b) {
		v.bad = true
	}
	return !v.bad
}

// Refused records an attack refused as it must be.
func (v *Visit) Refused() { v.c.out(v.output).refusals.Add(1) }

// Served records media, or a success, served to an attacker. An attack
// on a camera the user was let see since the visit was drawn (a claim or
// share in flight) is no verdict: it is counted as overtaken.
func (v *Visit) Served(detail string) {
	if v.c.layout.version(v.User.Name, v.Camera.ID) != v.version {
		v.c.out(v.output).overtaken.Add(1)
		return
	}
	v.bad = true
	v.c.attackServed(v.output, v.User.Name, v.Camera.ID, detail)
}

// Audio records audio received. The cameras' audio carries no stamp: it
// is counted, and judged by the video that comes with it (AudioDone).
func (v *Visit) Audio(n int64) {
	atomic.AddInt64(&v.audio, n)
	v.c.out(v.output).audio.Add(n)
}

// audioAlone is how much audio a visit may receive with no checked video
// frame beside it: about five seconds of the cameras' G.711 (a packet a
// frame), several keyframe intervals, far more than any join waits.
const audioAlone = 100

// AudioDone judges a visit's audio when it ends: audio may only come
// alongside video whose stamps were checked (the camera asked for, in the
// viewer's epoch), so a stream of audio with no checked video — a
// session whose video was withheld or foreign while its audio flowed — is
// a violation.
func (v *Visit) AudioDone() {
	if a := atomic.LoadInt64(&v.audio); a >= audioAlone && atomic.LoadInt64(&v.frames) == 0 && !v.bad {
		v.bad = true
		v.c.violation(Violation{Kind: KindAudioAlone, Output: v.output, User: v.User.Name, Requested: v.Camera.ID,
			Detail: fmt.Sprintf("%d audio packets, no checked video frame", a)})
	}
}

// Cancelled records a hang-up mid-response.
func (v *Visit) Cancelled() { v.c.out(v.output).cancels.Add(1) }

// get makes a GET as the visit's user (Basic auth unless the URL carries
// a token) and returns the response; for an attack it judges the status
// and returns a nil response.
func (v *Visit) get(ctx context.Context, pathAndQuery string, basic bool) (*http.Response, error) {
	return v.call(ctx, http.MethodGet, pathAndQuery, "", basic, http.StatusOK)
}

// call makes a request as the visit's user with a JSON body (none if
// empty), as get does: for an attack it judges the status and returns a
// nil response; else a status other than want is an error.
func (v *Visit) call(ctx context.Context, method, pathAndQuery, body string, basic bool, want int) (*http.Response, error) {
	res, err := v.send(ctx, method, pathAndQuery, body, basic)
	if err != nil {
		return nil, err
	}
	if v.Attack {
		v.judgeAttack(res)
		res.Body.Close()
		return nil, nil
	}
	if res.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		return nil, newErrStatus(res, method+" "+redactToken(pathAndQuery), b)
	}
	return res, nil
}

// send makes a request as the visit's user with a JSON body (none if
// empty) and returns the response, whatever its status.
func (v *Visit) send(ctx context.Context, method, pathAndQuery, body string, basic bool) (*http.Response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, v.Base+pathAndQuery, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if basic {
		req.SetBasicAuth(v.User.Name, v.Secret)
	}
	v.forwarded(req)
	return v.HTTP.Do(req)
}

// getJSON gets path as the visit's user and decodes its JSON answer
// (bounded) into dst; false when there was no answer to decode (err says
// why, or nil when the visit was refused or cancelled as expected).
func (v *Visit) getJSON(ctx context.Context, path string, dst any) (bool, error) {
	res, err := v.get(ctx, path, true)
	if res == nil {
		return false, err
	}
	defer res.Body.Close()
	return true, json.NewDecoder(io.LimitReader(res.Body, maxTimeline)).Decode(dst)
}

// mustRefuse sends a request the visit may not have answered: a refusal
// (401, 403, 404) is counted as one; anything else is an attack served,
// reported as what (the object asked for) with got the camera it is of.
func (v *Visit) mustRefuse(ctx context.Context, method, path, body, requested, got, what string) error {
	res, err := v.send(ctx, method, path, body, true)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if refused(res) {
		v.Refused()
		return nil
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	v.bad = true
	v.c.violation(Violation{Kind: KindAttackServed, Output: v.output, User: v.User.Name, Requested: requested, Got: got,
		Detail: fmt.Sprintf("%s not refused: status %d, %d body bytes", what, res.StatusCode, n)})
	return nil
}

// forwarded names the visit's client address on req.
func (v *Visit) forwarded(req *http.Request) {
	if v.Addr != "" {
		req.Header.Set(forwardedFor, v.Addr)
	}
}

// judgeAttack refuses anything but 401, 403 or 404 to an attacker, or 429:
// the sign-in throttle answers before it checks anything (an account that
// the canary's own attacks and stale credentials have locked a while), or
// 503 with Retry-After and no media: every argon2id slot was busy, so the
// guess was not even checked.
func (v *Visit) judgeAttack(res *http.Response) {
	if refused(res) {
		v.Refused()
		return
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	v.Served(fmt.Sprintf("not refused: status %d, %d body bytes", res.StatusCode, n))
}

// refused reports whether res refuses as an attack must be (see
// judgeAttack).
func refused(res *http.Response) bool {
	busy := res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") != "" &&
		!strings.HasPrefix(res.Header.Get("Content-Type"), "image/") && !strings.HasPrefix(res.Header.Get("Content-Type"), "video/")
	switch res.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests:
		return true
	}
	return busy
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
