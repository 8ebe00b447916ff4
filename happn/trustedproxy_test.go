package happn

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/happner-go/happner/happn/security"
)

// whitelistServer starts a secure server where bob (password pw) may log
// in only from 10.9.9.9.
func whitelistServer(t *testing.T, trusted ...string) *Server {
	t.Helper()
	srv := startServer(t, Config{Secure: true, TrustedProxies: trusted, Security: security.Config{Profiles: []security.Profile{{
		Name:    "lan",
		Session: json.RawMessage(`{"user.username":"bob"}`),
		Policy:  security.Policy{SourceIPWhitelist: []string{"10.9.9.9"}},
	}}}})
	if _, err := srv.Security().UpsertUser(context.Background(), security.User{Username: "bob", Password: "pw"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	return srv
}

// httpLoginAs logs bob in over HTTP with the X-Forwarded-For header given
// (none when empty) and returns the status code and body.
func httpLoginAs(t *testing.T, srv *Server, forwardedFor ...string) (int, string) {
	t.Helper()
	h := http.Header{}
	for _, v := range forwardedFor {
		h.Add("X-Forwarded-For", v)
	}
	return httpGet(t, "http://"+srv.Addr()+"/auth/login?username=bob&password=pw", h)
}

// wsLoginAs logs bob in over a websocket opened with the X-Forwarded-For
// header given and returns the login reply's _meta and the session's
// address as the server sees it.
func wsLoginAs(t *testing.T, srv *Server, forwardedFor string) (map[string]any, string) {
	t.Helper()
	h := http.Header{}
	if forwardedFor != "" {
		h.Set("X-Forwarded-For", forwardedFor)
	}
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr()+"/primus?_primuscb=test", h)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Body != nil {
		resp.Body.Close()
	}
	t.Cleanup(func() { ws.Close() })
	c := &rawClient{t: t, ws: ws}
	c.send(`{"action":"configure-session","eventId":1,"data":{"protocol":"happn_4"}}`)
	c.recv()
	c.send(`{"action":"login","eventId":2,"data":{"username":"bob","password":"pw"}}`)
	reply := c.recvJSON()
	m := meta(reply)
	addr := ""
	if d, ok := reply["data"].(map[string]any); ok && m["status"] == "ok" {
		id, _ := d["id"].(string)
		for _, s := range srv.ActiveSessions() {
			if s.ID == id {
				addr = s.Address
			}
		}
	}
	return m, addr
}

// A client cannot pass a sourceIPWhitelist by claiming an address in
// X-Forwarded-For: without trusted proxies the header is ignored, over
// HTTP and over websockets alike.
func TestForwardedForIgnoredFromUntrustedPeers(t *testing.T) {
	srv := whitelistServer(t)
	if code, body := httpLoginAs(t, srv, "10.9.9.9"); code != http.StatusUnauthorized || !strings.Contains(body, "Source address access restricted") {
		t.Fatalf("spoofed X-Forwarded-For over HTTP: %d %s, want 401 Source address access restricted", code, body)
	}
	m, _ := wsLoginAs(t, srv, "10.9.9.9")
	if m["status"] != "error" || !strings.Contains(m["error"].(map[string]any)["message"].(string), "Source address access restricted") {
		t.Fatalf("spoofed X-Forwarded-For over a websocket: %v", m)
	}
	// a trusted proxy elsewhere does not make this peer trusted
	srv = whitelistServer(t, "192.168.0.0/16")
	if code, body := httpLoginAs(t, srv, "10.9.9.9"); code != http.StatusUnauthorized {
		t.Fatalf("spoofed X-Forwarded-For with other proxies trusted: %d %s", code, body)
	}
}

// Behind a trusted proxy the client's address is the rightmost
// X-Forwarded-For entry that is not a trusted proxy, for HTTP logins and
// websocket sessions.
func TestForwardedForFromTrustedProxy(t *testing.T) {
	srv := whitelistServer(t, "127.0.0.1", "192.168.0.0/16")
	for _, c := range []struct {
		header []string
		want   int
	}{
		{[]string{"10.9.9.9"}, http.StatusOK},
		// what the client wrote is left of what the proxies appended
		{[]string{"6.6.6.6, 10.9.9.9"}, http.StatusOK},
		{[]string{"10.9.9.9, 192.168.1.7"}, http.StatusOK},
		{[]string{"10.9.9.9", "192.168.1.7"}, http.StatusOK}, // several header lines
		{[]string{"10.9.9.9, 6.6.6.6"}, http.StatusUnauthorized},
		{[]string{"10.9.9.9, 6.6.6.6, 192.168.1.7"}, http.StatusUnauthorized},
		{[]string{"10.9.9.9, junk"}, http.StatusUnauthorized},
		{nil, http.StatusUnauthorized}, // the proxy itself
	} {
		if code, body := httpLoginAs(t, srv, c.header...); code != c.want {
			t.Errorf("X-Forwarded-For %q: %d %s, want %d", c.header, code, body, c.want)
		}
	}
	m, addr := wsLoginAs(t, srv, "6.6.6.6, 10.9.9.9")
	if m["status"] != "ok" || addr != "10.9.9.9" {
		t.Fatalf("websocket through a trusted proxy: %v, address %q", m, addr)
	}
	if m, _ := wsLoginAs(t, srv, "10.9.9.9, 6.6.6.6"); m["status"] != "error" {
		t.Fatalf("websocket whose nearest client is 6.6.6.6: %v", m)
	}
}

func TestClientAddr(t *testing.T) {
	proxies, err := parseTrustedProxies([]string{"10.0.0.1", "192.168.0.0/16", "::1", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		peer, xff, want string
	}{
		{"1.2.3.4:5", "10.9.9.9", "1.2.3.4"},
		{"10.0.0.1:5", "", "10.0.0.1"},
		{"10.0.0.1:5", "10.9.9.9", "10.9.9.9"},
		{"10.0.0.1:5", " 7.7.7.7 ,10.9.9.9 , 192.168.3.3", "10.9.9.9"},
		{"10.0.0.1:5", "192.168.3.3, 10.0.0.1", "192.168.3.3"}, // all trusted: the farthest
		{"10.0.0.1:5", "10.9.9.9:4711", "10.9.9.9"},
		{"10.0.0.1:5", "[2001:db8::1]:80", "2001:db8::1"},
		{"[::1]:5", "2001:db8::2", "2001:db8::2"},
		{"[::ffff:10.0.0.1]:5", "10.9.9.9", "10.9.9.9"},
		{"[fd12::3]:5", "192.168.0.1, 10.9.9.9", "10.9.9.9"},
		{"10.0.0.1:5", "10.9.9.9, unknown", "10.0.0.1"}, // garbage: the proxy that passed it
		{"10.0.0.1:5", "10.9.9.9, unknown, 192.168.3.3", "192.168.3.3"},
	} {
		r := &http.Request{RemoteAddr: c.peer, Header: http.Header{}, URL: &url.URL{}}
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got, _ := proxies.clientAddr(r); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %q, want %q", c.peer, c.xff, got, c.want)
		}
	}
	var none trustedProxies
	r := &http.Request{RemoteAddr: "127.0.0.1:9", Header: http.Header{"X-Forwarded-For": {"10.9.9.9"}}}
	if got, port := none.clientAddr(r); got != "127.0.0.1" || port != 9 {
		t.Errorf("no trusted proxies: %q %d", got, port)
	}
}

func TestTrustedProxiesRefusesBadEntries(t *testing.T) {
	for _, bad := range []string{"proxy.example", "10.0.0.300", "10.0.0.0/33", ""} {
		if _, err := New(Config{TrustedProxies: []string{bad}}); err == nil || !strings.Contains(err.Error(), "trustedProxies") {
			t.Errorf("New with trustedProxies %q: %v", bad, err)
		}
		file := `{"services":{"session":{"config":{"trustedProxies":["127.0.0.1",` + strings.TrimSpace(mustJSON(bad)) + `]}}}}`
		if _, err := ParseConfig([]byte(file), "json"); err == nil || !strings.Contains(err.Error(), "trustedProxies") {
			t.Errorf("config with trustedProxies %q: %v", bad, err)
		}
	}
	cfg, err := ParseConfig([]byte("services:\n  session:\n    config:\n      trustedProxies: [10.0.0.1, 10.1.0.0/16]\n"), "yaml")
	if err != nil || len(cfg.TrustedProxies) != 2 || cfg.TrustedProxies[1] != "10.1.0.0/16" {
		t.Fatalf("trustedProxies from YAML: %v %v", cfg.TrustedProxies, err)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
