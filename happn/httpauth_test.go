package happn

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/happner-go/happner/happn/security"
)

func httpGet(t *testing.T, u string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestHTTPSecurity(t *testing.T) {
	srv := secureServer(t, Config{HTTPExclusions: []string{"/open/*"}})
	srv.Handle("/secure/route", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := HTTPSession(r.Context())
		_, _ = w.Write([]byte("hello " + sess.Username))
	}))
	srv.Handle("/open/page", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("open")) }))
	base := "http://" + srv.Addr()
	ctx := context.Background()
	if err := srv.Security().UpsertPermission(ctx, "readers", "/@HTTP/secure/*", "get", true); err != nil {
		t.Fatal(err)
	}

	// system routes and exclusions need no token
	if code, body := httpGet(t, base+"/ping", nil); code != 200 || body != "pong" {
		t.Fatalf("/ping: %d %s", code, body)
	}
	if code, body := httpGet(t, base+"/open/page", nil); code != 200 || body != "open" {
		t.Fatalf("excluded route: %d %s", code, body)
	}
	// no token
	if code, body := httpGet(t, base+"/secure/route", nil); code != 401 || body != "invalid token format or null token" {
		t.Fatalf("no token: %d %s", code, body)
	}
	// bad login
	code, body := httpGet(t, base+"/auth/login?username=alice&password=nope", nil)
	var res struct {
		Message string `json:"message"`
		Data    any    `json:"data"`
		Error   any    `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil || code != 401 || res.Message != "login failed" || res.Data != nil {
		t.Fatalf("bad login: %d %s", code, body)
	}
	// good login → token
	code, body = httpGet(t, base+"/auth/login?username=alice&password=secret", nil)
	if err := json.Unmarshal([]byte(body), &res); err != nil || code != 200 || res.Message != "login successful" {
		t.Fatalf("login: %d %s", code, body)
	}
	token := res.Data.(string)
	for name, h := range map[string]struct {
		url    string
		header http.Header
	}{
		"bearer": {base + "/secure/route", http.Header{"Authorization": {"Bearer " + token}}},
		"query":  {base + "/secure/route?happn_token=" + url.QueryEscape(token), nil},
		"cookie": {base + "/secure/route", http.Header{"Cookie": {"happn_token=" + token}}},
	} {
		if code, body := httpGet(t, h.url, h.header); code != 200 || body != "hello alice" {
			t.Fatalf("%s: %d %s", name, code, body)
		}
	}
	// a route alice has no permission for
	srv.Handle("/admin/panel", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if code, body := httpGet(t, base+"/admin/panel", http.Header{"Authorization": {"Bearer " + token}}); code != 403 || body != "unauthorized access to path /@HTTP/admin/panel" {
		t.Fatalf("forbidden: %d %s", code, body)
	}
	// logout over http is refused by default
	if code, body := httpGet(t, base+"/auth/logout", http.Header{"Authorization": {"Bearer " + token}}); code != 403 || body != "logouts over http are not allowed" {
		t.Fatalf("logout: %d %s", code, body)
	}
	// nonce
	code, body = httpGet(t, base+"/auth/request-nonce?publicKey=abc", nil)
	if err := json.Unmarshal([]byte(body), &res); err != nil || code != 200 || res.Message != "nonce generated" || res.Data == "" {
		t.Fatalf("nonce: %d %s", code, body)
	}
}

func TestHTTPLogoutRevokes(t *testing.T) {
	srv := secureServer(t, Config{Security: security.Config{AllowLogoutOverHTTP: true}})
	srv.Handle("/secure/route", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	base := "http://" + srv.Addr()
	_, body := httpGet(t, base+"/auth/login?username=_ADMIN&password=happn", nil)
	var res struct{ Data string }
	_ = json.Unmarshal([]byte(body), &res)
	auth := http.Header{"Authorization": {"Bearer " + res.Data}}
	if code, _ := httpGet(t, base+"/secure/route", auth); code != 200 {
		t.Fatalf("before logout: %d", code)
	}
	if code, body := httpGet(t, base+"/auth/logout", auth); code != 200 {
		t.Fatalf("logout: %d %s", code, body)
	}
	if code, _ := httpGet(t, base+"/secure/route", auth); code != 401 {
		t.Fatalf("after logout: %d, want 401", code)
	}
}
