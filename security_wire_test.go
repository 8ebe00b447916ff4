package happner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/meshclient"
)

// vault is a secured component: some methods are granted, some are not.
type vault struct{}

func (vault) Open(a, b int) (int, error)                    { return a + b, nil }
func (vault) Secret() (string, error)                       { return "the secret", nil }
func (vault) Who(h *happner.Happn) (*happner.Origin, error) { return h.Origin, nil }
func (vault) Fire(h *happner.Happn, key string) (string, error) {
	return key, h.Emit(key, map[string]string{"k": key})
}
func (vault) Page(h *happner.Happn, w http.ResponseWriter, _ *http.Request) {
	user := ""
	if h.Origin != nil {
		user = h.Origin.Username
	}
	fmt.Fprintf(w, "page for %s", user)
}

// relay calls vault methods onward, with or without delegation.
type relay struct{}

func (relay) CallOpen(h *happner.Happn, a, b int) (int, error) {
	return happner.Call[int](h.Ctx, h.Exchange, "vault", "open", a, b)
}
func (relay) CallSecret(h *happner.Happn) (string, error) {
	return happner.Call[string](h.Ctx, h.Exchange, "vault", "secret")
}
func (relay) SecretAs(h *happner.Happn, user string) (string, error) {
	return happner.Call[string](h.Ctx, h.As(user).Exchange, "vault", "secret")
}
func (relay) SecretAsAdmin(h *happner.Happn) (string, error) {
	return happner.Call[string](h.Ctx, h.AsAdmin().Exchange, "vault", "secret")
}
func (relay) WhoVia(h *happner.Happn) (*happner.Origin, error) {
	var o *happner.Origin
	err := h.Exchange.Call(h.Ctx, "vault", "who", nil, &o)
	return o, err
}
func (relay) Listen(h *happner.Happn, key string) (string, error) {
	_, err := h.Event.On(h.Ctx, "vault", key, func(happner.Event) {})
	return "listening", err
}
func (relay) Store(h *happner.Happn, v string) (string, error) {
	_, err := h.Data.Set(h.Ctx, "x", map[string]string{"v": v})
	return "stored", err
}
func (relay) Check(h *happner.Happn, user string, q happner.AuthorizationQuery) (*happner.AuthorizationResult, error) {
	return h.IsAuthorized(h.Ctx, user, q)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// secureMesh starts a secure mesh with vault, relay (delegation off) and
// relayOn (delegation on), plus users alice (may call vault.open,
// relay.*, relayOn.*, vault.who and event vault/allowed/*) and bob (only
// in _MESH_GST).
func secureMesh(t *testing.T) *happner.Mesh {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	on := true
	m, err := happner.Create(ctx, happner.Config{
		Name: "secMesh", Logger: quietLog(),
		Happn: happn.Config{Host: "127.0.0.1", Secure: true, AdminPassword: "adminpw", Logger: quietLog()},
		Modules: map[string]happner.ModuleConfig{
			"vault": {Instance: vault{}}, "relay": {Instance: relay{}},
		},
		Components: map[string]happner.ComponentConfig{
			"vault": {Web: json.RawMessage(`{"routes":{"page":"page"}}`)},
			"relay": {},
			"relayOn": {Module: "relay", Security: struct {
				AuthorityDelegationOn *bool `json:"authorityDelegationOn,omitempty"`
			}{AuthorityDelegationOn: &on}},
		},
		ComponentOrder: []string{"vault", "relay", "relayOn"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Stop(ctx)
	})
	x := m.Exchange()
	tr := true
	perm := happner.PermissionEntry{Authorized: &tr}
	group := happner.SecurityGroup{Name: "callers", Permissions: &happner.Permissions{
		Methods: map[string]happner.PermissionEntry{
			"/secMesh/vault/open": perm, "/secMesh/vault/who": perm, "/secMesh/vault/fire": perm,
			"/secMesh/relay/*": perm, "secMesh/relayOn/*": perm,
		},
		Events: map[string]happner.PermissionEntry{"/secMesh/vault/allowed/*": perm},
		Web:    map[string]happner.PermissionEntry{"/vault/page": {Actions: []string{"get"}}},
	}}
	if err := x.Call(ctx, "security", "addGroup", []any{group}, nil); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		if err := x.Call(ctx, "security", "addUser", []any{happner.SecurityUser{Username: u, Password: u + "pw"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Call(ctx, "security", "linkGroupName", []any{"callers", "alice"}, nil); err != nil {
		t.Fatal(err)
	}
	return m
}

func secLogin(t *testing.T, m *happner.Mesh, user, password string) *meshclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := meshclient.Login(ctx, meshclient.Options{URL: "http://" + m.Addr(), Username: user, Password: password})
	if err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func wantDenied(t *testing.T, what string, err error) {
	t.Helper()
	var he *happner.Error
	if !errors.As(err, &he) || he.Name != "AccessDenied" || err.Error() != "unauthorized" {
		t.Errorf("%s: want AccessDenied unauthorized, got %#v", what, err)
	}
}

func TestSecureWireCallsAndEvents(t *testing.T) {
	m := secureMesh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	alice := secLogin(t, m, "alice", "alicepw")
	if !alice.Secure() {
		t.Fatal("client does not see a secure mesh")
	}
	var sum int
	if err := alice.Call(ctx, "vault", "open", []any{2, 3}, &sum); err != nil || sum != 5 {
		t.Fatalf("granted call: %d %v", sum, err)
	}
	wantDenied(t, "denied method", alice.Call(ctx, "vault", "secret", nil))
	var who happner.Origin
	if err := alice.Call(ctx, "vault", "who", nil, &who); err != nil {
		t.Fatal(err)
	}
	if who.Username != "alice" || who.ID == "" {
		t.Errorf("$origin over the wire = %+v, want alice with her session id", who)
	}

	// Events: granted under allowed/*, denied elsewhere.
	got := make(chan string, 4)
	if _, err := alice.On(ctx, "vault", "allowed/*", func(ev happner.Event) { got <- ev.Meta.Path }); err != nil {
		t.Fatalf("granted subscription: %v", err)
	}
	if _, err := alice.On(ctx, "vault", "hidden/*", func(happner.Event) {}); err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("denied subscription: %v", err)
	}
	if err := alice.Call(ctx, "vault", "fire", []any{"allowed/x"}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p != "/_events/secMesh/vault/allowed/x" {
			t.Errorf("event path %s", p)
		}
	case <-time.After(3 * time.Second):
		t.Error("no event")
	}

	// bob (guest only) reads the description but may call nothing.
	bob := secLogin(t, m, "bob", "bobpw")
	if bob.Description().Components["vault"] == nil {
		t.Error("guest cannot see the description")
	}
	wantDenied(t, "guest call", bob.Call(ctx, "vault", "open", []any{1, 1}))

	// A bad password is refused.
	_, err := meshclient.Login(ctx, meshclient.Options{URL: "http://" + m.Addr(), Username: "alice", Password: "nope"})
	if err == nil || !strings.Contains(err.Error(), "Invalid credentials") {
		t.Errorf("bad password: %v", err)
	}
}

func TestSecureLocalCallsAndDelegation(t *testing.T) {
	m := secureMesh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	x := m.Exchange()

	// The mesh's own calls run as _ADMIN.
	var s string
	if err := x.Call(ctx, "vault", "secret", nil, &s); err != nil || s != "the secret" {
		t.Fatalf("admin call: %q %v", s, err)
	}
	var who happner.Origin
	if err := x.Call(ctx, "vault", "who", nil, &who); err != nil || who.Username != "_ADMIN" {
		t.Errorf("local $origin = %+v %v", who, err)
	}
	// $call with as: authorised as that user, no bypass for local calls.
	if err := x.Do(ctx, happner.CallOptions{Component: "vault", Method: "open", Arguments: []any{1, 2}, As: "alice"}, nil); err != nil {
		t.Errorf("as alice, granted: %v", err)
	}
	err := x.Do(ctx, happner.CallOptions{Component: "vault", Method: "secret", As: "alice"})
	wantDenied(t, "as alice, denied", err)
	var he *happner.Error
	if !errors.As(err, &he) || he.Fields["reason"] == nil {
		t.Errorf("denial carries no reason: %#v", err)
	}
	err = x.Do(ctx, happner.CallOptions{Component: "vault", Method: "open", Arguments: []any{1, 2}, As: "nobody"})
	if err == nil || !strings.Contains(err.Error(), "invalid credentials") {
		t.Errorf("as unknown user: %v", err)
	}

	alice := secLogin(t, m, "alice", "alicepw")
	// Delegation off: relay's onward call runs as _ADMIN.
	if err := alice.Call(ctx, "relay", "callSecret", nil, &s); err != nil || s != "the secret" {
		t.Errorf("delegation off: %q %v", s, err)
	}
	var via happner.Origin
	if err := alice.Call(ctx, "relay", "whoVia", nil, &via); err != nil || via.Username != "_ADMIN" {
		t.Errorf("delegation off, onward origin %+v %v", via, err)
	}
	// Delegation on: the onward call is authorised as alice.
	wantDenied(t, "delegation on, denied onward", alice.Call(ctx, "relayOn", "callSecret", nil))
	if err := alice.Call(ctx, "relayOn", "callOpen", []any{4, 5}, nil); err != nil {
		t.Errorf("delegation on, granted onward: %v", err)
	}
	if err := alice.Call(ctx, "relayOn", "whoVia", nil, &via); err != nil || via.Username != "alice" {
		t.Errorf("delegation on, onward origin %+v %v", via, err)
	}
	// Delegated subscriptions are authorised for the user too.
	if err := alice.Call(ctx, "relayOn", "listen", []any{"allowed/*"}, nil); err != nil {
		t.Errorf("delegated granted subscription: %v", err)
	}
	wantDenied(t, "delegated denied subscription", alice.Call(ctx, "relayOn", "listen", []any{"hidden/*"}))
	if err := alice.Call(ctx, "relay", "listen", []any{"hidden/*"}, nil); err != nil {
		t.Errorf("undelegated subscription runs as _ADMIN: %v", err)
	}
	// Component data: as _ADMIN without delegation, as alice (who has no
	// data permissions) with it.
	if err := alice.Call(ctx, "relay", "store", []any{"a"}, nil); err != nil {
		t.Errorf("undelegated data set: %v", err)
	}
	if err := alice.Call(ctx, "relayOn", "store", []any{"a"}, nil); err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("delegated data set: %v", err)
	}
	// As and AsAdmin inside a component.
	wantDenied(t, "h.As(bob)", alice.Call(ctx, "relay", "secretAs", []any{"bob"}))
	if err := alice.Call(ctx, "relayOn", "secretAsAdmin", nil, &s); err != nil || s != "the secret" {
		t.Errorf("AsAdmin is unbound: %q %v", s, err)
	}

	// isAuthorized
	var res happner.AuthorizationResult
	q := happner.AuthorizationQuery{Methods: []string{"/secMesh/vault/open", "/secMesh/vault/secret"}, Events: []string{"/secMesh/vault/allowed/a"}}
	if err := x.Call(ctx, "relay", "check", []any{"alice", q}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Authorized || len(res.Forbidden) != 1 || res.Forbidden[0].Path != "/_exchange/requests/secMesh/vault/secret" || res.Forbidden[0].Action != "set" {
		t.Errorf("isAuthorized = %+v", res)
	}
}

func TestSecurityComponentOverTheWire(t *testing.T) {
	m := secureMesh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := secLogin(t, m, "_ADMIN", "adminpw")
	tr := true
	f := false
	g := happner.SecurityGroup{Name: "ops", Permissions: &happner.Permissions{
		Methods: map[string]happner.PermissionEntry{"/secMesh/vault/secret": {Authorized: &tr}, "/vault/open": {Authorized: &f}},
		Events:  map[string]happner.PermissionEntry{"/secMesh/vault/*": {Authorized: &tr}},
		Web:     map[string]happner.PermissionEntry{"/vault/page": {Actions: []string{"get", "post"}}},
		Data:    map[string]happner.PermissionEntry{"/custom/*": {Actions: []string{"get", "set"}}},
	}}
	var added happner.SecurityGroup
	if err := admin.Call(ctx, "security", "addGroup", []any{g}, &added); err != nil {
		t.Fatal(err)
	}
	want := `{"methods":{"secMesh/vault/open":{"authorized":false},"secMesh/vault/secret":{"authorized":true}},` +
		`"events":{"secMesh/vault/*":{"authorized":true}},"web":{"vault/page":{"authorized":true,"actions":["get","post"]}},` +
		`"data":{"/custom/*":{"actions":["get","set"]}}}`
	if b, _ := json.Marshal(added.Permissions); string(b) != want {
		t.Errorf("group permissions\n got %s\nwant %s", b, want)
	}
	// The happn side holds exactly the translated paths.
	hg, err := m.Server().Security().GetGroup(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	for path, action := range map[string]string{
		"/_exchange/requests/secMesh/vault/secret":    "set",
		"/_exchange/responses/secMesh/vault/secret/*": "on",
		"/_events/secMesh/vault/*":                    "on",
		"/@HTTP/vault/page":                           "post",
		"/custom/*":                                   "set",
	} {
		r, ok := hg.Permissions[path]
		if !ok || !strings.Contains(strings.Join(r.Actions, ","), action) {
			t.Errorf("happn permission %s = %+v, want %s", path, r, action)
		}
	}
	if r := hg.Permissions["/_exchange/requests/secMesh/vault/open"]; len(r.Prohibit) != 1 || r.Prohibit[0] != "set" {
		t.Errorf("prohibited method: %+v", r)
	}
	// Bad data permissions are refused.
	bad := happner.SecurityGroup{Name: "bad", Permissions: &happner.Permissions{Data: map[string]happner.PermissionEntry{"/_exchange/x": {Actions: []string{"get"}}}}}
	if err := admin.Call(ctx, "security", "addGroup", []any{bad}, nil); err == nil || !strings.Contains(err.Error(), "data permissions cannot start with") {
		t.Errorf("bad data permissions: %v", err)
	}

	var u happner.SecurityUser
	if err := admin.Call(ctx, "security", "addUser", []any{happner.SecurityUser{Username: "carol", Password: "carolpw"}}, &u); err != nil {
		t.Fatal(err)
	}
	if err := admin.Call(ctx, "security", "linkGroupName", []any{"ops", "carol"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := admin.Call(ctx, "security", "linkGroupName", []any{"nope", "carol"}, nil); err == nil || err.Error() != "group with name nope does not exist" {
		t.Errorf("link to unknown group: %v", err)
	}
	if err := admin.Call(ctx, "security", "getUser", []any{"carol"}, &u); err != nil {
		t.Fatal(err)
	}
	if _, ok := u.Groups["ops"]; !ok {
		t.Errorf("carol's groups %v", u.Groups)
	}
	if _, ok := u.Groups[happner.GroupMeshGuest]; !ok {
		t.Errorf("new users are not linked to _MESH_GST: %v", u.Groups)
	}
	var names []string
	if err := admin.Call(ctx, "security", "listUserNamesByGroup", []any{"ops"}, &names); err != nil || len(names) != 1 || names[0] != "carol" {
		t.Errorf("listUserNamesByGroup %v %v", names, err)
	}

	carol := secLogin(t, m, "carol", "carolpw")
	var s string
	if err := carol.Call(ctx, "vault", "secret", nil, &s); err != nil || s != "the secret" {
		t.Errorf("carol granted: %q %v", s, err)
	}
	wantDenied(t, "carol prohibited", carol.Call(ctx, "vault", "open", []any{1, 1}))
	wantDenied(t, "non-admin security call", carol.Call(ctx, "security", "addUser", []any{happner.SecurityUser{Username: "x", Password: "x"}}))

	// Permissions removed live take effect.
	rm := happner.Permissions{Methods: map[string]happner.PermissionEntry{"/secMesh/vault/secret": {}}, Web: map[string]happner.PermissionEntry{"/vault/page": {Actions: []string{"post"}}}}
	added = happner.SecurityGroup{}
	if err := admin.Call(ctx, "security", "removeGroupPermissions", []any{"ops", rm}, &added); err != nil {
		t.Fatal(err)
	}
	if _, ok := added.Permissions.Methods["secMesh/vault/secret"]; ok {
		t.Errorf("secret still granted: %+v", added.Permissions.Methods)
	}
	if w := added.Permissions.Web["vault/page"]; len(w.Actions) != 1 || w.Actions[0] != "get" {
		t.Errorf("web partial removal: %+v", added.Permissions.Web)
	}
	wantDenied(t, "after removal", carol.Call(ctx, "vault", "secret", nil))
	add := happner.Permissions{Methods: map[string]happner.PermissionEntry{"/secMesh/vault/secret": {}}}
	if err := admin.Call(ctx, "security", "addUserPermissions", []any{"carol", add}, nil); err != nil {
		t.Fatal(err)
	}
	// happn dropped carol's response subscription with the permission (as
	// happn-3 does), so a new login sees the user-level grant.
	carol = secLogin(t, m, "carol", "carolpw")
	if err := carol.Call(ctx, "vault", "secret", nil, &s); err != nil {
		t.Errorf("after user permission: %v", err)
	}

	// Guests may change their own password.
	if err := carol.Call(ctx, "security", "changePassword", []any{"carolpw", "newpw"}, nil); err != nil {
		t.Errorf("changePassword: %v", err)
	}
	secLogin(t, m, "carol", "newpw")

	// Tokens: revoking the client's token ends its logins.
	var revoked []map[string]any
	if err := admin.Call(ctx, "security", "revokeToken", []any{carol.Data().Session().Token, "test"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := admin.Call(ctx, "security", "listRevokedTokens", []any{nil}, &revoked); err != nil || len(revoked) != 1 || revoked[0]["reason"] != "test" {
		t.Errorf("listRevokedTokens %v %v", revoked, err)
	}

	if err := admin.Call(ctx, "security", "deleteUser", []any{"carol"}, nil); err != nil {
		t.Fatal(err)
	}
	var gone *happner.SecurityUser
	if err := admin.Call(ctx, "security", "getUser", []any{"carol"}, &gone); err != nil || gone != nil {
		t.Errorf("deleted user: %+v %v", gone, err)
	}
}

func TestSecurityChangeEvents(t *testing.T) {
	m := secureMesh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	var seen []string
	if _, err := m.Event().On(ctx, "security", "*", func(ev happner.Event) {
		mu.Lock()
		seen = append(seen, ev.Meta.Path)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.Exchange().Call(ctx, "security", "attachToSecurityChanges", nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Exchange().Call(ctx, "security", "addUser", []any{happner.SecurityUser{Username: "dave", Password: "d"}}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		mu.Lock()
		got := strings.Join(seen, ",")
		mu.Unlock()
		if strings.Contains(got, "/_events/secMesh/security/upsert-user") && strings.Contains(got, "/_events/secMesh/security/link-group") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("security change events: %s", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSecureRESTAndWeb(t *testing.T) {
	m := secureMesh(t)
	base := "http://" + m.Addr()
	post := func(path, body, token string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var env map[string]any
		_ = json.NewDecoder(res.Body).Decode(&env)
		return res.StatusCode, env
	}
	code, env := post("/rest/login", `{"username":"alice","password":"wrong"}`, "")
	if code != 401 || env["message"] != "Failure logging in" {
		t.Errorf("bad login: %d %v", code, env)
	}
	code, env = post("/rest/login", `{"username":"alice","password":"alicepw"}`, "")
	if code != 200 {
		t.Fatalf("login: %d %v", code, env)
	}
	token, _ := env["data"].(map[string]any)["token"].(string)
	if token == "" {
		t.Fatal("no token")
	}
	code, env = post("/rest/method/vault/open", `[20,22]`, token)
	if code != 200 || env["data"] != float64(42) {
		t.Errorf("granted REST call: %d %v", code, env)
	}
	code, env = post("/rest/method/vault/secret", `[]`, token)
	if code != 403 || env["error"].(map[string]any)["message"] != "Access denied" {
		t.Errorf("denied REST call: %d %v", code, env)
	}
	code, env = post("/rest/method/vault/open", `{"as":"bob","parameters":{}}`, token)
	if code != 403 || env["error"].(map[string]any)["message"] != "origin does not belong to the delegate group" {
		t.Errorf("as without delegate group: %d %v", code, env)
	}
	// _ADMIN may act as bob, who may not call vault.open.
	_, env = post("/rest/login", `{"username":"_ADMIN","password":"adminpw"}`, "")
	adminToken := env["data"].(map[string]any)["token"].(string)
	code, env = post("/rest/method/vault/open", `{"as":"bob","parameters":{}}`, adminToken)
	if code != 403 || env["error"].(map[string]any)["message"] != "Access denied" {
		t.Errorf("admin as bob: %d %v", code, env)
	}
	code, env = post("/rest/method/vault/open", `{"as":"alice","parameters":{}}`, adminToken)
	if code != 200 {
		t.Errorf("admin as alice: %d %v", code, env)
	}

	// Web routes: /@HTTP permissions apply and $origin is the token's user.
	get := func(path, token string) (int, string) {
		u := base + path
		if token != "" {
			u += "?happn_token=" + url.QueryEscape(token)
		}
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/vault/page", token); code != 200 || body != "page for alice" {
		t.Errorf("web route as alice: %d %q", code, body)
	}
	if code, _ := get("/vault/page", ""); code != 401 {
		t.Errorf("web route without token: %d", code)
	}
	_, env = post("/rest/login", `{"username":"bob","password":"bobpw"}`, "")
	bobToken := env["data"].(map[string]any)["token"].(string)
	if code, _ := get("/vault/page", bobToken); code != 403 {
		t.Errorf("web route as bob: %d", code)
	}
}

func TestInsecureMeshSecurityComponent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := happner.Create(ctx, happner.Config{Name: "open", Logger: quietLog(), Happn: happn.Config{Host: "127.0.0.1", Logger: quietLog()}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop(ctx)
	if m.Describe().Components["security"] == nil {
		t.Error("no security component in the description")
	}
	err = m.Exchange().Call(ctx, "security", "addUser", []any{happner.SecurityUser{Username: "x", Password: "y"}})
	if err == nil || err.Error() != "security module not initialized, is your happn configured to be secure?" {
		t.Errorf("insecure security call: %v", err)
	}
	// As on an insecure mesh is not checked.
	if err := m.Exchange().Do(ctx, happner.CallOptions{Component: "api", Method: "test", Arguments: []any{"x"}, As: "nobody"}); err != nil {
		t.Errorf("as on an insecure mesh: %v", err)
	}
}

func TestListActiveSessions(t *testing.T) {
	m := secureMesh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := secLogin(t, m, "_ADMIN", "adminpw")
	var sessions []happn.SessionEvent
	if err := admin.Call(ctx, "security", "listActiveSessions", nil, &sessions); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range sessions {
		if s.Username == "_ADMIN" && !s.Local {
			found = true
		}
	}
	if !found {
		t.Fatalf("the caller's own session is not listed: %+v", sessions)
	}
}
