package happner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
)

// A dependency reads the same whether it is a typed value, a map as Go
// code or a JSON/YAML config file gives it, methods as a list or as
// happner's map.
func ExampleParseDependencies() {
	typed := map[string]any{
		"pricing": happner.Dependency{Version: "^1.0.0", Methods: []string{"price"}},
	}
	asMap := map[string]any{
		"pricing": map[string]any{"version": "^1.0.0", "methods": []string{"price"}},
	}
	var fromFile map[string]any
	_ = json.Unmarshal([]byte(`{"pricing": {"version": "^1.0.0", "methods": {"price": {}}}}`), &fromFile)

	a, _ := happner.ParseDependencies(typed)
	b, _ := happner.ParseDependencies(asMap)
	c, _ := happner.ParseDependencies(fromFile)
	fmt.Println(reflect.DeepEqual(a, b), reflect.DeepEqual(a, c))
	fmt.Println(a.Range("pricing"), a.Components["pricing"].Methods)
	// Output:
	// true true
	// ^1.0.0 [price]
}

// orderDesk declares what its components use from the cluster in its module
// schema, as a node module's package.json happner.dependencies does.
type orderDesk struct{}

// Place places an order.
func (orderDesk) Place(item string) string { return "placed " + item }

func (orderDesk) HappnerSchema() happner.ModuleSchema {
	return happner.ModuleSchema{
		Version: "1.0.0",
		Dependencies: map[string]map[string]any{
			"orders": {
				"pricing":  happner.Dependency{Version: "^1.0.0", Methods: []string{"price"}},
				"shipping": happner.Dependency{Version: "^2.0.0"}, // events only
			},
		},
	}
}

// The module's dependencies and the component config's are merged, the
// config's entry winning: here a deployment narrows pricing's range.
func ExampleModuleSchema_dependencies() {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	mesh, err := happner.Create(ctx, happner.Config{
		Name: "shop", Logger: quiet,
		Happn:   happn.Config{Host: "127.0.0.1", Logger: quiet},
		Modules: map[string]happner.ModuleConfig{"orders": {Instance: orderDesk{}}},
		Components: map[string]happner.ComponentConfig{"orders": {Dependencies: map[string]any{
			"pricing": map[string]any{"version": "~1.4.0", "methods": map[string]any{"price": map[string]any{}}},
		}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mesh.Stop(ctx)
	deps, _ := mesh.Dependencies("orders")
	for _, d := range deps.List() {
		fmt.Println(d.Component, d.Version, d.Methods, d.EventsOnly())
	}
	// Output:
	// pricing ~1.4.0 [price] false
	// shipping ^2.0.0 [] true
}
