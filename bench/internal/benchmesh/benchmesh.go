// Package benchmesh starts the Go happner mesh that the mesh RPC benchmark
// measures: one component, calc, with add(a, b) answering a + b, the same
// component as the reference happner-2 mesh in bench/peer/mesh.js.
package benchmesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
)

// Calc is the benchmarked component.
type Calc struct{}

// Add returns a + b.
func (Calc) Add(a, b float64) (float64, error) { return a + b, nil }

// HappnerSchema names add's parameters as happner-2 would describe
// add(a, b, callback).
func (Calc) HappnerSchema() happner.ModuleSchema {
	return happner.ModuleSchema{Version: "1.0.0", Schema: happner.Schema{Methods: map[string]happner.MethodSchema{
		"add": {Parameters: []happner.Param{{Name: "a"}, {Name: "b"}}},
	}}}
}

// Options configures Start.
type Options struct {
	// Host and Port to listen on; port 0 picks a free port.
	Host string
	Port int
	// Name is the mesh name (and domain). Empty means "benchMesh".
	Name string
	// Secure turns on happn security; AdminPassword is then _ADMIN's password.
	Secure        bool
	AdminPassword string
	// Logger receives the mesh's logs; nil discards everything below warnings.
	Logger *slog.Logger
}

// Start creates and starts the mesh. Stop it with Mesh.Stop.
func Start(ctx context.Context, opts Options) (*happner.Mesh, error) {
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("benchmesh: invalid port %d", opts.Port)
	}
	if opts.Secure && opts.AdminPassword == "" {
		return nil, errors.New("benchmesh: a secure mesh needs an admin password")
	}
	name := opts.Name
	if name == "" {
		name = "benchMesh"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := happner.NewRegistry()
	reg.RegisterValue("calc", Calc{})
	cfg := happner.Config{
		Name: name,
		Happn: happn.Config{Host: opts.Host, Port: opts.Port, Secure: opts.Secure,
			AdminPassword: opts.AdminPassword, Logger: log},
		Registry:       reg,
		Logger:         log,
		Components:     map[string]happner.ComponentConfig{"calc": {}},
		ComponentOrder: []string{"calc"},
	}
	m, err := happner.Create(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("benchmesh: %w", err)
	}
	return m, nil
}
