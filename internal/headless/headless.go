// Package headless starts the headless Chromium that the browser tests
// (webclient/browsertest, dashboard/browsertest) drive over the DevTools
// protocol with github.com/chromedp/chromedp, and opens tabs in it.
//
// Chromium is looked up as $HAPPNER_CHROMIUM, then chromium,
// chromium-browser, google-chrome and google-chrome-stable on the PATH.
// Without it the tests fail, never skip: scripts/install-chromium.sh
// installs Debian's chromium package.
package headless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Find returns the browser to drive.
func Find() (string, error) {
	if p := os.Getenv("HAPPNER_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium found (install Debian's chromium package, or set HAPPNER_CHROMIUM)")
}

// Run starts Chromium, runs m's tests with browser set to it and returns
// their exit code (1, with the reason on stderr, when Chromium cannot
// start). Call it from TestMain: os.Exit(headless.Run(m, &browser)).
func Run(m *testing.M, browser *context.Context) int {
	path, err := Find()
	if err != nil {
		fmt.Fprintln(os.Stderr, "headless:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "happner-headless-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "headless:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(dir),
		// this machine's network is closed: no background connections
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "headless: starting %s: %v\n", path, err)
		return 1
	}
	*browser = ctx
	return m.Run()
}

// Page is one browser tab, in its own browser context (own cookies).
type Page struct {
	t testing.TB
	// Ctx runs chromedp actions in the tab.
	Ctx context.Context
}

// Open opens url in a new tab of browser, after running setup (such as
// chromedp.EmulateViewport) in it, and waits for the page to load. The
// page's console and exceptions go to the test log; the tab closes when
// the test ends.
func Open(t testing.TB, browser context.Context, url string, setup ...chromedp.Action[chromedp.Void]) *Page {
	t.Helper()
	tab, cancelTab := chromedp.NewContext(browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range ev.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			t.Logf("console.%s: %s", ev.Type, strings.Join(parts, " "))
		case *runtime.EventExceptionThrown:
			t.Logf("page exception: %v", &chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails})
		}
	}))
	ctx, cancel := context.WithTimeout(tab, 2*time.Minute)
	t.Cleanup(func() {
		cancel()
		cancelTab()
	})
	actions := append(append([]chromedp.Action[chromedp.Void](nil), setup...), chromedp.Navigate(url), chromedp.WaitReady("body"))
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	return &Page{t: t, Ctx: ctx}
}

// Eval runs body as the body of an async function in the page and decodes
// what it returns into out (when out is not nil). A thrown error or a
// rejected promise fails the test.
func (p *Page) Eval(body string, out any) {
	p.t.Helper()
	if err := p.Try(body, out); err != nil {
		p.t.Fatalf("in the page: %v\n--- script:\n%s", err, body)
	}
}

// Try is Eval returning the page's error instead of failing.
func (p *Page) Try(body string, out any) error {
	expr := "(async () => {\n" + body + "\n})().then((v) => JSON.stringify(v === undefined ? null : v))"
	text, err := chromedp.Run(p.Ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal([]byte(text), out)
}

// WaitFor polls the async function body until it returns true, for at
// most within (20 s when 0).
func (p *Page) WaitFor(what, body string, within time.Duration) {
	p.t.Helper()
	if within <= 0 {
		within = 20 * time.Second
	}
	deadline := time.Now().Add(within)
	for {
		var ok bool
		if err := p.Try(body, &ok); err != nil {
			p.t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
