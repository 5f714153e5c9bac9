package app

import (
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestWebPageMP4ChoosesByThroughput: a page without WebRTC on a link
// Chromium throttles to 800 kbit/s + 150 ms measures that from its stills'
// downloads, and its MP4 fallback plays the sub stream and says so.
// (Unthrottled, it plays main: TestWebPage/blocked.)
func TestWebPageMP4ChoosesByThroughput(t *testing.T) {
	needChromium(t)
	a := startApp(t, "", nil)
	cam := runPair(t, a)
	pw := a.addUser(t, "olga")
	claimFor(t, a, cam, "olga")
	tab := startChromium(t)
	signIn(t, tab, a.url("/"), "olga", pw)
	blockWebRTC(t, tab)
	if _, err := chromedp.Call(tab, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	slow := network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: []*network.Conditions{
		{Latency: 150, DownloadThroughput: 100_000, UploadThroughput: -1}}}
	if _, err := chromedp.Call(tab, network.EmulateNetworkConditionsByRule, slow); err != nil {
		t.Fatal(err)
	}
	gridIDs(t, tab, 1)
	// The stills the page shows, fetched through the throttled link.
	for range 3 {
		if _, err := chromedp.Run(tab, chromedp.Evaluate[any](`loadStills()`)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(700 * time.Millisecond)
	}
	clickAndWait(t, tab, cam.ID)
	waitMode(t, tab, "sub")
	t.Logf("the page says: %s%s", pageText(t, tab, "#via"), pageText(t, tab, "#mode"))
}
