package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/auth"
	"vigil/internal/config"
	"vigil/internal/record"
	"vigil/internal/seal"
	"vigil/internal/sim"
	"vigil/internal/store"
	"vigil/internal/testkit"
)

// principal is someone (or something) knocking on a camera route.
type principal struct {
	name string
	// prepare adds credentials to the request, given the route's camera.
	prepare func(r *http.Request)
}

// TestAccessMatrix holds every route that names a camera (or the owner's
// account link) to who may use it: the owner and a live share pass; a
// revoked or expired share, a stranger, an anonymous client, a disabled
// user, tokens for another camera and forged or expired tokens are refused
// with zero media bytes. The route list comes from the router itself: a
// new route with an {id} that this table does not cover fails the test.
func TestAccessMatrix(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) {
		withOAuthClients(c)
		c.Record, c.RecordSegment = true, time.Second
		// The owner's WHEP session (never connected) must outlast the table.
		c.WebRTCNegotiationTimeout, c.WebRTCDisconnectedTimeout = time.Minute, time.Minute
	})
	cam, other, shed := a.addCamera(t, "porch"), a.addCamera(t, "garage"), a.addCamera(t, "shed")
	a.run(t, cam, other, shed)
	ctx := context.Background()
	dir := a.households()
	pw := map[string]string{}
	for _, n := range []string{"owner", "viewer", "revoked", "expired", "stranger", "disabled"} {
		pw[n] = a.addUser(t, n)
	}
	code, _ := auth.NewClaimCode()
	a.store.ResetDevice(ctx, deviceID(cam), auth.ClaimHash(code))
	if _, err := a.auth.Claim(ctx, a.callerNamed(ctx, "owner"), code, dir); err != nil {
		t.Fatal(err)
	}
	a.waitBack(t, deviceID(cam))
	for _, v := range []string{"viewer", "revoked", "expired", "disabled"} {
		if err := a.auth.Share(ctx, a.callerNamed(ctx, "owner"), deviceID(cam), v, time.Time{}, dir); err != nil {
			t.Fatal(err)
		}
	}
	// The expired share ended a moment ago; the revoked one was revoked;
	// the disabled user was disabled after being shared with.
	a.store.PutShare(ctx, store.Share{Device: deviceID(cam), Viewer: "u-expired", Until: time.Now().Add(-time.Second)})
	a.auth.Unshare(ctx, a.callerNamed(ctx, "owner"), deviceID(cam), "revoked", dir)
	u, _ := a.store.UserByName(ctx, "disabled")
	u.Disabled = true
	a.store.UpsertUser(ctx, u)
	// A recording the viewer may see: one that started after the share.
	var rec int64
	var recStart time.Time
	testkit.WaitFor(t, 20*time.Second, "a recording after the share", func() error {
		s, _, body := a.get(t, "/api/cameras/"+cam.ID+"/recordings", "viewer", pw["viewer"])
		var out struct{ Spans []timelineSpan }
		if err := json.Unmarshal(body, &out); s != 200 || err != nil || len(out.Spans) == 0 {
			return fmt.Errorf("timeline: %d %s", s, body)
		}
		rec, recStart = out.Spans[0].ID, out.Spans[0].Start
		return nil
	})
	// An event of the camera's, with a thumbnail.
	s, ev := a.markEvent(t, cam.ID, "owner", pw["owner"], map[string]any{"kind": "motion", "thumbnail": []byte{0xff, 0xd8, 0xff, 0xd9}})
	if s != 201 {
		t.Fatalf("the owner marks an event: %d", s)
	}
	// A pin of the owner's, which only she removes.
	epochStart, secret, err := a.store.Epoch(ctx, deviceID(cam))
	if err != nil {
		t.Fatal(err)
	}
	clear(secret)
	pinID, err := a.store.AddPin(ctx, record.Pin{Device: deviceID(cam), Epoch: epochStart, User: a.callerNamed(ctx, "owner").ID,
		Start: ev.Start, End: ev.Start.Add(time.Second), Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	// An export of the owner's: she had the shed recorded, released it
	// keeping her recordings, and the stranger claimed it.
	exportID, exportRec, exportEv := a.exportFor(t, shed, "owner", pw["owner"], "stranger")
	// The owner links Google Home to the camera.
	code, verifier := a.google(t).Link("owner", pw["owner"], cam.ID)
	link, err := a.oauth.Resolve(ctx, a.google(t).Exchange(code, verifier).AccessToken)
	if err != nil {
		t.Fatal(err)
	}

	tokens := auth.NewTokens(mustMaster(t, a))
	// Tokens as the API mints them for a viewer signed in with a password.
	bound := func(user string) auth.Binding {
		u, _ := a.store.UserByName(ctx, user)
		return auth.Binding{Via: auth.ViaPassword, ID: auth.PasswordFingerprint(u.Credential.PassSHA256)}
	}
	mint := func(user string, device access.DeviceID, aud access.Audience, session auth.Binding, ttl time.Duration) string {
		return tokens.Mint(auth.Token{User: user, Device: device, Stream: "main", Audience: aud, Binding: session,
			Expires: time.Now().Add(ttl)})
	}
	otherToken := mint("owner", deviceID(other), "web", bound("owner"), time.Hour)
	expiredToken := mint("viewer", deviceID(cam), "web", bound("viewer"), -time.Second)
	rtspToken := mint("viewer", deviceID(cam), "rtsp", bound("viewer"), time.Hour)
	viewerToken := mint("viewer", deviceID(cam), "web", bound("viewer"), time.Hour)
	revokedToken := mint("revoked", deviceID(cam), "web", bound("revoked"), time.Hour)
	// Minted in a sign-in session that has since ended (logout).
	endedToken := mint("viewer", deviceID(cam), "web", auth.Binding{Via: auth.ViaSession, ID: "0123456789abcdef"}, time.Hour)
	basic := func(n string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(n, pw[n]) } }
	token := func(tok string) func(*http.Request) {
		return func(r *http.Request) {
			q := r.URL.Query()
			q.Set("token", tok)
			r.URL.RawQuery = q.Encode()
		}
	}
	principals := []principal{
		{"owner", basic("owner")}, {"viewer", basic("viewer")}, {"revoked", basic("revoked")},
		{"expired", basic("expired")}, {"stranger", basic("stranger")}, {"disabled", basic("disabled")},
		{"anonymous", func(*http.Request) {}},
		{"token-other-camera", token(otherToken)}, {"token-expired", token(expiredToken)},
		{"token-forged", token(viewerToken[:len(viewerToken)-4] + "AAAA")},
		{"token-viewer", token(viewerToken)}, {"token-other-audience", token(rtspToken)},
		{"token-revoked-share", token(revokedToken)}, {"token-session-ended", token(endedToken)},
	}
	// What each principal gets, per kind of route. Media reads pass for the
	// owner, the viewer and the viewer's token.
	read := map[string]int{"owner": 200, "viewer": 200, "token-viewer": 200, "revoked": 404, "expired": 404,
		"stranger": 404, "disabled": 401, "anonymous": 401, "token-other-camera": 403, "token-expired": 401, "token-forged": 401,
		"token-other-audience": 403, "token-revoked-share": 404, "token-session-ended": 401}
	ownerOnly := map[string]int{"owner": 200, "viewer": 404, "token-viewer": 401, "revoked": 404, "expired": 404,
		"stranger": 404, "disabled": 401, "anonymous": 401, "token-other-camera": 401, "token-expired": 401, "token-forged": 401,
		"token-other-audience": 401, "token-revoked-share": 401, "token-session-ended": 401}
	// Pins are a signed-in person's: like reads, but no stream token
	// opens them.
	people := map[string]int{}
	for k, v := range read {
		if strings.HasPrefix(k, "token-") {
			v = 401
		}
		people[k] = v
	}
	unpin := withStatus(people, 404) // not the viewer's pin
	unpin["owner"] = 204
	camerasOnly := map[string]int{} // uploads: people are refused whoever they are
	for _, p := range principals {
		camerasOnly[p.name] = 401
	}
	// WHEP: an offer any principal may post, and a session of the owner's
	// that nobody else may end (the owner ends it after the table).
	offer := whepOffer(t)
	session := a.whep(t, cam.ID, offer, basic("owner"))
	whepPost := withStatus(read, 201)
	whepEnd := withOwner(read, 0)
	whepEnd["viewer"], whepEnd["token-viewer"] = 404, 404
	// Google's WebRTC signaling takes only the EXECUTE token, as a bearer
	// header (TestNestHubPlaysOverWebRTC): sign-ins and ?token= open
	// nothing; its CORS preflight says nothing about anyone.
	bearerOnly, preflight := map[string]int{}, map[string]int{}
	for _, p := range principals {
		bearerOnly[p.name], preflight[p.name] = 401, 204
	}
	routes := map[string]struct {
		path   string // after /api/cameras/{id}, or from the root when it starts with /api/ or /alexa/
		expect map[string]int
		media  bool
	}{
		"GET /api/cameras/{id}/live.mp4":                      {"/live.mp4", read, true},
		"GET /api/cameras/{id}/hls/index.m3u8":                {"/hls/index.m3u8", read, true},
		"GET /api/cameras/{id}/hls/{stream}/{variant}/{file}": {"/hls/main/ll/index.m3u8", read, true},
		"GET /api/cameras/{id}/still.jpg":                     {"/still.jpg", read, true},
		"PUT /api/cameras/{id}/still.jpg":                     {"/still.jpg", camerasOnly, false},
		"GET /api/cameras/{id}/mjpeg":                         {"/mjpeg", read, true},
		"GET /api/cameras/{id}/recordings":                    {"/recordings", read, false},
		"GET /api/cameras/{id}/recordings/vod.m3u8":           {"/recordings/vod.m3u8", read, false},
		"GET /api/cameras/{id}/recordings/clip.mp4":           {"/recordings/clip.mp4?from=" + recStart.UTC().Format(time.RFC3339Nano) + "&to=" + recStart.Add(time.Second).UTC().Format(time.RFC3339Nano), read, true},
		"GET /api/cameras/{id}/recordings/{rec}/video.mp4":    {fmt.Sprintf("/recordings/%d/video.mp4", rec), read, true},
		"GET /api/cameras/{id}/shares":                        {"/shares", ownerOnly, false},
		"PUT /api/cameras/{id}/shares/{user}":                 {"/shares/stranger", withOwner(ownerOnly, 204), false},
		"DELETE /api/cameras/{id}/shares/{user}":              {"/shares/stranger", withOwner(ownerOnly, 204), false},
		"GET /api/cameras/{id}/access":                        {"/access", ownerOnly, false},
		"GET /api/cameras/{id}/retention":                     {"/retention", ownerOnly, false},
		"PUT /api/cameras/{id}/retention":                     {"/retention", ownerOnly, false},
		"GET /api/cameras/{id}/continuous":                    {"/continuous", ownerOnly, false},
		// The table's PUT turns continuous recording off: the recording
		// above is kept, and nothing reads the camera's recording after.
		"PUT /api/cameras/{id}/continuous": {"/continuous", ownerOnly, false},
		"GET /api/cameras/{id}/events":     {"/events", read, false},
		// The table's body marks no kind: the owner gets past the edge
		// (TestEventsStayWithTheirEpoch marks events).
		"POST /api/cameras/{id}/events":                  {"/events", withOwner(ownerOnly, 400), false},
		"GET /api/cameras/{id}/events/{event}/thumb.jpg": {fmt.Sprintf("/events/%d/thumb.jpg", ev.ID), read, true},
		"POST /api/cameras/{id}/tokens":                  {"/tokens", withTokens(read), false},
		"GET /api/cameras/{id}/review":                   {"/review", read, false},
		"GET /api/cameras/{id}/usage":                    {"/usage", ownerOnly, false},
		"GET /api/cameras/{id}/pins":                     {"/pins", people, false},
		// An export is its household's: the owner's, whoever holds the
		// camera now (the stranger claimed it); her delete is
		// TestExportAfterRelease's.
		"GET /api/exports/{id}/recordings":                 {fmt.Sprintf("/api/exports/%d/recordings", exportID), ownerOnly, false},
		"GET /api/exports/{id}/recordings/{rec}/video.mp4": {fmt.Sprintf("/api/exports/%d/recordings/%d/video.mp4", exportID, exportRec), ownerOnly, true},
		"DELETE /api/exports/{id}":                         {fmt.Sprintf("/api/exports/%d", exportID), withOwner(ownerOnly, 0), false},
		"GET /api/exports/{id}/events":                     {fmt.Sprintf("/api/exports/%d/events", exportID), ownerOnly, false},
		"GET /api/exports/{id}/events/{event}/thumb.jpg":   {fmt.Sprintf("/api/exports/%d/events/%d/thumb.jpg", exportID, exportEv), ownerOnly, true},
		// The table's body pins nothing: who gets past the edge is told 400.
		"POST /api/cameras/{id}/pins":         {"/pins", withStatus(people, 400), false},
		"DELETE /api/cameras/{id}/pins/{pin}": {fmt.Sprintf("/pins/%d", pinID), unpin, false},
		"DELETE /api/cameras/{id}":            {"", withOwner(ownerOnly, 0), false}, // the owner's release is tested elsewhere
		"PATCH /api/cameras/{id}":             {"", withOwner(ownerOnly, 0), false}, // the owner's rename: TestRenameCamera
		// Only the owner unlinks her link (tested elsewhere); to anyone
		// else signed in it does not exist.
		"DELETE /api/links/{id}":                  {"/api/links/" + link.ID, withOwner(ownerOnly, 0), false},
		"POST /api/cameras/{id}/whep":             {"/whep", whepPost, true},
		"DELETE /api/cameras/{id}/whep/{session}": {strings.TrimPrefix(session, "/api/cameras/"+cam.ID), whepEnd, false},
		// The session's mode: nobody else may learn of it (the owner's
		// read is TestWHEPAdaptsToAPoorPath's; this session never
		// connects, and may be gone by the owner's turn).
		"GET /api/cameras/{id}/whep/{session}":    {strings.TrimPrefix(session, "/api/cameras/"+cam.ID), whepEnd, false},
		"POST /api/cameras/{id}/google/webrtc":    {"/google/webrtc", bearerOnly, true},
		"OPTIONS /api/cameras/{id}/google/webrtc": {"/google/webrtc", preflight, false},
		// Alexa's snapshot URL opens only with the link's access token as
		// a bearer and its signed parameter (TestAlexaSnapshot): sign-ins
		// and ?token= open nothing.
		"GET /alexa/snapshot/{id}": {"/alexa/snapshot/" + cam.ID, bearerOnly, true},
	}
	for _, pattern := range a.router.Patterns() {
		if !strings.Contains(pattern, "{id}") {
			continue
		}
		rt, ok := routes[pattern]
		if !ok {
			t.Errorf("route %q touches a camera but is not in the access matrix", pattern)
			continue
		}
		method, _, _ := strings.Cut(pattern, " ")
		for _, p := range principals {
			want := rt.expect[p.name]
			if want == 0 {
				continue
			}
			t.Run(pattern+"/"+p.name, func(t *testing.T) {
				path := "/api/cameras/" + cam.ID + rt.path
				if strings.HasPrefix(rt.path, "/api/") || strings.HasPrefix(rt.path, "/alexa/") {
					path = rt.path
				}
				sdp := ""
				if strings.HasSuffix(rt.path, "/whep") {
					sdp = offer
				}
				code, ctype, body := a.try(t, method, path, sdp, p.prepare)
				// Throttling (429) is a refusal too, once a principal has
				// failed its password often enough.
				if code != want && !(want == 401 && code == 429) {
					t.Fatalf("%d, want %d (%s)", code, want, body[:min(len(body), 80)])
				}
				if code >= 400 && carriesMedia(ctype, body) {
					t.Fatalf("refusal carried media: %s, %d bytes", ctype, len(body))
				}
			})
		}
	}
	// Nobody else could end the owner's WebRTC session; the owner can, once.
	for i, want := range []int{204, 404} {
		if code, _, body := a.try(t, "DELETE", session, "", basic("owner")); code != want {
			t.Fatalf("owner's DELETE %d of their WebRTC session: %d, want %d (%s)", i+1, code, want, body)
		}
	}
}

// exportFor has user claim cam, waits for a recording of it, marks an
// event with a thumbnail, releases it keeping the recordings and has next
// claim it; it returns the export's id, a recording and the event in it.
func (a *testApp) exportFor(t *testing.T, cam *sim.Camera, user, pass, next string) (int64, int64, int64) {
	t.Helper()
	ctx := t.Context()
	code, _ := auth.NewClaimCode()
	if err := a.store.ResetDevice(ctx, deviceID(cam), auth.ClaimHash(code)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.auth.Claim(ctx, a.callerNamed(ctx, user), code, a.households()); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 20*time.Second, "a recording of "+user+"'s "+cam.ID, func() error {
		if len(a.timelineOf(t, cam.ID, user, pass)) == 0 {
			return errors.New("none yet")
		}
		return nil
	})
	s, ev := a.markEvent(t, cam.ID, user, pass, map[string]any{"kind": "person", "thumbnail": []byte{0xff, 0xd8, 0xff, 0xd9}})
	if s != 201 {
		t.Fatalf("%s marks an event: %d", user, s)
	}
	code, err := a.auth.Release(ctx, a.callerNamed(ctx, user), deviceID(cam), time.Hour, a.households())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.auth.Claim(ctx, a.callerNamed(ctx, next), code, a.households()); err != nil {
		t.Fatal(err)
	}
	list := a.exportsOf(t, user, pass)
	if len(list) != 1 {
		t.Fatalf("%s's exports: %+v", user, list)
	}
	var tl struct{ Spans []timelineSpan }
	a.listOf(t, fmt.Sprintf("/api/exports/%d/recordings", list[0].ID), user, pass, &tl)
	if len(tl.Spans) == 0 {
		t.Fatalf("%s's export lists no recording", user)
	}
	return list[0].ID, tl.Spans[0].ID, ev.ID
}

// withStatus is m with every success (200) answered with status instead.
func withStatus(m map[string]int, status int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v == 200 {
			v = status
		}
		out[k] = v
	}
	return out
}

func withOwner(m map[string]int, owner int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
	}
	out["owner"] = owner
	return out
}

// withTokens: a token is not a login, so it cannot mint more tokens.
func withTokens(m map[string]int) map[string]int {
	out := withOwner(m, 200)
	for _, k := range []string{"token-viewer", "token-other-camera", "token-other-audience", "token-revoked-share"} {
		out[k] = 401
	}
	return out
}

func carriesMedia(ctype string, body []byte) bool {
	return strings.HasPrefix(ctype, "image/") || strings.HasPrefix(ctype, "video/") || strings.Contains(ctype, "mpegurl") ||
		bytes.HasPrefix(body, []byte{0xff, 0xd8}) || bytes.Contains(body, []byte("ftyp")) || bytes.Contains(body, []byte("#EXTM3U")) ||
		ctype == "application/sdp" || bytes.Contains(body, []byte("a=fingerprint"))
}

// try makes a request with at most a few KB of body read (media streams
// do not end); sdp, if set, is posted as an SDP offer.
func (a *testApp) try(t *testing.T, method, path, sdp string, prepare func(*http.Request)) (int, string, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var body io.Reader
	switch {
	case sdp != "":
		body = strings.NewReader(sdp)
	case method == "PUT" && strings.HasSuffix(path, ".jpg"):
		body = bytes.NewReader([]byte{0xff, 0xd8, 0xff, 0xd9})
	case method == "POST" || method == "PUT":
		body = strings.NewReader("{}")
	}
	req, _ := http.NewRequestWithContext(ctx, method, a.url(path), body)
	switch {
	case sdp != "":
		req.Header.Set("Content-Type", "application/sdp")
	case method == "POST" || method == "PUT" && !strings.HasSuffix(path, ".jpg"):
		req.Header.Set("Content-Type", "application/json")
	}
	prepare(req)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	return res.StatusCode, res.Header.Get("Content-Type"), b
}

func mustMaster(t *testing.T, a *testApp) []byte {
	t.Helper()
	b, err := seal.LoadOrCreateMasterKey(filepath.Join(a.cfg.DataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
