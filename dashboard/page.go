package dashboard

import (
	"embed"
	"net/http"
	"strings"
	"sync"

	"github.com/happner-go/happner/webclient"
)

// PagePath is where a node serves the dashboard page; its files are under
// PagePath + "/".
const PagePath = "/dashboard"

//go:embed assets
var assets embed.FS

// contentSecurity keeps the page to the node's own files and websocket:
// nothing is loaded from anywhere else.
const contentSecurity = "default-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"style-src 'self'; script-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"

// Handler serves the page at PagePath (and PagePath + "/") and its script
// and stylesheet under PagePath + "/", each with an ETag and gzipped when
// the browser accepts it. The page is public: its data needs a login on
// secure nodes. Mount it at both PagePath and PagePath + "/".
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, PagePath)
		if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
			http.NotFound(w, r)
			return
		}
		a := pageFiles()[strings.TrimPrefix(rest, "/")]
		if a == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", contentSecurity)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		a.ServeHTTP(w, r)
	})
}

// pageFiles are the page's files, prepared (ETag, gzip copy) on the
// first request of the process: they are constant, and compressing them
// at start cost every node a few milliseconds of CPU.
var pageFiles = sync.OnceValue(func() map[string]*webclient.Asset {
	return map[string]*webclient.Asset{
		"":              newAsset("index.html", "text/html; charset=utf-8"),
		"dashboard.js":  newAsset("dashboard.js", webclient.ContentTypeJavaScript),
		"dashboard.css": newAsset("dashboard.css", "text/css; charset=utf-8"),
	}
})

// newAsset reads an embedded file; the files are part of the binary, so
// a missing one is a build defect.
func newAsset(name, contentType string) *webclient.Asset {
	body, err := assets.ReadFile("assets/" + name)
	if err != nil {
		panic("dashboard: embedded file missing: " + name)
	}
	return webclient.NewAsset(contentType, body)
}
