package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/config"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// fakeLWA is Login with Amazon's token endpoint on loopback: it exchanges
// the codes "lwa-code-NAME" for the skill's events credentials, giving the
// access token "Atza|NAME".
func fakeLWA(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		name, ok := strings.CutPrefix(r.Form.Get("code"), "lwa-code-")
		if !ok || r.Form.Get("client_id") != "amzn1.events" || r.Form.Get("client_secret") != "events-secret-for-tests" {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		fmt.Fprintf(w, `{"access_token":"Atza|%s","refresh_token":"Atzr|%s","token_type":"bearer","expires_in":3600}`, name, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// eventGateway is Alexa's event gateway on loopback; it records events,
// and answers SKILL_DISABLED_EXCEPTION to the token disabled.
type eventGateway struct {
	mu       sync.Mutex
	events   []string // namespace/name endpointIds...
	disabled string
}

func (g *eventGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev struct {
		Event struct {
			Header   struct{ Namespace, Name string }
			Endpoint *struct{ EndpointID string }
			Payload  struct{ Endpoints []struct{ EndpointID string } }
		}
	}
	json.NewDecoder(r.Body).Decode(&ev)
	g.mu.Lock()
	off := g.disabled != "" && r.Header.Get("Authorization") == "Bearer "+g.disabled
	g.mu.Unlock()
	if off {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"header":{"namespace":"System","name":"Exception"},"payload":{"code":"SKILL_DISABLED_EXCEPTION"}}`))
		return
	}
	line := ev.Event.Header.Namespace + "/" + ev.Event.Header.Name
	if ev.Event.Endpoint != nil {
		line += " " + ev.Event.Endpoint.EndpointID
	}
	for _, e := range ev.Event.Payload.Endpoints {
		line += " " + e.EndpointID
	}
	g.mu.Lock()
	g.events = append(g.events, line)
	g.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (g *eventGateway) saw(line string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Contains(g.events, line)
}

// directive posts one of the skill backend's fixtures as the skill's
// Lambda forwards it. The Lambda's own bearer header carries header (a
// proxy that is not trusted: the token inside the directive decides).
func (a *testApp) directive(t *testing.T, fixture, header string, vars map[string]string) map[string]any {
	t.Helper()
	return postDirective(t, http.DefaultClient, a.url("/alexa/directive"), fixture, header, vars)
}

// postDirective posts a directive fixture to url with client.
func postDirective(t *testing.T, client *http.Client, url, fixture, header string, vars map[string]string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../smarthome/alexa/testdata/" + fixture)
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	for k, v := range vars {
		body = strings.ReplaceAll(body, "{{"+k+"}}", v)
	}
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+header)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 {
		t.Fatalf("%s: %d %v", fixture, res.StatusCode, err)
	}
	return out
}

// alexaEvent returns an event's namespace/name, its error type ("" for
// none) and its payload.
func alexaEvent(out map[string]any) (string, string, map[string]any) {
	ev, _ := out["event"].(map[string]any)
	h, _ := ev["header"].(map[string]any)
	p, _ := ev["payload"].(map[string]any)
	name := fmt.Sprint(h["namespace"], "/", h["name"])
	typ, _ := p["type"].(string)
	if !strings.HasSuffix(name, "/ErrorResponse") {
		typ = ""
	}
	return name, typ, p
}

func discovered(t *testing.T, out map[string]any) map[string]string {
	t.Helper()
	_, typ, p := alexaEvent(out)
	eps, _ := p["endpoints"].([]any)
	if typ != "" || eps == nil {
		t.Fatalf("Discover: %v", out)
	}
	ids := map[string]string{}
	for _, e := range eps {
		e := e.(map[string]any)
		for _, c := range e["capabilities"].([]any) {
			if c := c.(map[string]any); c["interface"] == "Alexa.CameraStreamController" {
				ids[e["endpointId"].(string)] = fmt.Sprint(c["cameraStreamConfigurations"].([]any)[0].(map[string]any)["resolutions"])
			}
		}
	}
	return ids
}

// echoShow offers a WebRTC session for camera as an Echo Show does (audio
// sendrecv, video recvonly) and returns the viewer, the answer's event and
// how long the answer took.
func (a *testApp) echoShow(t *testing.T, token, camera, session string) (*sim.WebRTCViewer, map[string]any, time.Duration) {
	t.Helper()
	v, err := sim.NewWebRTCViewer(sim.StaticKeys(stampSecret), sim.WebRTCOptions{Audio: true, SendAudio: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	offer, err := v.Offer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sdp, _ := json.Marshal(offer)
	start := time.Now()
	out := a.directive(t, "initiate_session.json", token, map[string]string{"token": token, "camera": camera,
		"session": session, "sdp": string(sdp)})
	return v, out, time.Since(start)
}

func answerOf(t *testing.T, out map[string]any) string {
	t.Helper()
	name, _, p := alexaEvent(out)
	a, _ := p["answer"].(map[string]any)
	sdp, _ := a["value"].(string)
	if name != "Alexa.RTCSessionController/AnswerGeneratedForSession" || a["format"] != "SDP" ||
		!strings.Contains(sdp, "a=candidate:") || !strings.Contains(sdp, "a=sendonly") {
		t.Fatalf("answer: %v", out)
	}
	return sdp
}

// TestEchoShowEndToEnd: two households link their Alexa accounts; each
// Discover lists exactly that link's cameras at their true resolution; an
// Echo Show's WebRTC offer is answered with every candidate and plays the
// requested camera, every frame stamped by it; another household's token
// naming the camera gets NO_SUCH_ENDPOINT and no SDP, whatever the proxy's
// header says; ending a share mid-session stops the view within a second;
// SessionDisconnected hangs up; the HLS URL plays in ffmpeg with the
// camera's stamps.
func TestEchoShowEndToEnd(t *testing.T) {
	needFFmpeg(t)
	lwa := fakeLWA(t)
	gw := &eventGateway{}
	gwSrv := httptest.NewServer(gw)
	defer gwSrv.Close()
	a := startApp(t, "", func(c *config.Config) {
		withOAuthClients(c)
		c.OAuthClients[1].EventsClientID, c.OAuthClients[1].EventsClientSecret = "amzn1.events", "events-secret-for-tests"
		c.AlexaLWAURL, c.AlexaEventsURL = lwa.URL, gwSrv.URL
	})
	olgaPW, porch, garage := a.household(t)
	bobPW := a.addUser(t, "bob")
	shed := a.addCamera(t, "shed")
	claimFor(t, a, shed, "bob")
	ctx := context.Background()
	if err := a.auth.Share(ctx, a.callerNamed(ctx, "olga"), deviceID(garage), "bob", time.Time{}, a.households()); err != nil {
		t.Fatal(err)
	}
	a.runClaimed(t, porch, garage, shed)
	olga := linkWith(t, a.alexa(t), "olga", olgaPW, porch.ID) // her garage stays private to this link
	bob := linkWith(t, a.alexa(t), "bob", bobPW, shed.ID, garage.ID)

	if ids := discovered(t, a.directive(t, "discover.json", "", map[string]string{"token": olga})); len(ids) != 1 ||
		ids[porch.ID] != "[map[height:240 width:320]]" {
		t.Fatalf("olga's Discover: %v, want only the porch at its 320x240", ids)
	}
	if ids := discovered(t, a.directive(t, "discover.json", "", map[string]string{"token": bob})); len(ids) != 2 ||
		ids[shed.ID] == "" || ids[garage.ID] == "" {
		t.Fatalf("bob's Discover: %v, want his shed and the garage shared with him", ids)
	}
	for who, tok := range map[string]string{"olga": olga, "bob": bob} {
		if name, _, _ := alexaEvent(a.directive(t, "accept_grant.json", "", map[string]string{"token": tok, "code": "lwa-code-" + who})); name != "Alexa.Authorization/AcceptGrant.Response" {
			t.Fatalf("AcceptGrant: %s", name)
		}
	}

	// Olga's Echo Show plays her porch over WebRTC.
	v, out, took := a.echoShow(t, olga, porch.ID, "olga-1")
	answered := time.Now()
	if err := v.Accept(answerOf(t, out)); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "30 video units at the Echo Show", func() error {
		if n := v.Stats().Units; n < 30 {
			return fmt.Errorf("%d units", n)
		}
		return nil
	})
	if err := v.Checker().Only(porch.ID); err != nil {
		t.Fatalf("stamps at olga's Echo Show: %v", err)
	}
	t.Logf("InitiateSessionWithOffer answered in %v; first frame %v after the answer",
		took.Round(time.Millisecond), v.Stats().FirstUnit.Sub(answered).Round(time.Millisecond))

	// Bob's token naming olga's porch: NO_SUCH_ENDPOINT and no SDP, even
	// with olga's token in the proxy's header.
	_, out, _ = a.echoShow(t, bob, porch.ID, "bob-attack")
	if _, typ, p := alexaEvent(out); typ != "NO_SUCH_ENDPOINT" || p["answer"] != nil {
		t.Fatalf("bob's offer for the porch: %v", out)
	}
	stolen := a.directive(t, "initialize_streams.json", olga, map[string]string{"token": bob, "camera": porch.ID})
	if _, typ, _ := alexaEvent(stolen); typ != "NO_SUCH_ENDPOINT" || bytes.Contains(mustJSON(stolen), []byte("token=")) {
		t.Fatalf("bob's HLS request for the porch: %v", stolen)
	}

	// Bob watches the garage olga shares with him; she ends the share.
	bv, out, _ := a.echoShow(t, bob, garage.ID, "bob-1")
	if err := bv.Accept(answerOf(t, out)); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "bob's garage playing", func() error {
		if n := bv.Stats().Units; n < 10 {
			return fmt.Errorf("%d units", n)
		}
		return nil
	})
	if err := a.auth.Unshare(ctx, a.callerNamed(ctx, "olga"), deviceID(garage), "bob", a.households()); err != nil {
		t.Fatal(err)
	}
	viewEnds(t, bv, garage.ID, time.Now(), "the share ended")
	if err := bv.Checker().Only(garage.ID); err != nil {
		t.Fatalf("stamps at bob's Echo Show: %v", err)
	}
	if ids := discovered(t, a.directive(t, "discover.json", "", map[string]string{"token": bob})); len(ids) != 1 || ids[shed.ID] == "" {
		t.Fatalf("bob's Discover after the share ended: %v", ids)
	}
	testkit.WaitFor(t, 5*time.Second, "a DeleteReport of the garage", func() error {
		if !gw.saw("Alexa.Discovery/DeleteReport " + garage.ID) {
			return errors.New("no DeleteReport yet")
		}
		return nil
	})

	// Bob disables the skill; Amazon tells only the event gateway, whose
	// next answer for him ends his link (olga shares the garage again).
	gw.mu.Lock()
	gw.disabled = "Atza|bob"
	gw.mu.Unlock()
	if err := a.auth.Share(ctx, a.callerNamed(ctx, "olga"), deviceID(garage), "bob", time.Time{}, a.households()); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "bob's link ended", func() error {
		if _, typ, _ := alexaEvent(a.directive(t, "discover.json", "", map[string]string{"token": bob})); typ != "INVALID_AUTHORIZATION_CREDENTIAL" {
			return fmt.Errorf("bob's Discover still answered (%q)", typ)
		}
		return nil
	})

	// SessionDisconnected hangs olga's view up.
	a.directive(t, "session_disconnected.json", "", map[string]string{"token": olga, "camera": porch.ID, "session": "olga-1"})
	select {
	case <-v.Gone():
	case <-time.After(5 * time.Second):
		t.Fatal("olga's view outlived SessionDisconnected")
	}

	// The HLS URL and the still of InitializeCameraStreams.
	out = a.directive(t, "initialize_streams.json", "", map[string]string{"token": olga, "camera": porch.ID})
	_, typ, p := alexaEvent(out)
	streams, _ := p["cameraStreams"].([]any)
	if typ != "" || len(streams) != 1 {
		t.Fatalf("InitializeCameraStreams: %v", out)
	}
	s := streams[0].(map[string]any)
	if fmt.Sprint(s["resolution"]) != "map[height:240 width:320]" {
		t.Fatalf("stream resolution %v, want the camera's 320x240", s["resolution"])
	}
	if chk := playStamps(t, s["uri"].(string), "20"); chk.Only(porch.ID) != nil {
		t.Fatalf("HLS stamps %v, want only the porch", chk.Counts())
	}
	if code, h, _ := a.get(t, strings.TrimPrefix(p["imageUri"].(string), a.url("")), "", ""); code != 200 || h.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("imageUri: %d %v", code, h)
	}
	a.echoShowFigures(t, olga, porch)
	a.unlinkAlexa(t, olga, olgaPW, porch)
}

// echoShowFigures logs, over 20 sessions one after another, how long
// InitiateSessionWithOffer takes to answer and the first frame takes to
// arrive after the answer (BENCHMARKS.md); it asserts no timing.
func (a *testApp) echoShowFigures(t *testing.T, token string, cam *sim.Camera) {
	t.Helper()
	var answers, firsts []time.Duration
	for i := range 20 {
		id := fmt.Sprint("figures-", i)
		v, out, took := a.echoShow(t, token, cam.ID, id)
		answered := time.Now()
		if err := v.Accept(answerOf(t, out)); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, 10*time.Second, "a first frame", func() error {
			if v.Stats().Units == 0 {
				return errors.New("none yet")
			}
			return nil
		})
		answers, firsts = append(answers, took), append(firsts, v.Stats().FirstUnit.Sub(answered))
		a.directive(t, "session_disconnected.json", "", map[string]string{"token": token, "camera": cam.ID, "session": id})
		<-v.Gone()
		if err := v.Checker().Only(cam.ID); err != nil {
			t.Fatal(err)
		}
	}
	q := func(ds []time.Duration, p float64) time.Duration {
		slices.Sort(ds)
		return ds[int(p*float64(len(ds)-1)+0.5)].Round(100 * time.Microsecond)
	}
	t.Logf("20 Echo Show sessions: offer to answer p50 %v p95 %v; answer to first frame p50 %v p95 %v",
		q(answers, 0.5), q(answers, 0.95), q(firsts, 0.5), q(firsts, 0.95))
}

// unlinkAlexa has olga unlink her Alexa in the web page while her Echo
// Show plays: the view ends at once, the link's token and event grant go.
func (a *testApp) unlinkAlexa(t *testing.T, token, pw string, porch *sim.Camera) {
	t.Helper()
	links := a.linksOf(t, "olga", pw)
	if len(links) != 1 || links[0].Kind != config.OAuthAlexa || len(links[0].Cameras) != 1 || links[0].Cameras[0].ID != deviceID(porch) {
		t.Fatalf("olga's links in the web page: %+v", links)
	}
	v, out, _ := a.echoShow(t, token, porch.ID, "olga-2")
	if err := v.Accept(answerOf(t, out)); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "olga's second view playing", func() error {
		if n := v.Stats().Units; n < 10 {
			return fmt.Errorf("%d units", n)
		}
		return nil
	})
	if code, body := a.call(t, "DELETE", "/api/links/"+links[0].ID, "olga", pw, nil); code >= 300 {
		t.Fatalf("unlink: %d %s", code, body)
	}
	viewEnds(t, v, porch.ID, time.Now(), "the unlink")
	if _, typ, _ := alexaEvent(a.directive(t, "report_state.json", "", map[string]string{"token": token, "camera": porch.ID})); typ != "INVALID_AUTHORIZATION_CREDENTIAL" {
		t.Fatalf("olga's token after the unlink: %s", typ)
	}
	if _, err := a.store.AlexaGrant(context.Background(), links[0].ID); err == nil {
		t.Fatal("the event grant outlived the link")
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestAlexaSilentLinkEnds: with alexa_silence at 3 s, of two Alexa links of
// one account, the one whose Echo keeps sending directives stays and the
// one unused ends (its token stops resolving) — the store notes each
// directive's use, and the reporter's sweep ends the silent link.
func TestAlexaSilentLinkEnds(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) {
		withOAuthClients(c)
		c.AlexaSilence = 3 * time.Second
	})
	pw, porch, _ := a.household(t)
	used, silent := linkWith(t, a.alexa(t), "olga", pw, porch.ID), linkWith(t, a.alexa(t), "olga", pw, porch.ID)
	deadline := time.Now().Add(15 * time.Second)
	for a.resolves(t, silent) {
		if time.Now().After(deadline) {
			t.Fatal("the silent link did not end within 15 s of a 3 s silence")
		}
		if name, _, _ := alexaEvent(a.directive(t, "discover.json", "", map[string]string{"token": used})); name != "Alexa.Discovery/Discover.Response" {
			t.Fatalf("Discover on the used link: %s", name)
		}
		time.Sleep(500 * time.Millisecond) // the Echo's pace, not a wait for a condition
	}
	if !a.resolves(t, used) {
		t.Fatal("the link in use ended with the silent one")
	}
}

// TestAlexaRelinkReplacesTheOldLink: olga's Alexa link waits to be
// relinked (the event gateway refused its token for good); she links the
// skill again, and the new link's AcceptGrant ends the old one, which
// leaves the page; a link of hers that does not wait stays.
func TestAlexaRelinkReplacesTheOldLink(t *testing.T) {
	lwa := fakeLWA(t)
	a := startApp(t, "", func(c *config.Config) {
		withOAuthClients(c)
		c.OAuthClients[1].EventsClientID, c.OAuthClients[1].EventsClientSecret = "amzn1.events", "events-secret-for-tests"
		c.AlexaLWAURL = lwa.URL
	})
	pw, porch, _ := a.household(t)
	accept := func(tok, who string) {
		t.Helper()
		if name, _, _ := alexaEvent(a.directive(t, "accept_grant.json", "", map[string]string{"token": tok, "code": "lwa-code-" + who})); name != "Alexa.Authorization/AcceptGrant.Response" {
			t.Fatalf("AcceptGrant: %s", name)
		}
	}
	old, kitchen := linkWith(t, a.alexa(t), "olga", pw, porch.ID), linkWith(t, a.alexa(t), "olga", pw, porch.ID)
	accept(old, "old")
	accept(kitchen, "kitchen")
	ctx := context.Background()
	l, err := a.oauth.Resolve(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	g, err := a.store.AlexaGrant(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	g.Relink = time.Now()
	if err := a.store.PutAlexaGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if links := a.linksOf(t, "olga", pw); len(links) != 2 || links[0].Relink == links[1].Relink {
		t.Fatalf("before relinking: %+v, want one of two links waiting", links)
	}
	accept(linkWith(t, a.alexa(t), "olga", pw, porch.ID), "new")
	if a.resolves(t, old) || !a.resolves(t, kitchen) {
		t.Fatalf("after relinking: the old link resolves %v, the kitchen's %v", a.resolves(t, old), a.resolves(t, kitchen))
	}
	for _, l := range a.linksOf(t, "olga", pw) {
		if l.Relink {
			t.Fatalf("a link still waits to be relinked: %+v", l)
		}
	}
}
