package app

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"testing"
	"time"

	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// fetchSnapshot GETs a snapshot URL as Alexa does: the link's access token
// as the bearer.
func fetchSnapshot(t *testing.T, uri, bearer string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "image/jpeg, image/png")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestAlexaSnapshot: two households link; Discover declares the snapshot
// capability; GetSnapshot answers with a URL that opens, with olga's link
// token only, a JPEG whose block code is her porch's (read from the
// pixels, so the still cache served the right camera through its grant
// and egress check); bob's token, or none, gets nothing; when the porch
// is no longer the link's to show, the URL opens nothing.
func TestAlexaSnapshot(t *testing.T) {
	a := startApp(t, "", withOAuthClients)
	olgaPW, porch, garage := a.household(t)
	bobPW := a.addUser(t, "bob")
	shed := a.addCamera(t, "shed")
	claimFor(t, a, shed, "bob")
	a.runClaimed(t, porch, garage, shed)
	link := func(user, pw string, cams ...string) string {
		c := a.alexa(t)
		code, verifier := c.Link(user, pw, cams...)
		tok := c.Exchange(code, verifier)
		if tok.Status != 200 {
			t.Fatalf("exchange: %+v", tok)
		}
		return tok.AccessToken
	}
	olga, bob := link("olga", olgaPW, porch.ID), link("bob", bobPW, shed.ID)

	out := a.directive(t, "discover.json", "", map[string]string{"token": olga})
	if b := mustJSON(out); !bytes.Contains(b, []byte(`"interface":"Alexa.SmartVision.SnapshotProvider"`)) {
		t.Fatalf("Discover lacks the snapshot capability: %s", b)
	}
	var uri string
	testkit.WaitFor(t, 10*time.Second, "a snapshot URL for the porch", func() error {
		name, typ, p := alexaEvent(a.directive(t, "get_snapshot.json", "", map[string]string{"token": olga, "camera": porch.ID}))
		if name != "Alexa.SmartVision.SnapshotProvider/Snapshot" {
			return fmt.Errorf("GetSnapshot: %s %s", name, typ)
		}
		uri, _ = p["uri"].(string)
		return nil
	})
	code, body := fetchSnapshot(t, uri, olga)
	if code != 200 {
		t.Fatalf("the snapshot with olga's token: %d %s", code, body)
	}
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := sim.ReadCode(img); c != sim.CodeFor(porch.ID) {
		t.Fatalf("the snapshot's block code %x, want the porch's %x", c, sim.CodeFor(porch.ID))
	}
	for who, tok := range map[string]string{"bob": bob, "nobody": ""} {
		if code, _ := fetchSnapshot(t, uri, tok); code != map[string]int{"bob": 404, "nobody": 401}[who] {
			t.Fatalf("the snapshot with %s's token: %d", who, code)
		}
	}
	if _, typ, _ := alexaEvent(a.directive(t, "get_snapshot.json", "", map[string]string{"token": bob, "camera": porch.ID})); typ != "NO_SUCH_ENDPOINT" {
		t.Fatalf("bob's GetSnapshot of olga's porch: %s", typ)
	}
	// Olga releases the porch: the URL she was given opens nothing more.
	if code, body := a.call(t, "DELETE", "/api/cameras/"+porch.ID, "olga", olgaPW, nil); code != 200 {
		t.Fatalf("release: %d %s", code, body)
	}
	if code, _ := fetchSnapshot(t, uri, olga); code != 404 {
		t.Fatalf("the snapshot of a released camera: %d, want 404", code)
	}
}
