package happner_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
)

// Pricing is a component: its exported methods are its API.
type Pricing struct{}

// Price returns the unit price of an item, or a named error.
func (Pricing) Price(item string) (float64, error) {
	if item != "pear" {
		return 0, happner.NewError("UnknownItem", "no price for "+item)
	}
	return 0.75, nil
}

// A mesh of components from a config in happner's shape; modules are
// looked up in the registry.
func ExampleCreate() {
	ctx := context.Background()
	reg := happner.NewRegistry()
	reg.RegisterValue("pricing", Pricing{})
	cfg, err := happner.ParseConfig([]byte(`
name: shop
modules: {pricing: {version: 1.0.0}}
components: {pricing: {}}
`), "yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg.Registry = reg
	cfg.Happn = happn.Config{Host: "127.0.0.1"} // port 0: any free port
	cfg.Logger = slog.New(slog.DiscardHandler)
	mesh, err := happner.Create(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mesh.Stop(ctx)

	price, err := happner.Call[float64](ctx, mesh.Exchange(), "pricing", "price", "pear")
	fmt.Println(price, err)
	_, err = happner.Call[float64](ctx, mesh.Exchange(), "pricing", "price", "kiwi")
	var named *happner.Error
	if errors.As(err, &named) {
		fmt.Println(named.Name, named.Message)
	}
	// Output:
	// 0.75 <nil>
	// UnknownItem no price for kiwi
}
