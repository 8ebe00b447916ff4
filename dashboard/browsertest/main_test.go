package browsertest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/happner-go/happner/internal/headless"
)

// browser is the Chromium every test opens its tabs in; TestMain starts it.
var browser context.Context

func TestMain(m *testing.M) {
	os.Exit(headless.Run(m, &browser))
}

// quiet discards the nodes' logs.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Viewports the page must be usable at.
var (
	desktop = chromedp.EmulateViewport(1280, 800)
	phone   = chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)
)

// screenshotDir is where screenshots go: $HAPPNER_WRITE_SCREENSHOTS, or a
// directory of the test's own.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("HAPPNER_WRITE_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// screenshot writes what the tab shows to dir/name and checks that it is
// a PNG image.
func screenshot(t *testing.T, p *headless.Page, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(p.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if len(png) < 1000 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot %s: not a PNG image (%d bytes)", name, len(png))
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", path, len(png))
}

// noHorizontalScroll fails when the page is wider than the viewport.
func noHorizontalScroll(t *testing.T, p *headless.Page) {
	t.Helper()
	var widths []int
	p.Eval(`return [document.documentElement.scrollWidth, window.innerWidth];`, &widths)
	if len(widths) != 2 || widths[0] > widths[1] {
		t.Errorf("the page scrolls sideways: content %v px wide in a %v px viewport", widths[0], widths[1])
	}
}
