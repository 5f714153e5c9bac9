package alexa

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/internal/access"
)

// fakeStills serves "jpeg" and counts the stills served.
type fakeStills struct {
	mu     sync.Mutex
	served int
}

func (f *fakeStills) Still(context.Context, access.Grant, string) ([]byte, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.served++
	return []byte("jpeg"), time.Now(), nil
}

// snapshotRig is olga's and bob's links with snapshots on, at a clock the
// test moves.
func snapshotRig(t *testing.T) (*Directives, *fakeLinks, *fakeStills, *time.Time) {
	links, view := twoHouseholds()
	x := newDirectives(links, view, nil)
	now := time.Now()
	st := &fakeStills{}
	x.Snapshots = &Snapshots{Links: links, Viewing: view, Stills: st, Key: []byte(strings.Repeat("k", 32)),
		Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)}
	return x, links, st, &now
}

// fetch GETs a snapshot URL as Alexa does, with bearer as the token.
func fetch(t *testing.T, s *Snapshots, uri, bearer string) int {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /alexa/snapshot/{id}", s)
	req := httptest.NewRequest("GET", u.RequestURI(), nil)
	req.Header.Set("Accept", "image/jpeg, image/png")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code == 200 && (rec.Header().Get("Content-Type") != "image/jpeg" || rec.Body.String() != "jpeg") {
		t.Fatalf("snapshot served as %q: %q", rec.Header().Get("Content-Type"), rec.Body)
	}
	return rec.Code
}

func snapshotURI(t *testing.T, x *Directives, token, camera string) (string, map[string]any) {
	t.Helper()
	out := send(t, x, fixture(t, "get_snapshot.json", map[string]string{"token": token, "camera": camera}))
	uri, _ := payload(out)["uri"].(string)
	return uri, out
}

// TestDiscoverDeclaresSnapshots: the snapshot capability is in Discover
// when snapshots are served, at its interface version.
func TestDiscoverDeclaresSnapshots(t *testing.T) {
	x, _, _, _ := snapshotRig(t)
	out := send(t, x, fixture(t, "discover.json", map[string]string{"token": "tok-l-olga"}))
	b, _ := json.Marshal(payload(out)["endpoints"])
	if !strings.Contains(string(b), `"interface":"Alexa.SmartVision.SnapshotProvider","type":"AlexaInterface","version":"1.1"`) {
		t.Fatalf("Discover lacks the snapshot capability: %s", b)
	}
}

// TestSnapshotURL: GetSnapshot answers with a URL that only the link's own
// token opens, for ten minutes; then it is 410. Another household's token,
// no token, a forged URL or another camera's path open nothing, and
// another household's camera is NO_SUCH_ENDPOINT.
func TestSnapshotURL(t *testing.T) {
	x, links, st, now := snapshotRig(t)
	uri, out := snapshotURI(t, x, "tok-l-olga", "cam-porch")
	if eventName(out) != "Alexa.SmartVision.SnapshotProvider/Snapshot" || !strings.HasPrefix(uri, "https://vigil.example/alexa/snapshot/cam-porch?s=") {
		t.Fatalf("GetSnapshot: %v", out)
	}
	forged := strings.Replace(uri, "s=", "s=A", 1)
	other := strings.Replace(uri, "/cam-porch?", "/cam-garage?", 1)
	for _, c := range []struct {
		name, uri, bearer string
		want              int
	}{
		{"the link's token", uri, "tok-l-olga", 200},
		{"another household's token", uri, "tok-l-bob", 404},
		{"no token", uri, "", 401},
		{"a dead token", uri, "tok-l-gone", 401},
		{"forged", forged, "tok-l-olga", 404},
		{"another camera's path", other, "tok-l-olga", 404},
	} {
		if got := fetch(t, x.Snapshots, c.uri, c.bearer); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if st.served != 1 {
		t.Fatalf("%d stills served, want 1", st.served)
	}
	// Olga takes the porch off the link: its URL opens nothing more.
	l := links.links["l-olga"]
	links.links["l-olga"] = Link{ID: l.ID, User: l.User, UserName: l.UserName, Client: l.Client, Devices: []access.DeviceID{"cam-yard"}}
	if got := fetch(t, x.Snapshots, uri, "tok-l-olga"); got != http.StatusNotFound {
		t.Fatalf("the snapshot of a camera the link no longer exposes: %d, want 404", got)
	}
	links.links["l-olga"] = l
	*now = now.Add(snapshotTTL)
	if got := fetch(t, x.Snapshots, uri, "tok-l-olga"); got != http.StatusGone {
		t.Fatalf("an expired snapshot URL: %d, want 410", got)
	}
	if got := fetch(t, x.Snapshots, uri, "tok-l-bob"); got != http.StatusNotFound {
		t.Fatalf("an expired snapshot URL with another household's token: %d, want 404", got)
	}
	if _, out := snapshotURI(t, x, "tok-l-bob", "cam-porch"); errorType(out) != errNoSuchEndpoint {
		t.Fatalf("bob's GetSnapshot of olga's porch: %v", out)
	}
	if _, out := snapshotURI(t, x, "tok-l-olga", "cam-yard"); errorType(out) != errUnreachable {
		t.Fatalf("GetSnapshot of the offline yard: %v", out)
	}
}

// FuzzSnapshotURL: no signed parameter but a genuine one opens, and none
// panics.
func FuzzSnapshotURL(f *testing.F) {
	s := &Snapshots{Key: []byte(strings.Repeat("k", 32)), Now: time.Now}
	genuine := s.sign("l-olga|cam-porch|" + "4102444800")
	for _, seed := range []string{genuine, "", ".", "bC1vbGdh.", genuine + "x", strings.Replace(genuine, ".", "..", 1)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, signed string) {
		link, device, err := s.open(signed)
		if err == nil && (signed != genuine || link != "l-olga" || device != "cam-porch") {
			t.Fatalf("%q opened as %s %s", signed, link, device)
		}
	})
}
