package browsertest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"

	"github.com/happner-go/happner/internal/headless"
)

// browser is the Chromium every test opens its tabs in; TestMain starts it.
var browser context.Context

func TestMain(m *testing.M) {
	os.Exit(headless.Run(m, &browser))
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
	t *testing.T
	*headless.Page
}

// openPage opens url in a new tab and waits for it to load; the tab closes
// when the test ends.
func openPage(t *testing.T, url string) *page {
	t.Helper()
	return &page{t, headless.Open(t, browser, url)}
}

// eval runs body as the body of an async function in the page and decodes
// what it returns into out (when out is not nil); an error fails the test.
func (p *page) eval(body string, out any) {
	p.t.Helper()
	p.Eval(body, out)
}

// try is eval returning the page's error instead of failing.
func (p *page) try(body string, out any) error { return p.Try(body, out) }

// waitFor polls the async function body until it returns true.
func (p *page) waitFor(what, body string) {
	p.t.Helper()
	p.WaitFor(what, body, 0)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
