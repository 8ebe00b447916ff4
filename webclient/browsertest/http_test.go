package browsertest

import (
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/webclient"
)

// fetch GETs url with the given headers and returns the response and its
// (decompressed) body.
func fetch(t *testing.T, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	// a bare transport: no transparent gzip, so the encoding stays visible
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var r io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	body, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

// On a secure mesh both clients are served without a token, with ETag,
// 304 and gzip, while other routes still need one.
func TestClientsServedWithoutTokenOnSecureMesh(t *testing.T) {
	m := startMesh(t, meshOptions{secure: true})
	base := "http://" + m.Addr()
	for path, want := range map[string]*webclient.Asset{
		webclient.APIClientPath:     webclient.APIClient(),
		webclient.BrowserClientPath: webclient.BrowserClient(),
	} {
		res, body := fetch(t, base+path, map[string]string{"Accept-Encoding": "gzip, deflate"})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d (%s)", path, res.StatusCode, body)
		}
		if res.Header.Get("Content-Type") != "text/javascript" || res.Header.Get("Content-Encoding") != "gzip" ||
			res.Header.Get("ETag") != want.ETag() || res.Header.Get("Cache-Control") != "max-age=0" {
			t.Errorf("%s headers: %v", path, res.Header)
		}
		if body != string(want.Body()) {
			t.Errorf("%s: body is not the bundle", path)
		}
		res, body = fetch(t, base+path, map[string]string{"If-None-Match": res.Header.Get("ETag")})
		if res.StatusCode != http.StatusNotModified || body != "" {
			t.Errorf("%s with If-None-Match: %d, %d bytes", path, res.StatusCode, len(body))
		}
	}
	if res, _ := fetch(t, base+"/rest/describe", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("/rest/describe without a token: %d, want 401 (HTTP security is off?)", res.StatusCode)
	}
	// the mesh path of the api component's route is not excluded, as in happner
	if res, _ := fetch(t, base+"/browserMesh/api/client", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("/browserMesh/api/client without a token: %d, want 401", res.StatusCode)
	}
}

func TestBrowserClientServedWithoutTokenOnSecureHappn(t *testing.T) {
	srv := startHappn(t, happn.Config{Secure: true})
	res, body := fetch(t, "http://"+srv.Addr()+webclient.BrowserClientPath, nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/javascript" {
		t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if !strings.Contains(body, "root.HappnClient = HappnClient") {
		t.Error("not the happn client")
	}
	if res, _ := fetch(t, "http://"+srv.Addr()+webclient.APIClientPath, nil); res.StatusCode == http.StatusOK {
		t.Error("a plain happn server serves /api/client; only meshes do")
	}
}
