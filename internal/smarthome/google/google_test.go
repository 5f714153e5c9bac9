package google

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/smarthome/smarthometest"
)

// fakeLinks: bearer "tok-<link id>"; "expired" is expired.
type fakeLinks struct {
	mu     sync.Mutex
	links  map[string]Link
	closed []string
}

func (f *fakeLinks) Resolve(_ context.Context, bearer string) (Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return smarthometest.Resolve(f.links, bearer, ErrAuthExpired, ErrAuthFailure)
}

func (f *fakeLinks) Disconnect(_ context.Context, l Link) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.links, l.ID)
	f.closed = append(f.closed, l.ID)
	return nil
}

func (f *fakeLinks) list(context.Context) ([]Link, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Link
	for _, l := range f.links {
		out = append(out, l)
	}
	return out, nil
}

type fakeViewing struct{ *smarthometest.Homes }

func (f fakeViewing) StreamToken(_ context.Context, l Link, d access.DeviceID) (string, time.Time, error) {
	return "st-" + l.ID + "-" + string(d), time.Now().Add(time.Minute), nil
}

// twoHouseholds: olga's link exposes porch and yard (not shed); bob's
// exposes his garage.
func twoHouseholds() (*fakeLinks, fakeViewing) {
	links := &fakeLinks{links: map[string]Link{
		"l-olga": {ID: "l-olga", User: "u-olga", UserName: "olga", AgentUserID: "agent-olga",
			Devices: []access.DeviceID{"cam-porch", "cam-yard"}},
		"l-bob": {ID: "l-bob", User: "u-bob", UserName: "bob", AgentUserID: "agent-bob",
			Devices: []access.DeviceID{"cam-garage"}},
	}}
	view := fakeViewing{smarthometest.TwoHouseholds()}
	return links, view
}

func fixture(t *testing.T, name, camera, foreign string) string {
	t.Helper()
	return smarthometest.Fixture(t, name, map[string]string{"camera": camera, "foreign": foreign})
}

func call(t *testing.T, f http.Handler, bearer, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest("POST", "https://vigil.example/google/fulfillment", strings.NewReader(body))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("response is not JSON: %q", rec.Body.String())
	}
	return rec.Code, out
}

func newFulfillment(links Links, view Viewing) *Fulfillment {
	return &Fulfillment{Links: links, Viewing: view, BaseURL: "https://vigil.example", Logger: slog.New(slog.DiscardHandler)}
}

func TestSyncListsExactlyTheLinksCameras(t *testing.T) {
	links, view := twoHouseholds()
	f := newFulfillment(links, view)
	code, out := call(t, f, "tok-l-olga", fixture(t, "sync.json", "", ""))
	if code != 200 || out["requestId"] != "ff36a3cc-ec34-11e6-b1a0-64510650abcf" {
		t.Fatalf("%d %v", code, out)
	}
	p := out["payload"].(map[string]any)
	if p["agentUserId"] != "agent-olga" {
		t.Fatalf("agentUserId %v", p["agentUserId"])
	}
	devs := p["devices"].([]any)
	var ids []string
	for _, d := range devs {
		d := d.(map[string]any)
		ids = append(ids, d["id"].(string))
		attrs := d["attributes"].(map[string]any)
		if d["type"] != "action.devices.types.CAMERA" || d["traits"].([]any)[0] != "action.devices.traits.CameraStream" ||
			attrs["cameraStreamNeedAuthToken"] != true || len(attrs["cameraStreamSupportedProtocols"].([]any)) == 0 {
			t.Errorf("device shape: %v", d)
		}
	}
	if strings.Join(ids, ",") != "cam-porch,cam-yard" {
		t.Fatalf("SYNC listed %v, want the two exposed cameras (not the shed, not bob's garage)", ids)
	}
	// A share revoked since linking: the camera leaves SYNC.
	view.SetCameras("u-olga", Camera{ID: "cam-yard", Name: "Yard"}, Camera{ID: "cam-shed", Name: "Shed"})
	_, out = call(t, f, "tok-l-olga", fixture(t, "sync.json", "", ""))
	if n := len(out["payload"].(map[string]any)["devices"].([]any)); n != 1 {
		t.Fatalf("after losing the porch: %d devices", n)
	}
}

func TestQueryReportsOnlineAndRefusesForeignDevices(t *testing.T) {
	links, view := twoHouseholds()
	f := newFulfillment(links, view)
	_, out := call(t, f, "tok-l-olga", fixture(t, "query.json", "cam-porch", "cam-garage"))
	devs := out["payload"].(map[string]any)["devices"].(map[string]any)
	if d := devs["cam-porch"].(map[string]any); d["online"] != true || d["status"] != "SUCCESS" {
		t.Errorf("porch: %v", d)
	}
	if d := devs["cam-garage"].(map[string]any); d["errorCode"] != "deviceNotFound" || d["online"] == true {
		t.Errorf("bob's garage seen by olga's link: %v", d)
	}
	_, out = call(t, f, "tok-l-olga", fixture(t, "query.json", "cam-shed", "cam-yard"))
	devs = out["payload"].(map[string]any)["devices"].(map[string]any)
	if d := devs["cam-shed"].(map[string]any); d["errorCode"] != "deviceNotFound" {
		t.Errorf("a camera the link does not expose: %v", d)
	}
	if d := devs["cam-yard"].(map[string]any); d["online"] != false || d["status"] != "SUCCESS" {
		t.Errorf("offline yard: %v", d)
	}
}

func TestExecuteGetCameraStream(t *testing.T) {
	links, view := twoHouseholds()
	f := newFulfillment(links, view)
	cases := []struct {
		name, fixture, camera, bearer string
		protocol, errorCode, path     string
	}{
		{"hls preferred", "execute_hls.json", "cam-porch", "tok-l-olga", "hls", "", "/api/cameras/cam-porch/hls/index.m3u8"},
		{"no hls: progressive mp4", "execute_no_hls.json", "cam-porch", "tok-l-olga", "progressive_mp4", "", "/api/cameras/cam-porch/live.mp4"},
		{"webrtc only", "execute_webrtc_only.json", "cam-porch", "tok-l-olga", "", "notSupported", ""},
		{"other household", "execute_hls.json", "cam-garage", "tok-l-olga", "", "deviceNotFound", ""},
		{"not exposed", "execute_hls.json", "cam-shed", "tok-l-olga", "", "deviceNotFound", ""},
		{"offline", "execute_hls.json", "cam-yard", "tok-l-olga", "", "deviceOffline", ""},
		{"bob's own", "execute_hls.json", "cam-garage", "tok-l-bob", "hls", "", "/api/cameras/cam-garage/hls/index.m3u8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out := call(t, f, c.bearer, fixture(t, c.fixture, c.camera, ""))
			cmds := out["payload"].(map[string]any)["commands"].([]any)
			if code != 200 || len(cmds) != 1 {
				t.Fatalf("%d %v", code, out)
			}
			cmd := cmds[0].(map[string]any)
			if cmd["ids"].([]any)[0] != c.camera {
				t.Fatalf("ids %v", cmd["ids"])
			}
			if c.errorCode != "" {
				if cmd["status"] != "ERROR" || cmd["errorCode"] != c.errorCode || cmd["states"] != nil {
					t.Fatalf("want %s, got %v", c.errorCode, cmd)
				}
				return
			}
			st := cmd["states"].(map[string]any)
			u := st["cameraStreamAccessUrl"].(string)
			if cmd["status"] != "SUCCESS" || st["cameraStreamProtocol"] != c.protocol ||
				!strings.HasPrefix(u, "https://vigil.example"+c.path+"?token=") ||
				st["cameraStreamAuthToken"] == "" || !strings.Contains(u, st["cameraStreamAuthToken"].(string)) {
				t.Fatalf("states %v", st)
			}
		})
	}
}

func TestBadTokensAndBodies(t *testing.T) {
	links, view := twoHouseholds()
	f := newFulfillment(links, view)
	for bearer, want := range map[string]string{"": "authFailure", "forged": "authFailure", "expired": "authExpired"} {
		code, out := call(t, f, bearer, fixture(t, "sync.json", "", ""))
		if code != 401 || out["payload"].(map[string]any)["errorCode"] != want {
			t.Errorf("bearer %q: %d %v", bearer, code, out)
		}
	}
	for _, body := range []string{"", "{", `{"inputs":[]}`, strings.Repeat("[", 100000)} {
		if code, out := call(t, f, "tok-l-olga", body); code != 400 || out["payload"].(map[string]any)["errorCode"] != "protocolError" {
			t.Errorf("body %.20q: %d %v", body, code, out)
		}
	}
	_, out := call(t, f, "tok-l-olga", `{"requestId":"1","inputs":[{"intent":"action.devices.IDENTIFY"}]}`)
	if out["payload"].(map[string]any)["errorCode"] != "notSupported" {
		t.Errorf("unknown intent: %v", out)
	}
}

func TestDisconnectEndsTheLinkAndItsReports(t *testing.T) {
	links, view := twoHouseholds()
	rep, err := NewReporter(ReporterConfig{Logger: slog.New(slog.DiscardHandler), Links: links.list, Viewing: view,
		Token: func(context.Context) (string, error) { return "", nil }})
	if err != nil {
		t.Fatal(err)
	}
	f := newFulfillment(links, view)
	f.Reports = rep
	code, out := call(t, f, "tok-l-olga", fixture(t, "disconnect.json", "", ""))
	if code != 200 || len(out) != 0 {
		t.Fatalf("DISCONNECT: %d %v", code, out)
	}
	if len(links.closed) != 1 || links.closed[0] != "l-olga" || !rep.forgotten("agent-olga") {
		t.Fatalf("closed %v, forgotten %v", links.closed, rep.forgotten("agent-olga"))
	}
	if code, _ := call(t, f, "tok-l-olga", fixture(t, "sync.json", "", "")); code != 401 {
		t.Fatalf("the disconnected link still works: %d", code)
	}
	if code, _ := call(t, f, "tok-l-bob", fixture(t, "sync.json", "", "")); code != 200 {
		t.Fatalf("bob's link ended with olga's: %d", code)
	}
}

// FuzzFulfillment: any body and bearer get a JSON answer, never a panic.
func FuzzFulfillment(f *testing.F) {
	for _, name := range []string{"sync.json", "query.json", "execute_hls.json", "execute_no_hls.json", "execute_webrtc_only.json", "disconnect.json"} {
		b, _ := os.ReadFile("testdata/" + name)
		f.Add(strings.NewReplacer("{{camera}}", "cam-porch", "{{foreign}}", "cam-garage").Replace(string(b)), "tok-l-olga")
	}
	f.Fuzz(func(t *testing.T, body, bearer string) {
		links, view := twoHouseholds()
		ful := newFulfillment(links, view)
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+bearer)
		rec := httptest.NewRecorder()
		ful.ServeHTTP(rec, req)
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("not JSON: %q", rec.Body.String())
		}
		if rec.Code == 200 && strings.Contains(rec.Body.String(), "cam-garage") && bearer != "tok-l-bob" &&
			strings.Contains(rec.Body.String(), "token=") {
			t.Fatalf("a stream for bob's garage on another bearer: %s", rec.Body.String())
		}
	})
}

func TestExecuteWebRTCWhenTheDisplayAsksForIt(t *testing.T) {
	links, view := twoHouseholds()
	f := newFulfillment(links, view)
	f.WebRTC, f.ICEServers = true, `[{"urls":["stun:stun.example:3478"]}]`
	_, out := call(t, f, "tok-l-olga", fixture(t, "execute_webrtc_only.json", "cam-porch", ""))
	cmd := out["payload"].(map[string]any)["commands"].([]any)[0].(map[string]any)
	st, _ := cmd["states"].(map[string]any)
	if cmd["status"] != "SUCCESS" || st["cameraStreamProtocol"] != "webrtc" ||
		st["cameraStreamSignalingUrl"] != "https://vigil.example/api/cameras/cam-porch/google/webrtc" ||
		st["cameraStreamAuthToken"] != "st-l-olga-cam-porch" || st["cameraStreamIceServers"] != f.ICEServers ||
		st["cameraStreamAccessUrl"] != nil {
		t.Fatalf("webrtc EXECUTE: %v", cmd)
	}
	// HLS is still preferred when the display lists it.
	_, out = call(t, f, "tok-l-olga", fixture(t, "execute_hls.json", "cam-porch", ""))
	if p := out["payload"].(map[string]any)["commands"].([]any)[0].(map[string]any)["states"].(map[string]any)["cameraStreamProtocol"]; p != "hls" {
		t.Fatalf("protocol %v", p)
	}
	_, out = call(t, f, "tok-l-olga", fixture(t, "sync.json", "", ""))
	attrs := out["payload"].(map[string]any)["devices"].([]any)[0].(map[string]any)["attributes"].(map[string]any)
	if ps := attrs["cameraStreamSupportedProtocols"].([]any); len(ps) != 3 || ps[2] != "webrtc" {
		t.Fatalf("SYNC protocols %v", ps)
	}
}
