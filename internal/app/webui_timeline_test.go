package app

import (
	"context"
	"fmt"
	"image/color"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vigil/internal/config"
	"vigil/internal/testkit"
)

// rangeLog is a proxy in front of the app that notes the Range headers of
// the recordings' MP4 requests.
type rangeLog struct {
	mu     sync.Mutex
	ranges []string // guarded by mu
}

func (l *rangeLog) proxy(t *testing.T, a *testApp) *httptest.Server {
	t.Helper()
	target, _ := url.Parse(a.url("/"))
	p := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/recordings/") && strings.HasSuffix(r.URL.Path, ".mp4") {
			l.mu.Lock()
			l.ranges = append(l.ranges, r.Header.Get("Range"))
			l.mu.Unlock()
		}
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (l *rangeLog) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ranges...)
}

// pastState is the live view's video while it plays a recording.
type pastState struct {
	Src      string  `json:"src"`
	Ready    int     `json:"ready"`
	Paused   bool    `json:"paused"`
	Time     float64 `json:"time"`
	State    string  `json:"state"`
	Spans    int     `json:"spans"`
	Marks    int     `json:"marks"`
	ThumbW   int     `json:"thumbW"`
	Rendered bool    `json:"rendered"`
}

const pastStateJS = `(() => { const v = document.getElementById("video"); const img = document.querySelector("#events img");
	return {src: v.currentSrc || "", ready: v.readyState, paused: v.paused, time: v.currentTime,
		state: document.getElementById("state").dataset.state || "", spans: document.querySelectorAll("#timeline-track .span").length,
		marks: document.querySelectorAll("#timeline-track .mark").length, thumbW: img ? img.naturalWidth : 0,
		rendered: !document.getElementById("timeline-box").hidden}; })()`

// TestTimelinePlaysFromAClick: under olga's live view, the day's timeline
// shows her camera's recordings and its event (a marker, and a row with
// its thumbnail). A click on the timeline in the middle of a recording
// plays it from there: the browser seeks in the MP4 with Range requests,
// and the frame it shows is her camera's. The event's Play plays its clip;
// "Back to live" plays live again.
func TestTimelinePlaysFromAClick(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", func(c *config.Config) { c.Record, c.RecordSegment = true, 8*time.Second })
	cam := a.addCamera(t, "porch")
	cam.GOP = cam.FPS / 2
	a.run(t, cam)
	pw := a.addUser(t, "olga")
	claimFor(t, a, cam, "olga")
	if s, _ := a.markEvent(t, cam.ID, cam.ID, cameraPassword(cam), map[string]any{"kind": "person",
		"thumbnail": plainJPEG(t, color.RGBA{B: 200, A: 255})}); s != 201 {
		t.Fatalf("event: %d", s)
	}
	var spans []timelineSpan
	testkit.WaitFor(t, 30*time.Second, "two recordings of olga's", func() error {
		if spans = a.timelineOf(t, cam.ID, "olga", pw); len(spans) < 2 {
			return fmt.Errorf("%d spans", len(spans))
		}
		return nil
	})
	var log rangeLog
	srv := log.proxy(t, a)
	tab := startChromium(t)
	signIn(t, tab, srv.URL+"/", "olga", pw)
	gridIDs(t, tab, 1)
	live, _ := play(t, tab, cam.ID)
	state := func() pastState {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.Evaluate[pastState](pastStateJS))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	testkit.WaitFor(t, 10*time.Second, "the timeline", func() error {
		if s := state(); !s.Rendered || s.Spans < 2 || s.Marks != 1 || s.ThumbW == 0 {
			return fmt.Errorf("%+v", s)
		}
		return nil
	})
	look(t, tab, "timeline-desktop", 1280, 900, "light")
	look(t, tab, "timeline-phone", 390, 844, "dark")

	// A click near the end of the first recording, at a whole pixel (of
	// three seconds): the page says the instant it stands for.
	sp := spans[0]
	at := sp.End.Add(-time.Second)
	click := fmt.Sprintf(`(() => { const tr = document.getElementById("timeline-track"); const r = tr.getBoundingClientRect();
		const x = Math.trunc(r.left + xOf(%q));
		tr.dispatchEvent(new MouseEvent("click", {bubbles: true, clientX: x, clientY: r.top + 20}));
		return shown.day.getTime() + (x - r.left) / pxPerHour * 3600e3; })()`, at.Format(time.RFC3339Nano))
	ms, err := chromedp.Run(tab, chromedp.Evaluate[float64](click))
	if err != nil {
		t.Fatal(err)
	}
	offset := max(0, time.UnixMilli(int64(ms)).Sub(sp.Start).Seconds())
	var s pastState
	testkit.WaitFor(t, 15*time.Second, "the recording playing from the click", func() error {
		s = state()
		if !strings.Contains(s.Src, "/recordings/clip.mp4?") || !strings.Contains(s.Src, url.QueryEscape(sp.Start.Format(time.RFC3339Nano))) ||
			s.State != "recorded" || s.Ready < 2 || s.Paused || s.Time < offset-0.1 {
			return fmt.Errorf("%+v, want recordings from %d, at %.2f s", s, sp.ID, offset)
		}
		return nil
	})
	if s.Time > offset+3 {
		t.Errorf("plays from %.2f s, clicked at %.2f s", s.Time, offset)
	}
	// Playing on crosses into the next recording.
	first := float64(sp.DurationMS) / 1000
	testkit.WaitFor(t, 10*time.Second, "playback past the first recording's end", func() error {
		if s = state(); s.Time < first+1 || s.Paused {
			return fmt.Errorf("%+v; the first recording lasts %.2f s", s, first)
		}
		return nil
	})
	ranged := 0
	for _, r := range log.seen() {
		if strings.HasPrefix(r, "bytes=") {
			ranged++
		}
	}
	if ranged == 0 {
		t.Errorf("no Range request for the recording: %q", log.seen())
	}
	if code := pageCode(t, tab); code != live {
		t.Errorf("the recording shows block code %08x; the camera's is %08x", code, live)
	}

	// The event's Play plays its clip.
	before := s.Src
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#events li button"))); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 15*time.Second, "the event's clip playing", func() error {
		if s = state(); s.Src == before || !strings.Contains(s.Src, "/recordings/clip.mp4?") || s.Ready < 2 || s.Paused {
			return fmt.Errorf("%+v", s)
		}
		return nil
	})

	// The owner switches continuous recording of the main stream off.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("#continuous-main"))); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 5*time.Second, "continuous recording off", func() error {
		if c, err := a.store.Continuous(t.Context(), deviceID(cam)); err != nil || c.Main {
			return fmt.Errorf("%+v, %v", c, err)
		}
		return nil
	})

	// Back to live.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("#timeline-live"))); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, playTimeout, "the live view again", func() error {
		if s = state(); s.State != "live" {
			return fmt.Errorf("%+v", s)
		}
		return nil
	})
}

// pageCode reads the block code of the frame the live view's video shows.
func pageCode(t *testing.T, tab context.Context) uint32 {
	t.Helper()
	return videoCode(t, tab, pageFrameJS)
}
