// Command meshserver starts a Go happner mesh with test components for the
// interop tests (npm MeshClient, HappnerClient and LightClient against a Go
// mesh) and prints "mesh listening on HOST:PORT" once it accepts clients.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
)

// calc is the test calculator.
type calc struct{}

// Add adds two numbers.
func (calc) Add(a, b float64) (float64, error) { return a + b, nil }

// Mul multiplies two numbers.
func (calc) Mul(a, b float64) (float64, error) { return a * b, nil }

// Divmod returns the quotient and remainder: two results.
func (calc) Divmod(a, b int) (int, int, error) {
	if b == 0 {
		return 0, 0, happner.NewError("DivideByZero", "cannot divide by zero").With("code", "E_DIV").With("dividend", a)
	}
	return a / b, a % b, nil
}

// Fail always fails.
func (calc) Fail() error { return errors.New("deliberate failure") }

// Slow answers after ms milliseconds.
func (calc) Slow(ms int) (string, error) {
	time.Sleep(time.Duration(ms) * time.Millisecond)
	return "slow done", nil
}

// Origin returns the caller's origin.
func (calc) Origin(h *happner.Happn) (*happner.Origin, error) { return h.Origin, nil }

// HappnerSchema names the parameters.
func (calc) HappnerSchema() happner.ModuleSchema {
	two := []happner.Param{{Name: "a"}, {Name: "b"}}
	return happner.ModuleSchema{Version: "1.0.0", Schema: happner.Schema{Methods: map[string]happner.MethodSchema{
		"add": {Parameters: two}, "mul": {Parameters: two}, "divmod": {Parameters: two},
		"slow": {Parameters: []happner.Param{{Name: "ms"}}},
	}}}
}

// emitter emits events on request.
type emitter struct{}

// Fire emits key with data {v}.
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

// admin creates and destroys components at run time.
type admin struct{}

// Create adds a calc component called name.
func (admin) Create(h *happner.Happn, name string) (string, error) {
	err := h.Mesh.CreateComponent(h.Ctx, name, happner.ModuleConfig{Instance: calc{}, Version: "2.0.0"}, happner.ComponentConfig{})
	return name, err
}

// Destroy removes the component called name.
func (admin) Destroy(h *happner.Happn, name string) (string, error) {
	return name, h.Mesh.DestroyComponent(h.Ctx, name)
}

// HappnerSchema names the parameters.
func (admin) HappnerSchema() happner.ModuleSchema {
	return happner.ModuleSchema{Schema: happner.Schema{Methods: map[string]happner.MethodSchema{
		"create": {Parameters: []happner.Param{{Name: "name"}}}, "destroy": {Parameters: []happner.Param{{Name: "name"}}},
	}}}
}

func main() {
	port := flag.Int("port", 0, "port (0: any free port)")
	host := flag.String("host", "127.0.0.1", "host")
	name := flag.String("name", "testMesh", "mesh name")
	timeout := flag.Int("timeout", 10000, "setOptions.timeout in ms")
	secure := flag.Bool("secure", false, "secure mesh (admin password \"happn\") with the test users of addTestUsers")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	reg := happner.NewRegistry()
	reg.RegisterValue("calc", calc{})
	reg.RegisterValue("emitter", emitter{})
	reg.RegisterValue("admin", admin{})
	cfg := happner.Config{
		Name:       *name,
		Happn:      happn.Config{Host: *host, Port: *port, Secure: *secure, AdminPassword: "happn", Logger: log},
		SetOptions: happner.SetOptions{Timeout: *timeout},
		Registry:   reg,
		Logger:     log,
		Components: map[string]happner.ComponentConfig{
			"calc": {}, "emitter": {}, "admin": {AccessLevel: "mesh"},
		},
		ComponentOrder: []string{"calc", "emitter", "admin"},
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := happner.Create(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshserver:", err)
		os.Exit(1)
	}
	if *secure {
		if err := addTestUsers(ctx, m); err != nil {
			fmt.Fprintln(os.Stderr, "meshserver:", err)
			_ = m.Stop(context.Background())
			os.Exit(1)
		}
	}
	fmt.Printf("mesh listening on %s\n", m.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Stop(sctx); err != nil {
		fmt.Fprintln(os.Stderr, "meshserver: stop:", err)
	}
}

// addTestUsers creates the users of a secure test mesh: alice
// ("alicepw", group "testers": calc.add, calc.origin, emitter.fire and the
// events emitter/allowed/*), bob ("bobpw", guest only) and delegate
// ("delegatepw", in _MESH_DELEGATE, so it may call as another user).
func addTestUsers(ctx context.Context, m *happner.Mesh) error {
	x := m.Exchange()
	yes := true
	grant := happner.PermissionEntry{Authorized: &yes}
	d := "/" + m.Domain()
	testers := happner.SecurityGroup{Name: "testers", Permissions: &happner.Permissions{
		Methods: map[string]happner.PermissionEntry{d + "/calc/add": grant, d + "/calc/origin": grant, d + "/emitter/fire": grant},
		Events:  map[string]happner.PermissionEntry{d + "/emitter/allowed/*": grant},
	}}
	if err := x.Call(ctx, "security", "addGroup", []any{testers}, nil); err != nil {
		return fmt.Errorf("adding group testers: %w", err)
	}
	for _, u := range []string{"alice", "bob", "delegate"} {
		if err := x.Call(ctx, "security", "addUser", []any{happner.SecurityUser{Username: u, Password: u + "pw"}}, nil); err != nil {
			return fmt.Errorf("adding user %s: %w", u, err)
		}
	}
	for _, link := range [][2]string{{"testers", "alice"}, {happner.GroupMeshDelegate, "delegate"}} {
		if err := x.Call(ctx, "security", "linkGroupName", []any{link[0], link[1]}, nil); err != nil {
			return fmt.Errorf("linking %s to %s: %w", link[1], link[0], err)
		}
	}
	return nil
}
