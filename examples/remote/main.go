// Command remote shows happner-cluster's remote components: a "pricing"
// service runs on two members, an "orders" member depends on it
// (version ^1.0.0) and calls it through its $happn exchange as if it were
// local; the calls go round-robin between the two pricing members. All
// three members run in this process on one in-memory store.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/cluster"
	"github.com/happner-go/happner/store/memory"
)

// Pricing prices items; Member says which member answered.
type Pricing struct{ Member string }

// Price returns the unit price of an item and the member that priced it.
func (p *Pricing) Price(item string) (float64, string, error) {
	prices := map[string]float64{"apple": 0.5, "pear": 0.75}
	v, ok := prices[item]
	if !ok {
		return 0, p.Member, happner.NewError("UnknownItem", "no price for "+item)
	}
	return v, p.Member, nil
}

// Orders takes orders, pricing them through the remote pricing component.
type Orders struct{}

// Place returns the total of an order and the member that priced it.
func (Orders) Place(h *happner.Happn, item string, qty int) (string, error) {
	var unit float64
	var by string
	if err := h.Exchange.Call(h.Ctx, "pricing", "price", []any{item}, &unit, &by); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d %s = %.2f (priced by %s)", qty, item, unit*float64(qty), by), nil
}

func member(service string, deps map[string]int, shared *memory.Store) cluster.Config {
	var c cluster.Config
	c.Domain = "shop"
	c.Happn.Host = "127.0.0.1"
	c.SharedStore = shared
	c.Membership = cluster.MembershipConfig{
		DeploymentID: "remote-example", ServiceName: service, Dependencies: deps,
		PulseInterval: 100 * time.Millisecond, MemberScanningInterval: 200 * time.Millisecond,
	}
	return c
}

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shared := memory.New()
	defer shared.Close()

	var configs []cluster.Config
	for _, name := range []string{"pricing-a", "pricing-b"} {
		c := member("pricing", map[string]int{"orders": 1}, shared)
		c.Modules = map[string]happner.ModuleConfig{"pricing": {Instance: &Pricing{Member: name}, Version: "1.2.0"}}
		c.Components = map[string]happner.ComponentConfig{"pricing": {}}
		configs = append(configs, c)
	}
	orders := member("orders", map[string]int{"pricing": 2}, shared)
	orders.Modules = map[string]happner.ModuleConfig{"orders": {Instance: Orders{}, Version: "1.0.0"}}
	orders.Components = map[string]happner.ComponentConfig{"orders": {
		// the counterpart of package.json happner.dependencies.orders (a
		// module may also declare it in its HappnerSchema)
		Dependencies: map[string]any{"pricing": happner.Dependency{Version: "^1.0.0", Methods: []string{"price"}}},
	}}
	configs = append(configs, orders)

	members := make([]*cluster.Member, len(configs))
	var wg sync.WaitGroup
	for i, c := range configs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := cluster.Create(ctx, c)
			if err != nil {
				log.Fatalf("member %d: %v", i, err)
			}
			members[i] = m
		}()
	}
	wg.Wait()
	defer func() {
		for _, m := range members {
			_ = m.Stop(context.Background())
		}
	}()

	ordersMember := members[2]
	for _, item := range []string{"apple", "pear", "apple", "kiwi"} {
		var line string
		err := ordersMember.Mesh().Exchange().Call(ctx, "orders", "place", []any{item, 4}, &line)
		if err != nil {
			fmt.Println(item+":", err)
			continue
		}
		fmt.Println(line)
	}
}
