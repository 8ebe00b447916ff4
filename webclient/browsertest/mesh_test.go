package browsertest

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/webclient"
)

// calc is the test calculator.
type calc struct{}

// Add adds two numbers.
func (calc) Add(a, b float64) (float64, error) { return a + b, nil }

// Divmod returns the quotient and the remainder: two results, or a custom
// error with its own fields.
func (calc) Divmod(a, b int) (int, int, error) {
	if b == 0 {
		return 0, 0, happner.NewError("DivideByZero", "cannot divide by zero").With("code", "E_DIV").With("dividend", a)
	}
	return a / b, a % b, nil
}

// Fail always fails with a plain error.
func (calc) Fail() error { return errors.New("deliberate failure") }

// HappnerSchema names the parameters.
func (calc) HappnerSchema() happner.ModuleSchema {
	two := []happner.Param{{Name: "a"}, {Name: "b"}}
	return happner.ModuleSchema{Version: "1.2.0", Schema: happner.Schema{Methods: map[string]happner.MethodSchema{
		"add": {Parameters: two}, "divmod": {Parameters: two},
	}}}
}

// emitter emits component events on request.
type emitter struct{}

// Fire emits key with {v}.
func (emitter) Fire(h *happner.Happn, key string, v float64) (string, error) {
	if err := h.Emit(key, map[string]float64{"v": v}); err != nil {
		return "", err
	}
	return "fired", nil
}

// HappnerSchema names the parameters.
func (emitter) HappnerSchema() happner.ModuleSchema {
	return happner.ModuleSchema{Version: "1.0.0", Schema: happner.Schema{Methods: map[string]happner.MethodSchema{
		"fire": {Parameters: []happner.Param{{Name: "key"}, {Name: "v"}}},
	}}}
}

// meshOptions shape a test mesh.
type meshOptions struct {
	secure bool
	port   int // 0: a free port
}

// startMesh starts a mesh "browserMesh" with the components calc and
// emitter and a test page at /page that loads /api/client; it stops with
// the test unless stopped before.
func startMesh(t *testing.T, o meshOptions) *happner.Mesh {
	t.Helper()
	reg := happner.NewRegistry()
	reg.RegisterValue("calc", calc{})
	reg.RegisterValue("emitter", emitter{})
	cfg := happner.Config{
		Name: "browserMesh",
		Happn: happn.Config{
			Host: "127.0.0.1", Port: o.port, Secure: o.secure, AdminPassword: "happn",
			HTTPExclusions: []string{"/page", "/cookie-page"},
			Logger:         quietLogger(),
		},
		Registry:       reg,
		Logger:         quietLogger(),
		Components:     map[string]happner.ComponentConfig{"calc": {}, "emitter": {}},
		ComponentOrder: []string{"calc", "emitter"},
		WebFuncs: happner.WebFuncs{Routes: []happner.RootRoute{
			{Mount: "/page", Handler: func(w http.ResponseWriter, r *http.Request, _ http.HandlerFunc) {
				pageHandler(webclient.APIClientPath)(w, r)
			}},
			{Mount: "/cookie-page", Handler: cookiePage},
		}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := happner.Create(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopMesh(m) })
	if o.secure {
		addTestUsers(t, m)
	}
	return m
}

func stopMesh(m *happner.Mesh) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = m.Stop(ctx)
}

// cookiePage sets the session cookie to the token in the query, as a
// server-side login does, and serves the test page.
func cookiePage(w http.ResponseWriter, r *http.Request, _ http.HandlerFunc) {
	http.SetCookie(w, &http.Cookie{Name: "happn_token", Value: r.URL.Query().Get("token"), Path: "/"})
	pageHandler(webclient.APIClientPath)(w, r)
}

// addTestUsers adds alice (group testers: calc.add, emitter.fire and the
// events emitter/allowed/*) and bob (no permissions).
func addTestUsers(t *testing.T, m *happner.Mesh) {
	t.Helper()
	ctx := context.Background()
	x := m.Exchange()
	yes := true
	grant := happner.PermissionEntry{Authorized: &yes}
	d := "/" + m.Domain()
	testers := happner.SecurityGroup{Name: "testers", Permissions: &happner.Permissions{
		Methods: map[string]happner.PermissionEntry{d + "/calc/add": grant, d + "/emitter/fire": grant},
		Events:  map[string]happner.PermissionEntry{d + "/emitter/allowed/*": grant},
	}}
	if err := x.Call(ctx, "security", "addGroup", []any{testers}, nil); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		if err := x.Call(ctx, "security", "addUser", []any{happner.SecurityUser{Username: u, Password: u + "pw"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Call(ctx, "security", "linkGroupName", []any{"testers", "alice"}, nil); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a port that is free now, for a mesh that restarts on
// the same port. It is taken below Linux's ephemeral range (32768-60999),
// so that the client sockets and port-0 listeners of tests running
// meanwhile cannot be handed the port while the mesh is down.
func freePort(t *testing.T) int {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ln.Close()
		return port
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}
