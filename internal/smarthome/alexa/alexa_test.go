package alexa

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
	"vigil/internal/smarthome/smarthometest"
	"vigil/internal/webrtc"
)

// fakeLinks: token "tok-<link id>"; "expired" is expired.
type fakeLinks struct{ links map[string]Link }

func (f *fakeLinks) Resolve(_ context.Context, tok string) (Link, error) {
	return smarthometest.Resolve(f.links, tok, ErrAuthExpired, ErrAuthFailure)
}

// fakeViewing is the two households with what their cameras send.
type fakeViewing struct {
	*smarthometest.Homes
	pictures map[access.DeviceID]Picture
}

func (f *fakeViewing) Picture(_ context.Context, _ Link, d access.DeviceID) (Picture, error) {
	p, ok := f.pictures[d]
	if !ok || !f.Online(d) {
		return Picture{}, context.DeadlineExceeded
	}
	return p, nil
}

func (f *fakeViewing) StreamToken(_ context.Context, l Link, d access.DeviceID) (string, time.Time, error) {
	return "st-" + l.ID + "-" + string(d), time.Now().Add(10 * time.Minute), nil
}

func (f *fakeViewing) Grant(context.Context, Link, access.DeviceID) (access.Grant, error) {
	return access.Grant{}, nil
}

type fakeView struct {
	answer string
	done   chan struct{}
	once   sync.Once
}

func (v *fakeView) Answer() string        { return v.answer }
func (v *fakeView) Done() <-chan struct{} { return v.done }
func (v *fakeView) Close()                { v.once.Do(func() { close(v.done) }) }

// fakePeers answers every offer, except for an H.265 camera's.
type fakePeers struct {
	mu    sync.Mutex
	views []*fakeView
	h265  bool
}

func (f *fakePeers) Watch(_ *http.Request, _ access.Grant, _ access.StreamID, sdp string) (View, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h265 {
		return nil, webrtc.ErrCodec
	}
	v := &fakeView{answer: "answer to " + sdp, done: make(chan struct{})}
	f.views = append(f.views, v)
	return v, nil
}

// twoHouseholds: olga's link exposes porch and yard (not shed); bob's his
// garage. The yard is offline.
func twoHouseholds() (*fakeLinks, *fakeViewing) {
	links := &fakeLinks{links: map[string]Link{
		"l-olga": {ID: "l-olga", User: "u-olga", UserName: "olga", Client: "alexa", Devices: []access.DeviceID{"cam-porch", "cam-yard"}},
		"l-bob":  {ID: "l-bob", User: "u-bob", UserName: "bob", Client: "alexa", Devices: []access.DeviceID{"cam-garage"}},
	}}
	view := &fakeViewing{Homes: smarthometest.TwoHouseholds(),
		pictures: map[access.DeviceID]Picture{"cam-porch": {"H264", "AAC", 640, 480}, "cam-garage": {"H264", "", 1920, 1080}}}
	return links, view
}

func newDirectives(links Links, view Viewing, peers Peers) *Directives {
	return &Directives{Links: links, Viewing: view, Peers: peers, Sessions: NewSessions(4),
		BaseURL: "https://vigil.example", Logger: slog.New(slog.DiscardHandler)}
}

// fixture reads a directive from testdata with its placeholders filled.
func fixture(t testing.TB, name string, vars map[string]string) string {
	return smarthometest.Fixture(t, name, vars)
}

// send posts a directive, holds the response to the field rules and
// returns it decoded.
func send(t *testing.T, h http.Handler, body string) map[string]any {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "https://vigil.example/alexa/directive", strings.NewReader(body)))
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	if bad := checkResponse([]byte(body), rec.Body.Bytes()); len(bad) > 0 {
		t.Fatalf("response breaks the field rules: %v\n%s", bad, rec.Body)
	}
	var out map[string]any
	json.Unmarshal(rec.Body.Bytes(), &out)
	return out
}

func eventName(out map[string]any) string {
	h := out["event"].(map[string]any)["header"].(map[string]any)
	return h["namespace"].(string) + "/" + h["name"].(string)
}

func payload(out map[string]any) map[string]any {
	return out["event"].(map[string]any)["payload"].(map[string]any)
}

func errorType(out map[string]any) string {
	if !strings.HasSuffix(eventName(out), "/ErrorResponse") {
		return ""
	}
	return payload(out)["type"].(string)
}
