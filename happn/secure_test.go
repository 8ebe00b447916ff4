package happn

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/happn/security"
)

// secureServer starts a secure server with a user "alice" (password
// "secret") in group "readers", which may get and on /public/*, set
// /public/alice/*, and get /a/*/bb.
func secureServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Secure = true
	srv := startServer(t, cfg)
	ctx := context.Background()
	sec := srv.Security()
	if _, err := sec.UpsertUser(ctx, security.User{Username: "alice", Password: "secret"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sec.UpsertGroup(ctx, security.Group{Name: "readers", Permissions: map[string]security.PermissionRule{
		"/public/*":       {Actions: []string{"get", "on"}},
		"/public/alice/*": {Actions: []string{"set"}},
		"/a/*/bb":         {Actions: []string{"get"}},
	}}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sec.LinkGroup(ctx, "readers", "alice", nil); err != nil {
		t.Fatal(err)
	}
	return srv
}

func connect(t *testing.T, srv *Server, user, password string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.Options{URL: "http://" + srv.Addr(), Username: user, Password: password, Reconnect: client.Reconnect{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wantDenied asserts a 403 AccessDenied with the given message.
func wantDenied(t *testing.T, err error, message string) {
	t.Helper()
	var se *client.ServerError
	if !errors.As(err, &se) || se.Name != "AccessDenied" || se.Code != 403 || se.Message != message {
		t.Fatalf("got %v, want AccessDenied 403 %q", err, message)
	}
}

func TestSecureDeniedActions(t *testing.T) {
	srv := secureServer(t, Config{})
	ctx := context.Background()
	admin := connect(t, srv, "_ADMIN", "happn")
	alice := connect(t, srv, "alice", "secret")
	if _, err := admin.Set(ctx, "/private/x", map[string]int{"v": 1}); err != nil {
		t.Fatal(err)
	}
	_, err := alice.Get(ctx, "/private/x")
	wantDenied(t, err, "unauthorized")
	_, err = alice.Set(ctx, "/private/x", map[string]int{"v": 2})
	wantDenied(t, err, "unauthorized")
	_, err = alice.Remove(ctx, "/private/x")
	wantDenied(t, err, "unauthorized")
	_, err = alice.On(ctx, "/private/*", client.OnOptions{}, func(client.Event) {})
	wantDenied(t, err, "unauthorized")
	// count is authorised like get: no reading the system tree's size
	_, err = alice.Count(ctx, "/_SYSTEM/*")
	wantDenied(t, err, "unauthorized")
	// true globs: /a/*/bb grants /a/x/bb, not /a/x/bc
	if _, err := alice.Get(ctx, "/a/x/bb"); err != nil {
		t.Fatalf("/a/x/bb: %v", err)
	}
	_, err = alice.Get(ctx, "/a/x/bc")
	wantDenied(t, err, "unauthorized")
	// what is granted works
	if _, err := alice.Set(ctx, "/public/alice/note", map[string]string{"t": "hi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Get(ctx, "/public/*"); err != nil {
		t.Fatal(err)
	}
}

func TestSecureLoginFailuresAndLockout(t *testing.T) {
	srv := secureServer(t, Config{Security: security.Config{AccountLockout: security.LockoutConfig{Attempts: 3, RetryInterval: security.Duration(time.Minute)}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	login := func(password string) error {
		c, err := client.New(ctx, client.Options{URL: "http://" + srv.Addr(), Username: "alice", Password: password, Reconnect: client.Reconnect{Disabled: true}})
		if err == nil {
			c.Close()
		}
		return err
	}
	for i := 0; i < 3; i++ {
		var se *client.ServerError
		if err := login("guess"); !errors.As(err, &se) || se.Code != 401 || se.Message != "Invalid credentials" {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	// the right password no longer helps
	err := login("secret")
	var se *client.ServerError
	if !errors.As(err, &se) || se.Message != "Account locked out" {
		t.Fatalf("after lockout: %v", err)
	}
}

// A frame carrying another session's id is processed as the socket's own
// session: the id is never trusted.
func TestForgedSessionIDGainsNothing(t *testing.T) {
	srv := secureServer(t, Config{})
	admin := connect(t, srv, "_ADMIN", "happn")
	c := dialRaw(t, srv)
	c.send(`{"action":"configure-session","eventId":1,"data":{"protocol":"happn_4"}}`)
	c.recv()
	c.send(`{"action":"login","eventId":2,"data":{"username":"alice","password":"secret"}}`)
	if m := meta(c.recvJSON()); m["status"] != "ok" {
		t.Fatalf("login: %v", m)
	}
	c.send(`{"action":"get","eventId":3,"path":"/_SYSTEM/_SECURITY/_USER/_ADMIN","sessionId":"` + admin.Session().ID + `","options":{}}`)
	m := meta(c.recvJSON())
	if m["status"] != "error" || m["error"].(map[string]any)["message"] != "unauthorized" {
		t.Fatalf("forged session id: %v", m)
	}
}

// Before login, a data request gets the error and then the session ends.
func TestSecureRequestBeforeLogin(t *testing.T) {
	srv := secureServer(t, Config{})
	c := dialRaw(t, srv)
	c.send(`{"action":"set","eventId":4,"path":"/x","data":{"a":1}}`)
	m := c.recvJSON()
	e := meta(m)["error"].(map[string]any)
	if e["name"] != "AccessDenied" || e["code"] != float64(403) || e["message"] != "no policy attached to session" {
		t.Fatalf("error %v", e)
	}
	m = c.recvJSON()
	if m["eventKey"] != "server-side-disconnect" || m["data"].(map[string]any)["reason"] != "no-session-policy" {
		t.Fatalf("then %v", m)
	}
	if got := c.recv(); got != `"primus::server::close"` {
		t.Fatalf("then %s", got)
	}
}

func TestDigestLoginNonceIsSingleUse(t *testing.T) {
	srv := secureServer(t, Config{})
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&key.PublicKey)}))
	if _, err := srv.Security().UpsertUser(context.Background(), security.User{Username: "keyuser", PublicKey: pub}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	pubJSON, _ := json.Marshal(pub)
	c := dialRaw(t, srv)
	c.send(`{"action":"configure-session","eventId":1,"data":{"protocol":"happn_4"}}`)
	c.recv()
	c.send(`{"action":"request-nonce","eventId":2,"data":{"publicKey":` + string(pubJSON) + `}}`)
	reply := c.recvJSON()
	nonce, _ := reply["nonce"].(string)
	raw, err := base64.StdEncoding.DecodeString(nonce)
	if err != nil || nonce == "" {
		t.Fatalf("nonce %q: %v", nonce, err)
	}
	sum := sha256.Sum256(raw)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	login := `{"action":"login","eventId":3,"data":{"username":"keyuser","publicKey":` + string(pubJSON) +
		`,"loginType":"digest","digest":"` + base64.StdEncoding.EncodeToString(sig) + `"}}`
	c.send(login)
	if m := meta(c.recvJSON()); m["status"] != "ok" {
		t.Fatalf("digest login: %v", m)
	}
	// the same signed nonce again, on another connection
	replay := dialRaw(t, srv)
	replay.send(`{"action":"configure-session","eventId":1,"data":{"protocol":"happn_4"}}`)
	replay.recv()
	replay.send(login)
	m := meta(replay.recvJSON())
	if m["status"] != "error" {
		t.Fatalf("replayed digest accepted: %v", m)
	}
}

func TestRevokedTokenEndsEverySessionHoldingIt(t *testing.T) {
	srv := secureServer(t, Config{})
	ctx := context.Background()
	first := connect(t, srv, "alice", "secret")
	ended := make(chan string, 1)
	second, err := client.New(ctx, client.Options{URL: "http://" + srv.Addr(), Token: first.Session().Token,
		Reconnect: client.Reconnect{Disabled: true},
		OnConnectionEvent: func(e client.ConnectionEvent) {
			if e.Type == client.EventSessionEnded {
				ended <- e.Reason
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := first.RevokeToken(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ended:
		if r != "token-revoked" {
			t.Fatalf("reason %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the token login session was not ended")
	}
	// and the token no longer logs in
	_, err = client.New(ctx, client.Options{URL: "http://" + srv.Addr(), Token: first.Session().Token, Reconnect: client.Reconnect{Disabled: true}})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("revoked token login: %v", err)
	}
}

func TestPermissionRemovedStopsEvents(t *testing.T) {
	srv := secureServer(t, Config{})
	ctx := context.Background()
	admin := connect(t, srv, "_ADMIN", "happn")
	alice := connect(t, srv, "alice", "secret")
	events := make(chan string, 10)
	if _, err := alice.On(ctx, "/public/*", client.OnOptions{}, func(e client.Event) { events <- e.Meta.Path }); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Set(ctx, "/public/one", map[string]int{"v": 1}); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, "/public/one", "no event while permitted")
	if err := srv.Security().RemovePermission(ctx, "readers", "/public/*", "on"); err != nil {
		t.Fatal(err)
	}
	// the change is applied asynchronously: wait until alice's
	// subscription is gone, then a write must not reach her
	aliceSess := serverSession(srv, alice)
	waitUntil(t, "the subscription outlived the permission", func() bool { return len(srv.subs.sessionSubscriptions(aliceSess)) == 0 })
	if _, err := admin.Set(ctx, "/public/two", map[string]int{"v": 2}); err != nil {
		t.Fatal(err)
	}
	expectNoEvent(t, events, "after the permission was removed")
}

func TestOnBehalfOf(t *testing.T) {
	srv := secureServer(t, Config{})
	ctx := context.Background()
	admin := connect(t, srv, "_ADMIN", "happn")
	// _ADMIN acting as alice is held to alice's rights
	_, err := admin.Set(ctx, "/private/y", map[string]int{"v": 1}, client.With("onBehalfOf", "alice"))
	wantDenied(t, err, "unauthorized")
	if _, err := admin.Set(ctx, "/public/alice/y", map[string]int{"v": 1}, client.With("onBehalfOf", "alice")); err != nil {
		t.Fatal(err)
	}
	// alice may not delegate: naming _ADMIN is ignored (she keeps her own
	// rights), naming anyone else is refused
	alice := connect(t, srv, "alice", "secret")
	_, err = alice.Get(ctx, "/private/y", client.With("onBehalfOf", "_ADMIN"))
	wantDenied(t, err, "unauthorized")
	if _, err := srv.Security().UpsertUser(ctx, security.User{Username: "bob", Password: "pw"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = alice.Get(ctx, "/public/x", client.With("onBehalfOf", "bob"))
	var se *client.ServerError
	if !errors.As(err, &se) || se.Name != "AccessDenied" {
		t.Fatalf("a user without delegate rights acted on behalf of another: %v", err)
	}
}

func TestNestedPermissions(t *testing.T) {
	srv := secureServer(t, Config{AllowNestedPermissions: true})
	ctx := context.Background()
	sec := srv.Security()
	if err := sec.UpsertPermission(ctx, "readers", "/tree/alice/*", "get", true); err != nil {
		t.Fatal(err)
	}
	if err := sec.UpsertPermission(ctx, "readers", "/tree/alice/*", "on", true); err != nil {
		t.Fatal(err)
	}
	admin := connect(t, srv, "_ADMIN", "happn")
	for _, p := range []string{"/tree/alice/a", "/tree/bob/b"} {
		if _, err := admin.Set(ctx, p, map[string]int{"v": 1}); err != nil {
			t.Fatal(err)
		}
	}
	alice := connect(t, srv, "alice", "secret")
	res, err := alice.Get(ctx, "/tree/**")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 1 || res.Items[0].Meta.Path != "/tree/alice/a" {
		t.Fatalf("nested get returned %+v", res.Items)
	}
	// a count counts only what the user may get
	if n, err := alice.Count(ctx, "/tree/**"); err != nil || n != 1 {
		t.Errorf("nested count = %d %v, want 1", n, err)
	}
	events := make(chan string, 4)
	if _, err := alice.On(ctx, "/tree/**", client.OnOptions{}, func(e client.Event) { events <- e.Meta.Path }); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/tree/bob/c", "/tree/alice/d"} {
		if _, err := admin.Set(ctx, p, map[string]int{"v": 2}); err != nil {
			t.Fatal(err)
		}
	}
	expectEvent(t, events, "/tree/alice/d", "no event")
	// without any permission below, the request is refused
	_, err = alice.Get(ctx, "/other/**")
	wantDenied(t, err, "unauthorized")
}

// A subscription made on behalf of another user is authorised as that
// user and its events reach the socket that made it (happn-3 registered it
// under a socket-less session).
func TestSubscriptionOnBehalfOfReachesTheSocket(t *testing.T) {
	srv := secureServer(t, Config{})
	ctx := context.Background()
	admin := connect(t, srv, "_ADMIN", "happn")
	_, err := admin.On(ctx, "/private/*", client.OnOptions{OnBehalfOf: "alice"}, func(client.Event) {})
	wantDenied(t, err, "unauthorized")
	events := make(chan string, 1)
	if _, err := admin.On(ctx, "/public/*", client.OnOptions{OnBehalfOf: "alice"}, func(e client.Event) { events <- e.Meta.Path }); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Set(ctx, "/public/x", map[string]int{"v": 1}); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, "/public/x", "the delegated subscription's event did not reach its socket")
}

// security-data-changed for upsert-group and unlink-group carries the
// group's permissions: the npm client reads changedData.permissions of
// those messages and throws without it.
func TestSecurityDataChangedCarriesGroupPermissions(t *testing.T) {
	srv := secureServer(t, Config{})
	c := dialRaw(t, srv)
	c.send(`{"action":"configure-session","eventId":1,"data":{"protocol":"happn_4"}}`)
	c.recv()
	c.send(`{"action":"login","eventId":2,"data":{"username":"alice","password":"secret"}}`)
	c.recv()
	ctx := context.Background()
	if _, err := srv.Security().UpsertGroup(ctx, security.Group{Name: "readers", Permissions: map[string]security.PermissionRule{
		"/more/*": {Actions: []string{"on"}},
	}}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Security().UnlinkGroup(ctx, "readers", "alice"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"upsert-group", "unlink-group"} {
		m := c.recvJSON()
		if m["eventKey"] != "security-data-changed" {
			t.Fatalf("got %v", m)
		}
		d := m["data"].(map[string]any)
		if d["whatHappnd"] != want {
			t.Fatalf("whatHappnd %v, want %s", d["whatHappnd"], want)
		}
		perms, ok := d["changedData"].(map[string]any)["permissions"].(map[string]any)
		if !ok || perms["/more/*"] == nil {
			t.Fatalf("%s: changedData.permissions %v", want, d["changedData"])
		}
	}
}

// A subscription the server dropped while its user had lost the right to
// it is made again by the client once the right is back: the client
// re-establishes its subscriptions on security-data-changed.
func TestSubscriptionComesBackWithItsPermission(t *testing.T) {
	srv := secureServer(t, Config{})
	ctx := context.Background()
	admin := connect(t, srv, "_ADMIN", "happn")
	alice := connect(t, srv, "alice", "secret")
	events := make(chan string, 10)
	if _, err := alice.On(ctx, "/public/*", client.OnOptions{}, func(e client.Event) { events <- e.Meta.Path }); err != nil {
		t.Fatal(err)
	}
	sec := srv.Security()
	if err := sec.RemovePermission(ctx, "readers", "/public/*", "on"); err != nil {
		t.Fatal(err)
	}
	aliceSess := serverSession(srv, alice)
	waitUntil(t, "the subscription outlived the permission", func() bool { return len(srv.subs.sessionSubscriptions(aliceSess)) == 0 })
	// let the client's refresh (refused now) run before the right returns
	time.Sleep(200 * time.Millisecond)
	if err := sec.UpsertPermission(ctx, "readers", "/public/*", "on", true); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the client did not subscribe again", func() bool { return len(srv.subs.sessionSubscriptions(aliceSess)) > 0 })
	if _, err := admin.Set(ctx, "/public/back", map[string]int{"v": 1}); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, "/public/back", "no event after the permission came back")
}

// expectEvent waits for the next path on events and checks it.
func expectEvent(t *testing.T, events <-chan string, path, what string) {
	t.Helper()
	select {
	case p := <-events:
		if p != path {
			t.Fatalf("event %s, want %s", p, path)
		}
	case <-time.After(5 * time.Second):
		t.Fatal(what)
	}
}

// expectNoEvent fails when a path arrives on events within 300 ms.
func expectNoEvent(t *testing.T, events <-chan string, what string) {
	t.Helper()
	select {
	case p := <-events:
		t.Fatalf("event %s %s", p, what)
	case <-time.After(300 * time.Millisecond):
	}
}

// serverSession is the server's session of client c.
func serverSession(srv *Server, c *client.Client) *Session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.sessions[c.Session().ID]
}

// waitUntil polls cond until it holds, failing with what after 5 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Subscriptions made while security changes keep arriving (each one makes
// the client re-establish its subscriptions) are made once on the server:
// every handler gets each event once, and no server subscription is left
// without a listener.
func TestSubscriptionsMadeDuringSecurityChangesAreMadeOnce(t *testing.T) {
	srv := secureServer(t, Config{})
	ctx := context.Background()
	admin := connect(t, srv, "_ADMIN", "happn")
	alice := connect(t, srv, "alice", "secret")
	sec := srv.Security()
	stop := make(chan struct{})
	changes := make(chan struct{})
	go func() {
		defer close(changes)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := sec.UpsertPermission(ctx, "readers", fmt.Sprintf("/unrelated/%d", i%3), "get", i%2 == 0); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	const n = 60
	counts := make([]atomic.Int32, n)
	for i := range n {
		if _, err := alice.On(ctx, fmt.Sprintf("/public/x%d", i), client.OnOptions{}, func(client.Event) { counts[i].Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	<-changes
	aliceSess := serverSession(srv, alice)
	// the last refresh may still be on its way
	subs := 0
	deadline := time.Now().Add(5 * time.Second)
	for subs = len(srv.subs.sessionSubscriptions(aliceSess)); subs != n; subs = len(srv.subs.sessionSubscriptions(aliceSess)) {
		if time.Now().After(deadline) {
			t.Fatalf("%d server subscriptions for %d paths", subs, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := range n {
		if _, err := admin.Set(ctx, fmt.Sprintf("/public/x%d", i), map[string]int{"v": i}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "every event delivered", func() bool {
		for i := range n {
			if counts[i].Load() < 1 {
				return false
			}
		}
		return true
	})
	time.Sleep(100 * time.Millisecond)
	for i := range n {
		if c := counts[i].Load(); c != 1 {
			t.Errorf("/public/x%d: %d events, want 1", i, c)
		}
	}
	if got := len(srv.subs.sessionSubscriptions(aliceSess)); got != n {
		t.Errorf("%d server subscriptions, want %d", got, n)
	}
}

// A permission removed while a subscription is being made (after its
// authorisation, before it is added: here from the subscribe hook, which
// runs in between) does not leave that subscription behind: it is checked
// again and refused.
func TestSubscriptionAuthorisedJustBeforeItsPermissionIsRemoved(t *testing.T) {
	srv := secureServer(t, Config{})
	ctx := context.Background()
	sec := srv.Security()
	var removed atomic.Bool
	// set before any client connects, as hooks are
	srv.SetSubscribeHook(func(_, _, key string) (string, bool) {
		if key == "/public/race" && !removed.Swap(true) {
			if err := sec.RemovePermission(ctx, "readers", "/public/*", "on"); err != nil {
				t.Error(err)
			}
		}
		return key, false
	})
	admin := connect(t, srv, "_ADMIN", "happn")
	alice := connect(t, srv, "alice", "secret")
	events := make(chan string, 10)
	_, err := alice.On(ctx, "/public/race", client.OnOptions{}, func(e client.Event) { events <- e.Meta.Path })
	if !removed.Load() {
		t.Fatal("the hook did not run")
	}
	wantDenied(t, err, "unauthorized")
	aliceSess := serverSession(srv, alice)
	if n := len(srv.subs.sessionSubscriptions(aliceSess)); n != 0 {
		t.Fatalf("%d subscriptions left after the permission was removed", n)
	}
	if _, err := admin.Set(ctx, "/public/race", map[string]int{"v": 1}); err != nil {
		t.Fatal(err)
	}
	expectNoEvent(t, events, "delivered without the permission")
}
