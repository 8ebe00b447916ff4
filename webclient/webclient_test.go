package webclient

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, APIClientPath, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestAssetHeaders(t *testing.T) {
	a := APIClient()
	res := get(t, a, http.MethodGet, nil)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type": "text/javascript", "Cache-Control": "max-age=0", "ETag": a.ETag(), "Vary": "Accept-Encoding",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if res.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzipped without Accept-Encoding")
	}
	if !bytes.Equal(body, a.Body()) {
		t.Errorf("body differs from the asset")
	}
	for _, global := range []string{"window.Happner", "root.MeshClient = MeshClient", "root.HappnClient = HappnClient", "Happner.HappnerClient", "Happner.LightHappnerClient"} {
		if !bytes.Contains(body, []byte(strings.TrimPrefix(global, "window."))) {
			t.Errorf("bundle lacks %s", global)
		}
	}
	if !strings.HasPrefix(a.ETag(), `"`) || len(a.ETag()) != 34 {
		t.Errorf("ETag %q is not a quoted MD5", a.ETag())
	}
}

func TestAssetGzip(t *testing.T) {
	a := BrowserClient()
	res := get(t, a, http.MethodGet, map[string]string{"Accept-Encoding": "deflate, gzip;q=0.8"})
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, a.Body()) {
		t.Error("the gzipped body does not decompress to the asset")
	}
	compressed, _ := io.ReadAll(get(t, a, http.MethodGet, map[string]string{"Accept-Encoding": "gzip"}).Body)
	if len(compressed) >= len(a.Body())/2 {
		t.Errorf("gzip body is %d bytes for %d plain", len(compressed), len(a.Body()))
	}
	if res := get(t, a, http.MethodGet, map[string]string{"Accept-Encoding": "gzip;q=0, br"}); res.Header.Get("Content-Encoding") != "" {
		t.Error("gzipped although the request refused gzip (q=0)")
	}
}

func TestAssetNotModified(t *testing.T) {
	a := APIClient()
	bare := strings.Trim(a.ETag(), `"`)
	for _, inm := range []string{a.ETag(), "W/" + a.ETag(), bare, `"other", ` + a.ETag(), "*"} {
		res := get(t, a, http.MethodGet, map[string]string{"If-None-Match": inm})
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("If-None-Match %s: status %d with %d bytes, want 304 and none", inm, res.StatusCode, len(body))
		}
		if res.Header.Get("ETag") != a.ETag() {
			t.Errorf("304 without the ETag")
		}
	}
	if res := get(t, a, http.MethodGet, map[string]string{"If-None-Match": `"stale"`}); res.StatusCode != http.StatusOK {
		t.Errorf("a stale ETag got %d, want 200", res.StatusCode)
	}
}

func TestAssetMethods(t *testing.T) {
	a := BrowserClient()
	res := get(t, a, http.MethodHead, nil)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || len(body) != 0 || res.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", res.StatusCode, len(body), res.Header.Get("Content-Length"))
	}
	res = get(t, a, http.MethodPost, nil)
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
}

func TestAPIClientStartsWithTheHappnClient(t *testing.T) {
	if !bytes.HasPrefix(APIClient().Body(), BrowserClient().Body()) {
		t.Error("/api/client does not start with the happn client")
	}
	if BrowserClient() != BrowserClient() {
		t.Error("the bundle is prepared more than once")
	}
}

func TestNewAssetSmallBody(t *testing.T) {
	a := NewAsset("text/plain", []byte("x"))
	res := get(t, a, http.MethodGet, map[string]string{"Accept-Encoding": "gzip"})
	body, _ := io.ReadAll(res.Body)
	if res.Header.Get("Content-Encoding") != "" || string(body) != "x" || res.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("a body gzip cannot shrink is served plain: %q %q", res.Header.Get("Content-Encoding"), body)
	}
}
