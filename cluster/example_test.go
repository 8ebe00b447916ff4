package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/cluster"
	"github.com/happner-go/happner/store/memory"
)

// Pricing lives on one member only.
type Pricing struct{}

// Price returns the unit price of an item.
func (Pricing) Price(item string) (float64, error) { return 0.75, nil }

// Orders lives on another member and uses pricing through its exchange.
type Orders struct{}

// Place returns the price of qty items.
func (Orders) Place(h *happner.Happn, item string, qty int) (float64, error) {
	unit, err := happner.Call[float64](h.Ctx, h.Exchange, "pricing", "price", item)
	return unit * float64(qty), err
}

// Two members share a store (one in-memory store in one process; a real
// cluster points happn.services.data.config.datastores at PostgreSQL): a
// component of the second calls the first one's component as if it were
// its own. Its declared dependency makes the member start it only once
// pricing is there.
func ExampleCreate() {
	ctx := context.Background()
	shared := memory.New()
	defer shared.Close()
	config := func(name string) cluster.Config {
		var c cluster.Config
		c.Name, c.Domain = name, "shop"
		c.Logger = slog.New(slog.DiscardHandler)
		c.Happn.Host = "127.0.0.1"
		c.SharedStore = shared
		c.Membership = cluster.MembershipConfig{
			DeploymentID: "example", ServiceName: "shop", Dependencies: map[string]int{"shop": 1},
			PulseInterval: 100 * time.Millisecond, MemberScanningInterval: 100 * time.Millisecond,
		}
		return c
	}
	withPricing := config("pricing-member")
	withPricing.Modules = map[string]happner.ModuleConfig{"pricing": {Instance: Pricing{}, Version: "1.0.0"}}
	withPricing.Components = map[string]happner.ComponentConfig{"pricing": {}}

	withOrders := config("orders-member")
	withOrders.Modules = map[string]happner.ModuleConfig{"orders": {Instance: Orders{}, Version: "1.0.0"}}
	withOrders.Components = map[string]happner.ComponentConfig{"orders": {
		Dependencies: map[string]any{"pricing": map[string]any{"version": "^1.0.0", "methods": map[string]any{"price": map[string]any{}}}},
	}}

	started := make(chan *cluster.Member, 2)
	for _, cfg := range []cluster.Config{withPricing, withOrders} {
		go func() {
			m, err := cluster.Create(ctx, cfg)
			if err != nil {
				fmt.Println(err)
			}
			started <- m
		}()
	}
	members := map[string]*cluster.Member{}
	for range 2 {
		if m := <-started; m != nil {
			members[m.Name()] = m
			defer m.Stop(ctx)
		}
	}
	front := members["orders-member"]
	if front == nil {
		return
	}
	total, err := happner.Call[float64](ctx, front.Mesh().Exchange(), "orders", "place", "pear", 4)
	fmt.Println(total, err)
	// Output:
	// 3 <nil>
}
