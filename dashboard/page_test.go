package dashboard

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestHandlerServesThePageAndItsFiles(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		status       int
		contentType  string
		contains     string
	}{
		{"GET", "/dashboard", 200, "text/html", `<script src="/browser_client">`},
		{"GET", "/dashboard/", 200, "text/html", `<script src="/dashboard/dashboard.js"`},
		{"GET", "/dashboard/dashboard.js", 200, "text/javascript", NodesPath},
		{"GET", "/dashboard/dashboard.css", 200, "text/css", "@media"},
		{"HEAD", "/dashboard", 200, "text/html", ""},
		{"GET", "/dashboard/index.html", 404, "", ""},
		{"GET", "/dashboard/nothing.js", 404, "", ""},
		{"GET", "/dashboardx", 404, "", ""},
		{"POST", "/dashboard", 405, "", ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, res.StatusCode, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
			t.Errorf("%s %s: Content-Type %q, want %s", tc.method, tc.path, ct, tc.contentType)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%s %s: Content-Security-Policy %q", tc.method, tc.path, csp)
		}
		if res.Header.Get("ETag") == "" {
			t.Errorf("%s %s: no ETag", tc.method, tc.path)
		}
		if !strings.Contains(string(body), tc.contains) {
			t.Errorf("%s %s: the body lacks %q", tc.method, tc.path, tc.contains)
		}
	}
}

// The page loads nothing from anywhere but the node: no absolute URL, no
// protocol-relative one, in any of its files.
func TestPageHasNoExternalAsset(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:|wss?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(path)
		if err != nil {
			return err
		}
		if m := external.Find(body); m != nil {
			t.Errorf("%s refers to %s", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
