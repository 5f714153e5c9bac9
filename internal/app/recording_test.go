package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vigil/internal/auth"
	"vigil/internal/blob/blobtest"
	"vigil/internal/config"
	"vigil/internal/datadir"
	"vigil/internal/household"
	"vigil/internal/record"
	"vigil/internal/sim"
	"vigil/internal/testkit"
)

// getRange GETs path as the admin with a Range header.
func (a *testApp) getRange(t *testing.T, path, rng string) (int, []byte) {
	t.Helper()
	return a.getRangeAs(t, path, rng, AdminName, adminPassword)
}

// getRangeAs GETs path as user with a Range header.
func (a *testApp) getRangeAs(t *testing.T, path, rng, user, pass string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", a.url(path), nil)
	req.SetBasicAuth(user, pass)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	return res.StatusCode, b.Bytes()
}

type timelineSpan struct {
	ID         int64     `json:"id"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	DurationMS int64     `json:"duration_ms"`
	Size       int64     `json:"size"`
	URL        string    `json:"url"`
}

// TestRecordingDownloadWithRange: with record on, a camera's stream is
// recorded; the timeline lists it; the MP4 downloads whole and by Range
// (the exact bytes in the middle, 416 past the end); ffmpeg reads it, and
// the stamps in it are that camera's only, captured within the span; a
// part cut by ?start and ?end plays too; another camera's path finds
// nothing of it.
func TestRecordingDownloadWithRange(t *testing.T) {
	needFFmpeg(t)
	a := startApp(t, "", func(c *config.Config) { c.Record, c.RecordSegment = true, 2*time.Second })
	cam, other := a.addCamera(t, "porch"), a.addCamera(t, "yard")
	cam.GOP = cam.FPS / 2
	a.run(t, cam, other)
	spans := a.recordedSpans(t, cam.ID)
	whole := checkDownload(t, a, spans[0], cam.ID)
	sp := spans[0]
	// A cut: from the middle of the span to its end.
	cut := sp.URL + "&start=" + sp.Start.Add(time.Duration(sp.DurationMS/2)*time.Millisecond).Format(time.RFC3339Nano)
	status, body := a.getRange(t, cut, "")
	if status != 200 || len(body) == 0 || len(body) >= len(whole) {
		t.Fatalf("a cut of the span: %d, %d bytes of %d", status, len(body), len(whole))
	}
	checkClip(t, body, cam.ID)
	// The HLS VOD playlist of the camera's recordings plays in ffmpeg,
	// which fetches the byte ranges it lists (with a stream token: ffmpeg
	// does not send Basic credentials on the byte-range requests of a
	// playlist); only the camera's stamps.
	code, tb := a.call(t, "POST", "/api/cameras/"+cam.ID+"/tokens", AdminName, adminPassword, map[string]any{})
	var tok struct{ Token string }
	if code != 200 || json.Unmarshal(tb, &tok) != nil || tok.Token == "" {
		t.Fatalf("token: %d %s", code, tb)
	}
	vod := a.url("/api/cameras/" + cam.ID + "/recordings/vod.m3u8?token=" + tok.Token)
	var out, stderr bytes.Buffer
	ff := exec.Command("ffmpeg", "-v", "error", "-i", vod, "-map", "0:v", "-c", "copy", "-f", "h264", "pipe:1")
	ff.Stdout, ff.Stderr = &out, &stderr
	if err := ff.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("ffmpeg plays the VOD playlist: %v: %s", err, stderr.String())
	}
	chk := sim.NewChecker(sim.StaticKeys(stampSecret))
	if err := chk.AnnexB(out.Bytes()); err != nil || chk.Counts()[cam.ID] == 0 || len(chk.Counts()) != 1 {
		t.Fatalf("stamps in the VOD: %v, %v; want %s's only", chk.Counts(), err, cam.ID)
	}
	// Through the other camera's path, the recording does not exist.
	wrong := strings.Replace(sp.URL, cam.ID, other.ID, 1)
	if status, _ = a.getRange(t, wrong, ""); status != 404 {
		t.Fatalf("camera %s's recording through %s's path: %d, want 404", cam.ID, other.ID, status)
	}
	if status, _ = a.getRange(t, "/api/cameras/"+cam.ID+"/recordings/"+strconv.Itoa(1<<30)+"/video.mp4", ""); status != 404 {
		t.Fatalf("a recording that does not exist: %d, want 404", status)
	}
	if got := metricSum(t, a, "vigil_isolation_violations_total"); got != 0 {
		t.Fatalf("%v isolation violations", got)
	}
}

// checkDownload downloads a span whole and by Range: the exact bytes in
// the middle, 416 past the end; ffmpeg reads it and finds only cam's
// stamps, captured within the span. It returns the file.
func checkDownload(t *testing.T, a *testApp, sp timelineSpan, cam string) []byte {
	t.Helper()
	return checkDownloadAs(t, a, sp, cam, AdminName, adminPassword)
}

// checkDownloadAs is checkDownload as user.
func checkDownloadAs(t *testing.T, a *testApp, sp timelineSpan, cam, user, pass string) []byte {
	t.Helper()
	status, whole := a.getRangeAs(t, sp.URL, "", user, pass)
	if status != 200 || int64(len(whole)) != sp.Size {
		t.Fatalf("download: %d, %d bytes; the timeline says %d", status, len(whole), sp.Size)
	}
	mid := len(whole) / 2
	status, part := a.getRangeAs(t, sp.URL, fmt.Sprintf("bytes=%d-%d", mid, mid+999), user, pass)
	if status != http.StatusPartialContent || !bytes.Equal(part, whole[mid:mid+1000]) {
		t.Fatalf("Range in the middle: %d, %d bytes, equal %v", status, len(part), bytes.Equal(part, whole[mid:min(len(whole), mid+1000)]))
	}
	if status, _ = a.getRangeAs(t, sp.URL, fmt.Sprintf("bytes=%d-", len(whole)), user, pass); status != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("Range past the end: %d, want 416", status)
	}
	times := checkClip(t, whole, cam)
	if times[0].Before(sp.Start.Add(-time.Second)) || times[len(times)-1].After(sp.End.Add(time.Second)) {
		t.Errorf("stamps from %v to %v, outside the span %v to %v", times[0], times[len(times)-1], sp.Start, sp.End)
	}
	return whole
}

// TestRecordingToS3: with record_store an S3-compatible bucket (s3rver, a
// real server), recordings are kept there and download as from disk.
func TestRecordingToS3(t *testing.T) {
	needFFmpeg(t)
	srv := blobtest.Servers[0]
	path, err := srv.Command()
	if err != nil {
		t.Fatalf("%s is missing (%v): run `make test`, which installs it", srv.Name, err)
	}
	endpoint := srv.Start(t, path)
	store := fmt.Sprintf("s3+http://%s:%s@%s/vigil-recordings", srv.Access, srv.Secret, endpoint)
	a := startApp(t, "", func(c *config.Config) {
		c.Record, c.RecordSegment, c.RecordStore = true, time.Second, config.Secret(store)
	})
	cam := a.addCamera(t, "porch")
	cam.GOP = cam.FPS / 2
	a.run(t, cam)
	spans := a.recordedSpans(t, cam.ID)
	checkDownload(t, a, spans[0], cam.ID)
	if entries, _ := os.ReadDir(filepath.Join(a.cfg.DataDir, "recordings")); len(entries) != 0 {
		t.Fatalf("recordings went to the data directory too: %v", entries)
	}
}

// checkClip has ffmpeg read an MP4 (an independent client): it must find
// video, and every stamp in it must be cam's. It returns the stamps' times.
func checkClip(t *testing.T, mp4 []byte, cam string) []time.Time {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(path, mp4, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", path, "-map", "0:v", "-c", "copy", "-f", "h264", "pipe:1")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("ffmpeg reads the clip: %v: %s", err, stderr.String())
	}
	chk := sim.NewChecker(sim.StaticKeys(stampSecret))
	if err := chk.AnnexB(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	if counts := chk.Counts(); len(counts) != 1 || counts[cam] == 0 || chk.Bad() != 0 {
		t.Fatalf("stamps in the clip: %v (bad %d); want %s's only", counts, chk.Bad(), cam)
	}
	return stampTimes(t, sim.SplitAnnexB(out.Bytes()))
}

// recordedSpans waits until the admin's timeline of cam lists a span.
func (a *testApp) recordedSpans(t *testing.T, cam string) []timelineSpan {
	t.Helper()
	return a.recordedN(t, cam, 1)
}

// recordedN waits until the admin's timeline of cam lists n spans.
func (a *testApp) recordedN(t *testing.T, cam string, n int) []timelineSpan {
	t.Helper()
	var spans []timelineSpan
	testkit.WaitFor(t, 30*time.Second, fmt.Sprintf("%d recorded spans", n), func() error {
		if spans = a.timelineOf(t, cam, AdminName, adminPassword); len(spans) < n {
			return fmt.Errorf("%d spans", len(spans))
		}
		return nil
	})
	return spans
}

// timelineOf is the camera's timeline as user sees it.
func (a *testApp) timelineOf(t *testing.T, cam, user, pass string) []timelineSpan {
	t.Helper()
	var out struct{ Spans []timelineSpan }
	a.listOf(t, "/api/cameras/"+cam+"/recordings", user, pass, &out)
	return out.Spans
}

// listOf GETs path's listing of all time as user into out.
func (a *testApp) listOf(t *testing.T, path, user, pass string, out any) {
	t.Helper()
	s, _, body := a.get(t, path+"?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", user, pass)
	if s != 200 {
		t.Fatalf("%s for %s: %d %s", path, user, s, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatal(err)
	}
}

// claimFresh gives cam a new claim code, which user claims through the
// API; it returns when the claim was asked for.
func (a *testApp) claimFresh(t *testing.T, cam *sim.Camera, user, pass string) time.Time {
	t.Helper()
	code, _ := auth.NewClaimCode()
	if err := a.store.ResetDevice(t.Context(), deviceID(cam), auth.ClaimHash(code)); err != nil {
		t.Fatal(err)
	}
	return a.claimAPI(t, cam, user, pass, code)
}

// releaseAPI has user release cam through the API and returns the new
// claim code.
func (a *testApp) releaseAPI(t *testing.T, cam *sim.Camera, user, pass string) string {
	t.Helper()
	s, b := a.call(t, "DELETE", "/api/cameras/"+cam.ID, user, pass, nil)
	var rel struct {
		Code string `json:"claim_code"`
	}
	if s != 200 || json.Unmarshal(b, &rel) != nil {
		t.Fatalf("release: %d %s", s, b)
	}
	return rel.Code
}

// TestRecordingsStayWithTheirEpoch: olga's camera is recorded; she
// releases it and sam claims it. Sam lists nothing recorded before his
// claim and fetches none of olga's recordings (404), nor does olga any
// more; what is recorded after the claim is sam's, and plays, with stamps
// captured after the claim only.
func TestRecordingsStayWithTheirEpoch(t *testing.T) {
	needFFmpeg(t)
	a := startApp(t, "", func(c *config.Config) { c.Record, c.RecordSegment = true, time.Second })
	cam := a.addCamera(t, "porch")
	cam.GOP = cam.FPS / 2
	a.run(t, cam)
	olga, sam := a.addUser(t, "olga"), a.addUser(t, "sam")
	a.claimFresh(t, cam, "olga", olga)
	var olgas []timelineSpan
	testkit.WaitFor(t, 20*time.Second, "a recording of olga's", func() error {
		if olgas = a.timelineOf(t, cam.ID, "olga", olga); len(olgas) == 0 {
			return errors.New("none yet")
		}
		return nil
	})
	if s, _, _ := a.get(t, olgas[0].URL, "olga", olga); s != 200 {
		t.Fatalf("olga's own recording: %d", s)
	}
	claimed := a.claimAPI(t, cam, "sam", sam, a.releaseAPI(t, cam, "olga", olga))
	for _, sp := range a.timelineOf(t, cam.ID, "sam", sam) {
		if sp.Start.Before(claimed) {
			t.Fatalf("sam lists a recording from %v, before his claim at %v", sp.Start, claimed)
		}
	}
	for _, sp := range olgas {
		if s, _, _ := a.get(t, sp.URL, "sam", sam); s != 404 {
			t.Fatalf("sam fetches olga's recording %d: %d, want 404", sp.ID, s)
		}
		if s, _, _ := a.get(t, sp.URL, "olga", olga); s != 404 {
			t.Fatalf("olga fetches her recording %d of a camera she sold: %d, want 404", sp.ID, s)
		}
	}
	var sams []timelineSpan
	testkit.WaitFor(t, 20*time.Second, "a recording of sam's", func() error {
		if sams = a.timelineOf(t, cam.ID, "sam", sam); len(sams) == 0 {
			return errors.New("none yet")
		}
		return nil
	})
	s, _, body := a.get(t, sams[0].URL, "sam", sam)
	if s != 200 {
		t.Fatalf("sam's recording: %d", s)
	}
	for _, st := range checkClip(t, body, cam.ID) {
		if st.Before(claimed) {
			t.Fatalf("sam's recording holds a frame captured %v before his claim", claimed.Sub(st))
		}
	}
	if got := metricSum(t, a, "vigil_isolation_violations_total"); got != 0 {
		t.Fatalf("%v isolation violations", got)
	}
}

// TestRetentionRuleThroughTheAPI: a camera's owner sets its retention
// rule (days, event days, bytes) and reads it back with the rule in
// force; retention then sweeps the camera by it, and a camera without a
// rule by record_retain, record_retain_events and record_retain_bytes; a
// lowered rule is shown waiting its grace period while the higher one
// stays in force; out-of-range values are refused; the camera's and the
// household's storage use are the owner's to read.
func TestRetentionRuleThroughTheAPI(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) {
		c.Record, c.RecordRetain, c.RecordRetainBytes, c.RecordRetainEvents, c.RecordQuota = true, 48*time.Hour, 1<<30, 96*time.Hour, 7<<30
	})
	cam, other := a.addCamera(t, "porch"), a.addCamera(t, "yard")
	olgaPW := a.addUser(t, "olga")
	petePW := a.addUser(t, "pete")
	claimFor(t, a, cam, "olga")
	path := "/api/cameras/" + cam.ID + "/retention"
	if code, body := a.call(t, "PUT", path, "olga", olgaPW, map[string]int64{"days": 30, "event_days": 60, "bytes": 5 << 30}); code != 200 {
		t.Fatalf("PUT retention: %d %s", code, body)
	}
	code, body := a.call(t, "GET", path, "olga", olgaPW, nil)
	want := `{"days":30,"event_days":60,"bytes":5368709120,"in_force":{"days":30,"event_days":60,"bytes":5368709120}}`
	if code != 200 || strings.TrimSpace(string(body)) != want {
		t.Fatalf("GET retention: %d %s, want %s", code, body, want)
	}
	for _, bad := range []map[string]int64{{"days": -1}, {"days": 3651}, {"bytes": -5}, {"event_days": 4000}} {
		if code, body := a.call(t, "PUT", path, "olga", olgaPW, bad); code != 400 {
			t.Errorf("PUT %v: %d %s, want 400", bad, code, body)
		}
	}
	for _, c := range []struct {
		cam  *sim.Camera
		want record.Rule
	}{
		{cam, record.Rule{Age: 30 * 24 * time.Hour, EventAge: 60 * 24 * time.Hour, Bytes: 5 << 30}},
		{other, record.Rule{Age: 48 * time.Hour, EventAge: 96 * time.Hour, Bytes: 1 << 30}},
	} {
		if rule, err := a.retention.Rule(t.Context(), deviceID(c.cam)); rule != c.want || err != nil {
			t.Errorf("%s's rule in the sweep: %+v, %v; want %+v", c.cam.ID, rule, err, c.want)
		}
	}

	code, body = a.call(t, "PUT", path, "olga", olgaPW, map[string]int64{"days": 3})
	if code != 200 || !strings.Contains(string(body), `"in_force":{"days":30,"event_days":60,"bytes":5368709120},"grace_until":"`) {
		t.Fatalf("a lowered rule: %d %s; want the rule before in force, with the grace period's end", code, body)
	}
	if rule, _ := a.retention.Rule(t.Context(), deviceID(cam)); rule.Age != 30*24*time.Hour {
		t.Errorf("the sweep's rule within the grace period: %+v; want 30 days", rule)
	}

	code, body = a.call(t, "GET", "/api/cameras/"+cam.ID+"/usage", "olga", olgaPW, nil)
	if want := `{"id":"` + cam.ID + `","bytes":0,"pinned_bytes":0}`; code != 200 || strings.TrimSpace(string(body)) != want {
		t.Errorf("camera usage: %d %s, want %s", code, body, want)
	}
	if code, _ := a.call(t, "GET", "/api/cameras/"+cam.ID+"/usage", "pete", petePW, nil); code != 404 {
		t.Errorf("another's camera usage: %d, want 404", code)
	}
	code, body = a.call(t, "GET", "/api/usage", "olga", olgaPW, nil)
	if want := `{"bytes":0,"pinned_bytes":0,"quota_bytes":7516192768,"cameras":[{"id":"` + cam.ID + `","name":"porch","bytes":0,"pinned_bytes":0}]}`; code != 200 || strings.TrimSpace(string(body)) != want {
		t.Errorf("household usage: %d %s, want %s", code, body, want)
	}
	if code, body := a.call(t, "GET", "/api/usage", "pete", petePW, nil); code != 200 || !strings.Contains(string(body), `"cameras":[]`) {
		t.Errorf("a household without cameras: %d %s", code, body)
	}
}

// TestRangedReadsAreOneViewingSession: a player reads a recording in many
// ranged requests (seeking, HLS byte ranges); the owner's access history
// shows one viewing session of it, not a line per request.
func TestRangedReadsAreOneViewingSession(t *testing.T) {
	a := startApp(t, "", func(c *config.Config) { c.Record, c.RecordSegment = true, time.Second })
	cam := a.addCamera(t, "porch")
	cam.GOP = cam.FPS / 2
	a.run(t, cam)
	olga := a.addUser(t, "olga")
	claimFor(t, a, cam, "olga")
	var spans []timelineSpan
	testkit.WaitFor(t, 20*time.Second, "a recording of olga's", func() error {
		if spans = a.timelineOf(t, cam.ID, "olga", olga); len(spans) == 0 {
			return errors.New("none yet")
		}
		return nil
	})
	sp := spans[0]
	for i := range 6 {
		req, _ := http.NewRequest("GET", a.url(sp.URL), nil)
		req.SetBasicAuth("olga", olga)
		off := sp.Size * int64(i) / 6
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+99))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusPartialContent {
			t.Fatalf("ranged read %d: %d", i, res.StatusCode)
		}
	}
	s, b := a.call(t, "GET", "/api/cameras/"+cam.ID+"/access", "olga", olga, nil)
	var h []household.AccessView
	if s != 200 || json.Unmarshal(b, &h) != nil {
		t.Fatalf("history: %d %s", s, b)
	}
	n := 0
	for _, v := range h {
		if v.Output == "recording" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("six ranged reads of one recording: %d history lines of output recording, want 1: %+v", n, h)
	}
}

// clipOfThree runs a Vigil recording in 1 s segments and a camera of
// half-second GOPs until three recordings are made, and returns the path
// of clip.mp4 over them.
func clipOfThree(t *testing.T) (*testApp, *sim.Camera, []timelineSpan, string) {
	t.Helper()
	a := startApp(t, "", func(c *config.Config) { c.Record, c.RecordSegment = true, time.Second })
	cam := a.addCamera(t, "porch")
	cam.GOP = cam.FPS / 2
	a.run(t, cam)
	spans := a.recordedN(t, cam.ID, 3)
	path := "/api/cameras/" + cam.ID + "/recordings/clip.mp4?from=" + spans[0].Start.Format(time.RFC3339Nano) + "&to=" + spans[2].End.Format(time.RFC3339Nano)
	return a, cam, spans, strings.ReplaceAll(path, "+", "%2B")
}

// TestClipAcrossSegments: clip.mp4 over a span that crosses recordings'
// boundaries is one MP4 file: it downloads whole and by Range (the exact
// bytes in the middle, 416 past the end), ffmpeg reads the camera's
// stamps only, captured within the span, and it lasts the span (not one
// recording's length).
func TestClipAcrossSegments(t *testing.T) {
	needFFmpeg(t)
	a, cam, spans, path := clipOfThree(t)
	from, to := spans[0].Start, spans[2].End
	status, whole := a.getRange(t, path, "")
	if status != 200 {
		t.Fatalf("clip.mp4: %d %s", status, whole)
	}
	whole = checkDownload(t, a, timelineSpan{URL: path, Size: int64(len(whole)), Start: from, End: to}, cam.ID)
	times := checkClip(t, whole, cam.ID)
	if lasts, want := times[len(times)-1].Sub(times[0]), to.Sub(from)-time.Second; lasts < want {
		t.Fatalf("the clip's stamps span %v; the three recordings %v", lasts, to.Sub(from))
	}
}

// TestClipOverAMissingRecordingIsRefused: clip.mp4 over three recordings,
// once served (the recordings' init segments remembered, so a join opens
// only what it reads), is refused with a clean 404 and a clear message
// when the middle recording's object has gone — not answered 200 and cut
// short where that recording's bytes should be. A Range request opens
// only what it reaches: one inside the first recording is served, one
// starting in the missing recording gets the clean 404, and one that
// crosses into it from the first ends short (the connection closed) after
// the first recording's bytes, never padded or filled with other bytes.
func TestClipOverAMissingRecordingIsRefused(t *testing.T) {
	a, cam, spans, path := clipOfThree(t)
	status, whole := a.getRange(t, path, "")
	if status != 200 {
		t.Fatalf("clip.mp4: %d %s", status, whole)
	}
	objs, err := filepath.Glob(filepath.Join(a.cfg.DataDir, datadir.RecordingsDir, "rec", cam.ID, "main",
		fmt.Sprintf("%d-*.seg", spans[1].Start.UnixNano())))
	if err != nil || len(objs) != 1 {
		t.Fatalf("the middle recording's object: %v, %v", objs, err)
	}
	if err := os.Remove(objs[0]); err != nil {
		t.Fatal(err)
	}
	status, body := a.getRange(t, path, "")
	if status != http.StatusNotFound || !strings.Contains(string(body), "missing or damaged") {
		t.Fatalf("clip.mp4 over a missing recording: %d, %d bytes (%.80q); want 404 saying it is missing or damaged", status, len(body), body)
	}
	second := spans[0].Size // the first recording whole, its init segment first, then the middle one's fragments
	if status, body := a.getRange(t, path, "bytes=100-199"); status != http.StatusPartialContent || !bytes.Equal(body, whole[100:200]) {
		t.Errorf("a range inside the first recording: %d, %d bytes; want 206 and its bytes", status, len(body))
	}
	status, body = a.getRange(t, path, fmt.Sprintf("bytes=%d-%d", second+10, second+1000))
	if status != http.StatusNotFound || !strings.Contains(string(body), "missing or damaged") || bytes.Contains(body, whole[second+10:second+40]) {
		t.Errorf("a range inside the missing recording: %d, %d bytes (%.80q); want 404 saying it is missing or damaged", status, len(body), body)
	}
	req, _ := http.NewRequest("GET", a.url(path), nil)
	req.SetBasicAuth(AdminName, adminPassword)
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", second-100, second+99))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got bytes.Buffer
	_, err = got.ReadFrom(res.Body)
	if res.StatusCode != http.StatusPartialContent || err == nil || !bytes.Equal(got.Bytes(), whole[second-100:second]) {
		t.Errorf("a range from the first recording into the missing one: %d, %d bytes (%v); want 206, the first's 100 bytes, then the connection closed",
			res.StatusCode, got.Len(), err)
	}
}
