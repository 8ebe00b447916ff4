package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browser is the Chromium every test opens its tabs in; TestMain starts it.
var browser context.Context

func TestMain(m *testing.M) {
	os.Exit(runWithBrowser(m))
}

func runWithBrowser(m *testing.M) int {
	path, err := findChromium()
	if err != nil {
		fmt.Fprintln(os.Stderr, "browsertest:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "happner-browsertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browsertest:", err)
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
		fmt.Fprintf(os.Stderr, "browsertest: starting %s: %v\n", path, err)
		return 1
	}
	browser = ctx
	return m.Run()
}

// findChromium returns the browser to drive.
func findChromium() (string, error) {
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

// quietLogger keeps the nodes' logs out of the test output unless they
// are warnings.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// pageHTML is a page that loads one client script.
func pageHTML(script string) string {
	return `<!doctype html><html><head><meta charset="utf-8"><title>happner-go browser test</title>` +
		`<script src="` + script + `"></script></head><body><p>browser test</p></body></html>`
}

// pageHandler serves pageHTML(script).
func pageHandler(script string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, pageHTML(script))
	}
}

// page is one browser tab, in its own browser context (own cookies).
type page struct {
	t   *testing.T
	ctx context.Context
}

// openPage opens url in a new tab and waits for it to load; the tab closes
// when the test ends.
func openPage(t *testing.T, url string) *page {
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
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	return &page{t: t, ctx: ctx}
}

// eval runs body as the body of an async function in the page and decodes
// what it returns into out (when out is not nil). A thrown error or a
// rejected promise fails the test.
func (p *page) eval(body string, out any) {
	p.t.Helper()
	if err := p.try(body, out); err != nil {
		p.t.Fatalf("in the page: %v\n--- script:\n%s", err, body)
	}
}

// try is eval returning the page's error instead of failing.
func (p *page) try(body string, out any) error {
	expr := "(async () => {\n" + body + "\n})().then((v) => JSON.stringify(v === undefined ? null : v))"
	text, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal([]byte(text), out)
}

// waitFor polls the async function body until it returns true.
func (p *page) waitFor(what, body string) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ok bool
		if err := p.try(body, &ok); err != nil {
			p.t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
