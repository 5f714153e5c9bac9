package alexa

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"vigil/internal/access"
)

// Alexa.SmartVision.SnapshotProvider 1.1. What Amazon's page (PROTOCOLS.md
// says to verify its names there) was available to us states: the
// interface name and version; the directive GetSnapshot (with
// preferOnDemandSnapshot in its payload, which we need not read: every
// snapshot is the camera's latest still); that Alexa GETs the URI with
// "Authorization: Bearer <access token>" (the link's own OAuth token) and
// Accept image/jpeg or image/png, follows no redirect, and retries
// GetSnapshot on a 410 when the URI has expired; ten minutes' validity;
// JPEG or PNG of at least 360 px on the short side. It did not show the
// response event's field names: we answer with the event name "Snapshot"
// and payload fields "uri" and "expirationTime", the names
// CameraStreamController uses for the same things (a URL and its end in
// RFC 3339), plus "snapshotTime" (the still's capture). They are kept in
// one place, here, to be checked against the live page before
// certification; testdata/get_snapshot.json is self-written from this.
const (
	snapshotInterface = "Alexa.SmartVision.SnapshotProvider"
	snapshotVersion   = "1.1"
	snapshotEvent     = "Snapshot"
)

// snapshotTTL is how long a snapshot URL opens (Amazon recommends ten
// minutes).
const snapshotTTL = 10 * time.Minute

// Stills serves a camera's latest still to a grant: the still cache's
// Get, whose egress check compares the still's device and capture time
// with the grant's, as for every still, and the access history's record.
type Stills interface {
	Still(ctx context.Context, g access.Grant, remote string) (jpeg []byte, captured time.Time, err error)
}

// Snapshots serves GET /alexa/snapshot/{id}?s=..., the URLs GetSnapshot
// answers with. A URL names its link, camera and expiry under an HMAC;
// only a request bearing that link's live access token opens it (Alexa
// sends the token as a bearer), and only while the link may still see
// the camera. An expired URL is 410 (Alexa asks for a new one); one that
// is forged, for another link or another camera is 404, as is a camera
// the link may no longer see; a missing or dead token is 401.
type Snapshots struct {
	Links   Links
	Viewing Viewing
	Stills  Stills
	// Key signs snapshot URLs; required, at least 32 bytes.
	Key []byte
	// Now defaults to time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

var _ http.Handler = (*Snapshots)(nil)

// url is the snapshot URL of a camera for a link, valid until expires.
func (s *Snapshots) url(origin string, link Link, device access.DeviceID, expires time.Time) string {
	body := strings.Join([]string{link.ID, string(device), strconv.FormatInt(expires.Unix(), 10)}, "|")
	return origin + "/alexa/snapshot/" + url.PathEscape(string(device)) + "?" + url.Values{"s": {s.sign(body)}}.Encode()
}

func (s *Snapshots) sign(body string) string {
	mac := hmac.New(sha256.New, s.Key)
	mac.Write([]byte("vigil alexa snapshot|" + body))
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(body)) + "." + enc.EncodeToString(mac.Sum(nil))
}

// errExpired: a genuine snapshot URL past its expiry.
var errExpired = errors.New("snapshot URL expired")

// open checks a URL's signature and returns the link and camera it names;
// errExpired when it is genuine but has expired.
func (s *Snapshots) open(signed string) (link string, device access.DeviceID, err error) {
	b64, _, ok := strings.Cut(signed, ".")
	body, err := base64.RawURLEncoding.DecodeString(b64)
	if !ok || err != nil || len(body) > 512 || !hmac.Equal([]byte(s.sign(string(body))), []byte(signed)) {
		return "", "", errors.New("snapshot URL forged or malformed")
	}
	f := strings.Split(string(body), "|")
	exp, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if len(f) != 3 || err != nil {
		return "", "", errors.New("snapshot URL malformed")
	}
	if !s.now().Before(time.Unix(exp, 0)) {
		return f[0], access.DeviceID(f[1]), errExpired
	}
	return f[0], access.DeviceID(f[1]), nil
}

func (s *Snapshots) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Snapshots) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code, err := s.serve(w, r)
	if err == nil {
		return
	}
	s.Logger.Info("alexa snapshot refused", "status", code, "error", err)
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
	}
	msg := map[int]string{http.StatusUnauthorized: "a live access token of the link is required",
		http.StatusGone:     "this snapshot URL has expired: ask for a new one (GetSnapshot)",
		http.StatusNotFound: "no such snapshot"}[code]
	if msg == "" {
		msg = "the snapshot is not available now"
	}
	http.Error(w, msg, code)
}

// serve writes the snapshot, or returns the status to answer and why.
func (s *Snapshots) serve(w http.ResponseWriter, r *http.Request) (int, error) {
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || bearer == "" {
		return http.StatusUnauthorized, errors.New("no bearer token")
	}
	link, err := s.Links.Resolve(r.Context(), bearer)
	if err != nil {
		return http.StatusUnauthorized, err
	}
	named, device, err := s.open(r.URL.Query().Get("s"))
	switch {
	case errors.Is(err, errExpired) && named == link.ID:
		return http.StatusGone, err
	case err != nil:
		return http.StatusNotFound, err
	case named != link.ID || string(device) != r.PathValue("id"):
		return http.StatusNotFound, fmt.Errorf("snapshot URL of link %s camera %s, asked by link %s for %s", named, device, link.ID, r.PathValue("id"))
	}
	if !slices.Contains(link.Devices, device) {
		return http.StatusNotFound, fmt.Errorf("link %s no longer exposes camera %s", link.ID, device)
	}
	g, err := s.Viewing.Grant(r.Context(), link, device) // the user may still see it
	if err != nil {
		return http.StatusNotFound, err
	}
	jpeg, captured, err := s.Stills.Still(r.Context(), g, r.RemoteAddr)
	if err != nil {
		return http.StatusServiceUnavailable, err
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Length", strconv.Itoa(len(jpeg)))
	h.Set("Last-Modified", captured.UTC().Format(http.TimeFormat))
	w.Write(jpeg)
	return http.StatusOK, nil
}

// getSnapshot answers GetSnapshot with a URL to the camera's latest still
// that only this link's token opens, for snapshotTTL.
func (x *Directives) getSnapshot(_ context.Context, c *call) (*response, error) {
	if x.Snapshots == nil {
		return nil, fail(errInvalidDirective, "snapshots are off on this server", nil)
	}
	if !x.Viewing.Online(c.camera.ID) {
		return nil, fail(errUnreachable, "the camera is offline", nil)
	}
	now := x.Snapshots.now()
	expires := now.Add(snapshotTTL)
	res := reply(c.d, snapshotInterface, snapshotEvent, map[string]string{
		"uri":            x.Snapshots.url(x.origin(c.r), c.link, c.camera.ID, expires),
		"expirationTime": expires.UTC().Format(time.RFC3339),
		"snapshotTime":   now.UTC().Format(time.RFC3339),
	})
	// Amazon: answer with the payload version of the interface answered.
	res.Event.Header.PayloadVersion = snapshotVersion
	return res, nil
}
