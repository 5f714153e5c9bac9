// Package chromium starts the headless Chromium that Vigil's tests and
// cmd/vigilbench use as an independent client, and signs in to Vigil's
// owner page in it. It is for tests and tools: the server must not import
// it (that would link chromedp into bin/vigil).
package chromium

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/chromedp/chromedp"
)

// Path is where Debian (and scripts/deps.sh) puts Chromium.
const Path = "/usr/bin/chromium"

// Start starts a headless Chromium with a fresh profile in profileDir and
// returns a tab in it. Chromium's output, its own log included (media
// pipeline errors), goes to out, which a goroutine of chromedp writes.
// The browser lives until ctx ends or stop is called; stop closes it
// gracefully, waiting at most 10 s, then kills what is left and waits for
// it. Start it after the servers it talks to and stop it before them: a
// server's shutdown waits for the page's open streams. extra adds flags
// (a test's own certificate: chromedp.Flag("ignore-certificate-errors", true)).
func Start(ctx context.Context, profileDir string, out io.Writer, extra ...chromedp.ExecAllocatorOption) (tab context.Context, stop func() error, err error) {
	if _, err := os.Stat(Path); err != nil {
		return nil, nil, fmt.Errorf("chromium: %w (scripts/deps.sh installs it)", err)
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(ctx, append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path),
		chromedp.UserDataDir(profileDir),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers have a small /dev/shm
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("enable-logging", "stderr"),
		chromedp.CombinedOutput(out),
	}, extra...)...)
	tab, cancel := chromedp.NewContext(allocCtx)
	stop = func() error {
		closeCtx, closeCancel := context.WithTimeout(tab, 10*time.Second)
		err := chromedp.Cancel(closeCtx)
		closeCancel()
		cancel()
		allocCancel()
		return err
	}
	if err := chromedp.Do(tab); err != nil { // starts the browser
		stop()
		return nil, nil, fmt.Errorf("start chromium: %w", err)
	}
	return tab, stop, nil
}

// SignIn opens Vigil's owner page at pageURL in tab, fills its sign-in
// form and waits, at most 20 s, for the signed-in view.
func SignIn(tab context.Context, pageURL, user, password string) error {
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(pageURL),
		chromedp.WaitVisible(chromedp.ID("#login-name")),
		chromedp.SendKeys(chromedp.ID("#login-name"), user),
		chromedp.SendKeys(chromedp.ID("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("#home")),
	); err != nil {
		where, _ := chromedp.Run(tab, chromedp.Evaluate[string](`location.href + " " + document.getElementById("login-error").textContent`))
		return fmt.Errorf("sign in as %s: %w (page %s)", user, err, where)
	}
	return nil
}
