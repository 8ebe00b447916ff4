package webclient

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"embed"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// The paths nodes serve the clients at.
const (
	// BrowserClientPath serves [BrowserClient] on every happn server.
	BrowserClientPath = "/browser_client"
	// APIClientPath serves [APIClient] on every mesh.
	APIClientPath = "/api/client"
)

// ContentTypeJavaScript is the content type of the client bundles.
const ContentTypeJavaScript = "text/javascript"

//go:embed js/*.js
var scripts embed.FS

// Asset is an immutable file served from memory. Its ETag and its gzip
// copy are computed once, when it is made; serving it allocates nothing
// per request beyond the headers.
type Asset struct {
	contentType string
	body        []byte
	gzipped     []byte
	etag        string
}

// NewAsset prepares body to be served with contentType.
func NewAsset(contentType string, body []byte) *Asset {
	sum := md5.Sum(body)
	a := &Asset{contentType: contentType, body: body, etag: `"` + hex.EncodeToString(sum[:]) + `"`}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	_, _ = zw.Write(body)                                    // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	if buf.Len() < len(body) {
		a.gzipped = buf.Bytes()
	}
	return a
}

// Body returns the uncompressed content. It must not be modified.
func (a *Asset) Body() []byte { return a.body }

// ETag returns the asset's entity tag (a quoted MD5 of the content).
func (a *Asset) ETag() string { return a.etag }

// ContentType returns the Content-Type the asset is served with.
func (a *Asset) ContentType() string { return a.contentType }

// ServeHTTP answers GET and HEAD: 304 when If-None-Match names the ETag,
// else the content, gzipped when the request accepts gzip.
func (a *Asset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.Set("Cache-Control", "max-age=0")
	h.Set("ETag", a.etag)
	h.Set("Vary", "Accept-Encoding")
	if etagMatches(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	h.Set("Content-Type", a.contentType)
	if a.gzipped != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = a.gzipped
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// etagMatches reports whether an If-None-Match header names etag: "*", the
// quoted tag, its weak form, or the bare hash (happner-2 sends its ETag
// unquoted, so a browser may hold that form).
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	bare := strings.Trim(etag, `"`)
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if t == "*" || t == etag || t == bare {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip
// (present and not with q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.TrimSpace(name) != "*" {
			continue
		}
		q := strings.TrimSpace(params)
		if v, ok := strings.CutPrefix(q, "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f == 0 {
				return false
			}
		}
		return true
	}
	return false
}

func script(name string) []byte {
	b, err := scripts.ReadFile("js/" + name)
	if err != nil {
		panic("webclient: embedded script missing: " + name) // the embed pattern guarantees it
	}
	return b
}

// The bundles are immutable and shared by every node of a process.
var (
	browserClient = sync.OnceValue(func() *Asset {
		return NewAsset(ContentTypeJavaScript, script("happn-client.js"))
	})
	apiClient = sync.OnceValue(func() *Asset {
		var b bytes.Buffer
		b.Write(script("happn-client.js"))
		b.WriteString("\n")
		b.Write(script("happner-client.js"))
		return NewAsset(ContentTypeJavaScript, b.Bytes())
	})
)

// BrowserClient returns the happn browser client served at
// [BrowserClientPath]: window.HappnClient.
func BrowserClient() *Asset { return browserClient() }

// APIClient returns the mesh browser client served at [APIClientPath]:
// window.HappnClient, window.MeshClient and window.Happner.
func APIClient() *Asset { return apiClient() }
