package happner

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner/dashboard"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/security"
)

// restCalc is the module the REST tests call.
type restCalc struct{}

func (restCalc) Add(a, b int) (int, error) { return a + b, nil }
func (restCalc) Greet(name, greeting string) (string, error) {
	if greeting == "" {
		greeting = "hello"
	}
	return greeting + " " + name, nil
}
func (restCalc) Pair() (string, int, error) { return "first", 2, nil }
func (restCalc) Fail(code string) error {
	return NewError("CustomError", "it failed").With("code", code)
}
func (restCalc) Deny() error {
	return NewError("AccessDenied", "unauthorized").With("reason", "not for you")
}
func (restCalc) Inspect(h *Happn, params map[string]any, session *Origin, method string) (map[string]any, error) {
	return map[string]any{"params": params, "session": session, "method": method,
		"edge": edgeAuthorized(h.Ctx), "origin": h.Origin}, nil
}

func (restCalc) HappnerSchema() ModuleSchema {
	names := func(ns ...string) MethodSchema {
		ps := make([]Param, len(ns))
		for i, n := range ns {
			ps[i] = Param{Name: n}
		}
		return MethodSchema{Parameters: ps}
	}
	return ModuleSchema{Version: "2.0.0", Schema: Schema{Methods: map[string]MethodSchema{
		"add":     names("a", "b"),
		"greet":   names("name", "greeting"),
		"fail":    names("code"),
		"inspect": names("$restParams", "$userSession", "$req_method"),
	}}}
}

// testAuth is a small stand-in for the mesh security the lead wires in:
// users with passwords, bearer tokens, per-user allowed paths, delegates.
type testAuth struct {
	passwords map[string]string
	allowed   map[string][]string
	delegates map[string]bool
}

func (a *testAuth) Login(_ context.Context, c Credentials) (string, error) {
	if p, ok := a.passwords[c.Username]; !ok || p != c.Password {
		return "", NewError("AccessDenied", "Invalid credentials")
	}
	return "tok-" + c.Username, nil
}

func (a *testAuth) SessionFromRequest(r *http.Request) (*Origin, error) {
	t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || t == "" {
		return nil, nil
	}
	user, ok := strings.CutPrefix(t, "tok-")
	if _, known := a.passwords[user]; !ok || !known {
		return nil, errors.New("invalid token")
	}
	return &Origin{ID: "session-" + user, Username: user}, nil
}

func (a *testAuth) Authorize(_ context.Context, o *Origin, path, action string) (bool, string, error) {
	if action != "set" {
		return false, "bad action " + action, nil
	}
	if o.Username == "_ADMIN" {
		return true, "", nil
	}
	for _, p := range a.allowed[o.Username] {
		if p == path {
			return true, "", nil
		}
	}
	return false, "unauthorised access to " + path, nil
}

func (a *testAuth) UserInGroups(_ context.Context, user string, groups ...string) (bool, error) {
	return len(groups) == 1 && groups[0] == "_MESH_DELEGATE" && a.delegates[user], nil
}

func restMesh(t *testing.T, auth Authenticator, secure bool) *Mesh {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := Create(ctx, Config{
		Name: "restMesh", Domain: "restDomain", Logger: log, DeferListen: true,
		Happn:         happn.Config{Host: "127.0.0.1", Logger: log},
		Modules:       map[string]ModuleConfig{"calc": {Instance: restCalc{}}},
		Components:    map[string]ComponentConfig{"calc": {}},
		Authenticator: auth,
		// no snapshot publisher: it reads m.secure, which this test sets
		// after Create
		Dashboard: dashboard.Options{Enabled: new(bool)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Stop(ctx)
	})
	// The secure data layer is the lead's integration; the REST code
	// paths only look at this flag and the authenticator.
	m.secure = secure
	if err := m.Listen(ctx); err != nil {
		t.Fatal(err)
	}
	return m
}

type envelope struct {
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Error   map[string]any  `json:"error"`
}

func restDo(t *testing.T, method, u, body, token string) (int, envelope) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: content type %q", method, u, ct)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("%s %s: %v in %s", method, u, err, raw)
	}
	return resp.StatusCode, env
}

func wantJSON(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v in %s", what, err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func TestRESTMethodInsecure(t *testing.T) {
	m := restMesh(t, nil, false)
	base := "http://" + m.Addr()
	calls := []struct {
		name, method, path, body string
		want                     string
	}{
		{"by name", "POST", "/rest/method/calc/add", `{"parameters":{"a":2,"b":3}}`, `5`},
		{"positional body", "POST", "/rest/method/calc/add", `[4,5]`, `9`},
		{"positional parameters", "POST", "/rest/method/calc/add", `{"parameters":[1,1]}`, `2`},
		{"mesh segment", "POST", "/rest/method/restMesh/calc/add", `{"parameters":{"a":1,"b":2}}`, `3`},
		{"mesh mount", "POST", "/restMesh/rest/method/calc/add", `{"parameters":{"a":1,"b":9}}`, `10`},
		{"missing is null", "POST", "/rest/method/calc/greet", `{"parameters":{"name":"bob"}}`, `"hello bob"`},
		{"GET query", "GET", "/rest/method/calc/greet?name=ann&greeting=hi", ``, `"hi ann"`},
		{"GET encoded", "GET", "/rest/method/calc/add?encoded_parameters=" + url.QueryEscape(`{"parameters":{"a":20,"b":22}}`), ``, `42`},
		{"first result only", "POST", "/rest/method/calc/pair", `{}`, `"first"`},
		{"system api", "POST", "/rest/method/api/test", `{"parameters":{"message":"x"}}`, `"x tested ok"`},
	}
	for _, c := range calls {
		code, env := restDo(t, c.method, base+c.path, c.body, "")
		if code != 200 || env.Message != "Call successful" || env.Error != nil {
			t.Errorf("%s: %d %+v", c.name, code, env)
			continue
		}
		wantJSON(t, c.name, env.Data, c.want)
	}

	code, env := restDo(t, "POST", base+"/rest/method/calc/inspect", `{"parameters":{"x":1,"username":"u","password":"p","happn_token":"t"}}`, "")
	if code != 200 {
		t.Fatalf("inspect: %d %+v", code, env)
	}
	wantJSON(t, "special parameters", env.Data, `{"params":{"x":1},"session":null,"method":"POST","edge":false,"origin":{"id":"`+m.adminID+`"}}`)

	failures := []struct {
		name, path, body string
		code             int
		message          string
		err              map[string]any
	}{
		{"component error", "/rest/method/calc/fail", `{"parameters":{"code":"E1"}}`, 500, "Call failed",
			map[string]any{"message": "it failed", "name": "CustomError", "code": "E1"}},
		{"unauthorized error", "/rest/method/calc/deny", `{}`, 403, "not for you", map[string]any{"message": "Access denied"}},
		{"unknown component", "/rest/method/nope/add", `{}`, 404, "Failure parsing request body",
			map[string]any{"message": "component nope does not exist on mesh"}},
		{"unknown method", "/rest/method/calc/nope", `{}`, 404, "Failure parsing request body",
			map[string]any{"message": "method nope does not exist on component calc"}},
		{"security component", "/rest/method/security/addUser", `{}`, 403, "Access denied",
			map[string]any{"message": "attempt to access security component over rest"}},
		{"remote mesh", "/rest/method/otherMesh/calc/add", `{}`, 403, "Access denied",
			map[string]any{"message": "attempt to access remote mesh: otherMesh"}},
		{"too many segments", "/rest/method/a/b/c/d/e", `{}`, 400, "Failure parsing request body",
			map[string]any{"message": "call path cannot have more than 4 segments"}},
		{"bad argument", "/rest/method/calc/add", `{"parameters":{"a":"x"}}`, 500, "Call failed", nil},
	}
	for _, f := range failures {
		code, env := restDo(t, "POST", base+f.path, f.body, "")
		if code != f.code || env.Message != f.message || env.Data == nil || string(env.Data) != "null" {
			t.Errorf("%s: %d %+v", f.name, code, env)
			continue
		}
		if f.err != nil && !reflect.DeepEqual(env.Error, f.err) {
			t.Errorf("%s: error %v, want %v", f.name, env.Error, f.err)
		}
		if f.err == nil && env.Error == nil {
			t.Errorf("%s: no error", f.name)
		}
	}
	code, env = restDo(t, "POST", base+"/rest/method/calc/add", `{"parameters":`, "")
	if code != 400 || env.Message != "Failure parsing request body" || env.Error["message"] == nil {
		t.Errorf("bad json: %d %+v", code, env)
	}
}

func TestRESTDescribeAndLoginInsecure(t *testing.T) {
	m := restMesh(t, nil, false)
	base := "http://" + m.Addr()
	for _, p := range []string{"/rest/describe", "/restMesh/rest/describe"} {
		code, env := restDo(t, "GET", base+p, "", "")
		if code != 200 || env.Message != "restDomain description" {
			t.Fatalf("%s: %d %+v", p, code, env)
		}
		var menu map[string]callMenuEntry
		if err := json.Unmarshal(env.Data, &menu); err != nil {
			t.Fatal(err)
		}
		add := menu["/calc/add"]
		if add.URI != "/calc/add" || !reflect.DeepEqual(add.Parameters, map[string]string{"a": "{{a}}", "b": "{{b}}"}) {
			t.Errorf("menu /calc/add = %+v", add)
		}
		if _, ok := menu["/api/test"]; !ok {
			t.Errorf("menu lacks /api/test: %v", menu)
		}
		for uri := range menu {
			if strings.HasPrefix(uri, "/rest/") || strings.HasPrefix(uri, "/security/") {
				t.Errorf("menu lists %s", uri)
			}
		}
	}
	code, env := restDo(t, "POST", base+"/rest/login", `{"password":"x"}`, "")
	if code != 401 || env.Message != "Failure parsing request body" || env.Error["message"] != "no username" {
		t.Errorf("no username: %d %+v", code, env)
	}
	code, env = restDo(t, "POST", base+"/rest/login", `{"parameters":{"username":"_ADMIN"}}`, "")
	if code != 401 || env.Error["message"] != "no password" {
		t.Errorf("no password: %d %+v", code, env)
	}
	code, env = restDo(t, "GET", base+"/rest/login?username=_ADMIN&password=happn", "", "")
	if code != 500 || env.Message != "Failure logging in" {
		t.Errorf("login without security: %d %+v", code, env)
	}
}

func TestRESTSecure(t *testing.T) {
	auth := &testAuth{
		passwords: map[string]string{"alice": "pw", "bob": "pw", "del": "pw", "_ADMIN": "happn"},
		allowed:   map[string][]string{"alice": {"/_exchange/requests/restDomain/calc/add", "/_exchange/requests/restDomain/calc/inspect"}},
		delegates: map[string]bool{"del": true},
	}
	m := restMesh(t, auth, true)
	base := "http://" + m.Addr()

	code, env := restDo(t, "POST", base+"/rest/login", `{"username":"alice","password":"pw"}`, "")
	if code != 200 || env.Message != "Logged in ok" {
		t.Fatalf("login: %d %+v", code, env)
	}
	wantJSON(t, "login data", env.Data, `{"token":"tok-alice"}`)
	code, env = restDo(t, "POST", base+"/rest/login", `{"username":"alice","password":"wrong"}`, "")
	if code != 401 || env.Message != "Failure logging in" || env.Error["message"] != "Invalid credentials" || env.Error["name"] != "AccessDenied" {
		t.Errorf("bad login: %d %+v", code, env)
	}

	add := base + "/rest/method/calc/add"
	code, env = restDo(t, "POST", add, `[1,2]`, "")
	if code != 403 || env.Message != "Bad origin" || env.Error["message"] != "origin of call unknown" {
		t.Errorf("no token: %d %+v", code, env)
	}
	code, env = restDo(t, "POST", add, `[1,2]`, "tok-alice")
	if code != 200 || string(env.Data) != "3" {
		t.Errorf("alice add: %d %+v", code, env)
	}
	code, env = restDo(t, "POST", base+"/rest/method/calc/greet", `["x"]`, "tok-alice")
	if code != 403 || env.Message != "unauthorised access to /_exchange/requests/restDomain/calc/greet" || env.Error["message"] != "Access denied" {
		t.Errorf("alice greet: %d %+v", code, env)
	}
	// Edge-authorised: the method runs as alice and knows it was checked.
	code, env = restDo(t, "POST", base+"/rest/method/calc/inspect", `{"parameters":{}}`, "tok-alice")
	if code != 200 {
		t.Fatalf("alice inspect: %d %+v", code, env)
	}
	wantJSON(t, "alice inspect", env.Data, `{"params":{},"session":{"id":"session-alice","username":"alice"},"method":"POST","edge":true,"origin":{"id":"session-alice","username":"alice"}}`)

	// "as": only _ADMIN and delegates may act for another user.
	code, env = restDo(t, "POST", base+"/rest/method/calc/inspect", `{"as":"carol","parameters":{}}`, "tok-alice")
	if code != 403 || env.Message != "Authorization failed" || env.Error["message"] != "origin does not belong to the delegate group" {
		t.Errorf("alice as carol: %d %+v", code, env)
	}
	for _, tok := range []string{"tok-del", "tok-_ADMIN"} {
		code, env = restDo(t, "POST", base+"/rest/method/calc/inspect", `{"as":"carol","parameters":{}}`, tok)
		if code != 200 {
			t.Fatalf("%s as carol: %d %+v", tok, code, env)
		}
		var got struct {
			Edge   bool
			Origin Origin
		}
		if err := json.Unmarshal(env.Data, &got); err != nil {
			t.Fatal(err)
		}
		if got.Edge || got.Origin.Username != "carol" || !got.Origin.Override {
			t.Errorf("%s as carol: %s", tok, env.Data)
		}
	}

	// describe lists only what the caller may call; _ADMIN sees all.
	code, env = restDo(t, "GET", base+"/rest/describe", "", "tok-alice")
	if code != 200 {
		t.Fatalf("describe: %d %+v", code, env)
	}
	var menu map[string]callMenuEntry
	if err := json.Unmarshal(env.Data, &menu); err != nil {
		t.Fatal(err)
	}
	if len(menu) != 2 || menu["/calc/add"].URI == "" || menu["/calc/inspect"].URI == "" {
		t.Errorf("alice menu %v", menu)
	}
	_, env = restDo(t, "GET", base+"/rest/describe", "", "tok-_ADMIN")
	menu = nil
	if err := json.Unmarshal(env.Data, &menu); err != nil {
		t.Fatal(err)
	}
	if len(menu) < 6 {
		t.Errorf("admin menu %v", menu)
	}
}

// TestRESTLoginSourceWhitelist: /rest/login passes the client's address to
// the profiles' sourceIPWhitelist (it passed none, and a whitelisted user
// could never log in over REST).
func TestRESTLoginSourceWhitelist(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := Create(ctx, Config{
		Name: "wlMesh", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Happn: happn.Config{Host: "127.0.0.1", Secure: true, AdminPassword: "adminpw", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Security: security.Config{Profiles: []security.Profile{
				{Name: "local", Session: json.RawMessage(`{"user.username":"bob"}`), Policy: security.Policy{SourceIPWhitelist: []string{"127.0.0.1"}}},
				{Name: "lan", Session: json.RawMessage(`{"user.username":"carol"}`), Policy: security.Policy{SourceIPWhitelist: []string{"10.9.9.9"}}},
			}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	for _, u := range []string{"bob", "carol"} {
		if _, err := m.Server().Security().UpsertUser(ctx, security.User{Username: u, Password: "pw"}, security.UpsertOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	base := "http://" + m.Addr()
	if code, env := restDo(t, "POST", base+"/rest/login", `{"username":"bob","password":"pw"}`, ""); code != 200 {
		t.Errorf("bob, whitelisted on 127.0.0.1: %d %+v", code, env)
	}
	if code, env := restDo(t, "POST", base+"/rest/login", `{"username":"carol","password":"pw"}`, ""); code == 200 {
		t.Errorf("carol, whitelisted on 10.9.9.9 only, logged in from 127.0.0.1: %+v", env)
	}
}
