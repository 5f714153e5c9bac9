package alexa

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"vigil/internal/testkit"
)

func TestDiscoverListsExactlyTheLinksCameras(t *testing.T) {
	links, view := twoHouseholds()
	x := newDirectives(links, view, &fakePeers{})
	out := send(t, x, fixture(t, "discover.json", map[string]string{"token": "tok-l-olga"}))
	if eventName(out) != "Alexa.Discovery/Discover.Response" {
		t.Fatalf("%v", out)
	}
	var ids []string
	res := map[string]string{}
	for _, e := range payload(out)["endpoints"].([]any) {
		e := e.(map[string]any)
		id := e["endpointId"].(string)
		ids = append(ids, id)
		for _, c := range e["capabilities"].([]any) {
			c := c.(map[string]any)
			if c["interface"] == "Alexa.CameraStreamController" {
				cfg := c["cameraStreamConfigurations"].([]any)[0].(map[string]any)
				res[id] = fmt.Sprint(cfg["resolutions"], cfg["audioCodecs"])
			}
		}
	}
	if strings.Join(ids, ",") != "cam-porch,cam-yard" {
		t.Fatalf("Discover listed %v, want the two exposed cameras (not the shed, not bob's garage)", ids)
	}
	// The true resolution of a live camera; the offline yard's is a guess.
	if res["cam-porch"] != "[map[height:480 width:640]] [AAC]" {
		t.Fatalf("porch advertised %s, want its 640x480 with AAC", res["cam-porch"])
	}
	out = send(t, x, fixture(t, "discover.json", map[string]string{"token": "tok-l-bob"}))
	eps := payload(out)["endpoints"].([]any)
	if len(eps) != 1 || eps[0].(map[string]any)["endpointId"] != "cam-garage" {
		t.Fatalf("bob's Discover: %v", eps)
	}
	// Offline, the porch is still advertised at the size last measured.
	view.SetOnline("cam-porch", false)
	out = send(t, x, fixture(t, "discover.json", map[string]string{"token": "tok-l-olga"}))
	if b, _ := json.Marshal(payload(out)); !strings.Contains(string(b), `"resolutions":[{"height":480,"width":640}]`) {
		t.Fatalf("offline porch: %s", b)
	}
	// A share revoked since linking: the camera leaves Discover.
	view.SetCameras("u-olga", Camera{ID: "cam-yard", Name: "Yard"}, Camera{ID: "cam-shed", Name: "Shed"})
	out = send(t, x, fixture(t, "discover.json", map[string]string{"token": "tok-l-olga"}))
	if n := len(payload(out)["endpoints"].([]any)); n != 1 {
		t.Fatalf("after losing the porch: %d endpoints", n)
	}
}

// TestDirectives is the table of directives and what each gets.
func TestDirectives(t *testing.T) {
	links, view := twoHouseholds()
	h265 := newDirectives(links, view, &fakePeers{h265: true})
	cases := []struct {
		name, fixture, token, camera string
		x                            *Directives // nil: a fresh one with WebRTC
		want                         string      // event name, or the error type
	}{
		{"report state online", "report_state.json", "tok-l-olga", "cam-porch", nil, "Alexa/StateReport"},
		{"report state offline", "report_state.json", "tok-l-olga", "cam-yard", nil, "Alexa/StateReport"},
		{"report state, other household", "report_state.json", "tok-l-olga", "cam-garage", nil, errNoSuchEndpoint},
		{"report state, not exposed", "report_state.json", "tok-l-olga", "cam-shed", nil, errNoSuchEndpoint},
		{"report state, missing", "report_state.json", "tok-l-olga", "cam-nosuch", nil, errNoSuchEndpoint},
		{"forged token", "report_state.json", "forged", "cam-porch", nil, errInvalidCredential},
		{"no token", "report_state.json", "", "cam-porch", nil, errInvalidCredential},
		{"expired token", "discover.json", "expired", "", nil, errExpiredCredential},
		{"offer", "initiate_session.json", "tok-l-olga", "cam-porch", nil, "Alexa.RTCSessionController/AnswerGeneratedForSession"},
		{"offer, offline", "initiate_session.json", "tok-l-olga", "cam-yard", nil, errUnreachable},
		{"offer, other household", "initiate_session.json", "tok-l-olga", "cam-garage", nil, errNoSuchEndpoint},
		{"offer, H.265 camera", "initiate_session.json", "tok-l-olga", "cam-porch", h265, errNotInMode},
		{"offer, WebRTC off", "initiate_session.json", "tok-l-olga", "cam-porch", newDirectives(links, view, nil), errInvalidDirective},
		{"connected", "session_connected.json", "tok-l-olga", "cam-porch", nil, "Alexa.RTCSessionController/SessionConnected"},
		{"disconnected", "session_disconnected.json", "tok-l-olga", "cam-porch", nil, "Alexa.RTCSessionController/SessionDisconnected"},
		{"hls", "initialize_streams.json", "tok-l-olga", "cam-porch", nil, "Alexa.CameraStreamController/Response"},
		{"hls, offline", "initialize_streams.json", "tok-l-olga", "cam-yard", nil, errUnreachable},
		{"hls, other household", "initialize_streams.json", "tok-l-bob", "cam-porch", nil, errNoSuchEndpoint},
		{"accept grant, events off", "accept_grant.json", "tok-l-olga", "", nil, errAcceptGrantFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := c.x
			if x == nil {
				x = newDirectives(links, view, &fakePeers{})
			}
			sdp, _ := json.Marshal("v=0\r\n")
			out := send(t, x, fixture(t, c.fixture, map[string]string{"token": c.token, "camera": c.camera,
				"session": "s-1", "sdp": string(sdp), "code": "lwa-code"}))
			if got := errorType(out); got != c.want && eventName(out) != c.want {
				t.Fatalf("got %s %v, want %s", eventName(out), payload(out), c.want)
			}
		})
	}
}

// TestNoSuchEndpointIsOneAnswer: another household's camera and a missing
// one get byte-identical answers but for the fresh messageId.
func TestNoSuchEndpointIsOneAnswer(t *testing.T) {
	links, view := twoHouseholds()
	x := newDirectives(links, view, &fakePeers{})
	for _, f := range []string{"report_state.json", "initiate_session.json", "initialize_streams.json", "session_disconnected.json"} {
		var answers []map[string]any
		for _, cam := range []string{"cam-garage", "cam-nosuchcam"} {
			out := send(t, x, fixture(t, f, map[string]string{"token": "tok-l-olga", "camera": cam, "session": "s", "sdp": `"v=0"`}))
			ev := out["event"].(map[string]any)
			delete(ev["header"].(map[string]any), "messageId")
			ev["endpoint"] = nil // names the camera asked for, as it must
			answers = append(answers, out)
		}
		if !reflect.DeepEqual(answers[0], answers[1]) || errorType(answers[0]) != errNoSuchEndpoint {
			t.Errorf("%s: foreign %v\nmissing %v", f, answers[0], answers[1])
		}
	}
}

func TestReportStateSaysConnectivity(t *testing.T) {
	links, view := twoHouseholds()
	x := newDirectives(links, view, nil)
	for cam, want := range map[string]string{"cam-porch": "OK", "cam-yard": "UNREACHABLE"} {
		out := send(t, x, fixture(t, "report_state.json", map[string]string{"token": "tok-l-olga", "camera": cam}))
		p := out["context"].(map[string]any)["properties"].([]any)[0].(map[string]any)
		if v := p["value"].(map[string]any)["value"]; v != want {
			t.Errorf("%s: connectivity %v, want %s", cam, v, want)
		}
	}
}

// TestWebRTCSessions: an offer is answered and kept under (link, session
// id); SessionDisconnected ends it for its own link only; the table is
// bounded; a re-offer under the same id replaces the session.
func TestWebRTCSessions(t *testing.T) {
	links, view := twoHouseholds()
	peers := &fakePeers{}
	x := newDirectives(links, view, peers)
	offer := func(tok, cam, session string) map[string]any {
		return send(t, x, fixture(t, "initiate_session.json", map[string]string{"token": tok, "camera": cam, "session": session, "sdp": `"v=0 offer"`}))
	}
	end := func(tok, cam, session string) {
		send(t, x, fixture(t, "session_disconnected.json", map[string]string{"token": tok, "camera": cam, "session": session}))
	}
	out := offer("tok-l-olga", "cam-porch", "s-1")
	if a := payload(out)["answer"].(map[string]any); a["value"] != "answer to v=0 offer" || a["format"] != "SDP" {
		t.Fatalf("answer %v", a)
	}
	if x.Sessions.Len() != 1 {
		t.Fatalf("%d sessions", x.Sessions.Len())
	}
	end("tok-l-bob", "cam-garage", "s-1") // bob's link names olga's session id
	if x.Sessions.Len() != 1 {
		t.Fatal("another link's SessionDisconnected ended olga's session")
	}
	end("tok-l-olga", "cam-porch", "s-1")
	waitFor(t, func() bool { return x.Sessions.Len() == 0 })
	select {
	case <-peers.views[0].done:
	default:
		t.Fatal("SessionDisconnected left the view running")
	}
	for i := range 4 {
		offer("tok-l-olga", "cam-porch", fmt.Sprint("s-", i))
	}
	if got := errorType(offer("tok-l-bob", "cam-garage", "s-9")); got != errRateLimit {
		t.Fatalf("a fifth session in a table of 4: %q", got)
	}
	offer("tok-l-olga", "cam-porch", "s-0") // re-offered: replaces
	waitFor(t, func() bool {
		select {
		case <-peers.views[1].done:
			return x.Sessions.Len() == 4
		default:
			return false
		}
	})
	peers.views[2].Close() // ended by itself (revoked, timed out, peer gone)
	waitFor(t, func() bool { return x.Sessions.Len() == 3 })
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	testkit.WaitFor(t, 2*time.Second, "the session table", func() error {
		if !ok() {
			return errors.New("not yet")
		}
		return nil
	})
}

func TestInitializeCameraStreams(t *testing.T) {
	links, view := twoHouseholds()
	x := newDirectives(links, view, nil)
	out := send(t, x, fixture(t, "initialize_streams.json", map[string]string{"token": "tok-l-olga", "camera": "cam-porch"}))
	p := payload(out)
	s := p["cameraStreams"].([]any)[0].(map[string]any)
	if s["uri"] != "https://vigil.example/api/cameras/cam-porch/hls/index.m3u8?token=st-l-olga-cam-porch" ||
		fmt.Sprint(s["resolution"]) != "map[height:480 width:640]" || s["protocol"] != "HLS" ||
		p["imageUri"] != "https://vigil.example/api/cameras/cam-porch/still.jpg?token=st-l-olga-cam-porch" {
		t.Fatalf("%v", p)
	}
}

func TestBadBodies(t *testing.T) {
	links, view := twoHouseholds()
	x := newDirectives(links, view, nil)
	for _, body := range []string{"", "{", `{"directive":{}}`, strings.Repeat("[", 100000),
		`{"directive":{"header":{"namespace":"Alexa.PowerController","name":"TurnOn","payloadVersion":"3","messageId":"m"},"endpoint":{"scope":{"type":"BearerToken","token":"tok-l-olga"},"endpointId":"cam-porch"},"payload":{}}}`} {
		rec := httptest.NewRecorder()
		x.ServeHTTP(rec, httptest.NewRequest("POST", "/alexa/directive", strings.NewReader(body)))
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || errorType(out) != errInvalidDirective {
			t.Errorf("body %.30q: %d %s", body, rec.Code, rec.Body)
		}
	}
}

// FuzzDirectives: any body gets a JSON event, never a panic, and a stream
// or answer for bob's garage never reaches olga's token.
func FuzzDirectives(f *testing.F) {
	for _, name := range []string{"discover.json", "accept_grant.json", "report_state.json", "initiate_session.json",
		"session_connected.json", "session_disconnected.json", "initialize_streams.json"} {
		f.Add(fixture(f, name, map[string]string{"token": "tok-l-olga", "camera": "cam-garage", "session": "s", "sdp": `"v=0"`, "code": "c"}))
	}
	f.Fuzz(func(t *testing.T, body string) {
		links, view := twoHouseholds()
		x := newDirectives(links, view, &fakePeers{})
		rec := httptest.NewRecorder()
		x.ServeHTTP(rec, httptest.NewRequest("POST", "/alexa/directive", strings.NewReader(body)))
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out["event"] == nil {
			t.Fatalf("not an event: %q", rec.Body.String())
		}
		if s := rec.Body.String(); strings.Contains(s, "st-l-olga-cam-garage") || strings.Contains(s, "answer to") && strings.Contains(s, "cam-garage") {
			t.Fatalf("bob's garage through olga's link: %s", s)
		}
	})
}

// TestProxySecret: with a proxy secret set, a directive without it is
// refused before anything is read; with it, the token inside still decides.
func TestProxySecret(t *testing.T) {
	links, view := twoHouseholds()
	x := newDirectives(links, view, nil)
	x.ProxySecret = "proxy-secret-0123456789"
	body := fixture(t, "discover.json", map[string]string{"token": "tok-l-olga"})
	for header, want := range map[string]int{"": 403, "wrong": 403, "proxy-secret-0123456789": 200} {
		req := httptest.NewRequest("POST", "/alexa/directive", strings.NewReader(body))
		req.Header.Set("X-Vigil-Proxy-Secret", header)
		rec := httptest.NewRecorder()
		x.ServeHTTP(rec, req)
		if rec.Code != want || (want == 403 && strings.Contains(rec.Body.String(), "cam-porch")) {
			t.Errorf("secret %q: %d %s", header, rec.Code, rec.Body)
		}
	}
}

// TestRTSPSStreams: with RTSPS on the HTTPS port, Discover offers RTSP and
// InitializeCameraStreams answers it with an rtsps:// URL on port 443 of
// the public origin carrying the link's stream token, beside HLS; with it
// off, HLS alone.
func TestRTSPSStreams(t *testing.T) {
	links, view := twoHouseholds()
	for _, on := range []bool{false, true} {
		x := newDirectives(links, view, nil)
		x.RTSPS = on
		out := send(t, x, fixture(t, "initialize_streams.json", map[string]string{"token": "tok-l-olga", "camera": "cam-porch"}))
		var got []string
		for _, s := range payload(out)["cameraStreams"].([]any) {
			s := s.(map[string]any)
			got = append(got, s["protocol"].(string)+" "+s["uri"].(string))
		}
		want := []string{"HLS https://vigil.example/api/cameras/cam-porch/hls/index.m3u8?token=st-l-olga-cam-porch"}
		if on {
			want = append(want, "RTSP rtsps://vigil.example:443/cam-porch?token=st-l-olga-cam-porch")
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("RTSPS %v: streams %v, want %v", on, got, want)
		}
		disc, _ := json.Marshal(payload(send(t, x, fixture(t, "discover.json", map[string]string{"token": "tok-l-olga"}))))
		if strings.Contains(string(disc), `"RTSP"`) != on {
			t.Fatalf("RTSPS %v: Discover %s", on, disc)
		}
	}
}
