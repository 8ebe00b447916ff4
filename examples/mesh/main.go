// Command mesh is a small happner mesh: a "pricing" component that the
// "orders" component calls through its $happn exchange, an event emitted on
// every order, and a Go MeshClient that calls orders over the wire and
// listens to the events.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/meshclient"
)

// Pricing prices items.
type Pricing struct{}

// Price returns the unit price of an item.
func (Pricing) Price(item string) (float64, error) {
	prices := map[string]float64{"apple": 0.5, "pear": 0.75}
	p, ok := prices[item]
	if !ok {
		return 0, happner.NewError("UnknownItem", "no price for "+item).With("item", item)
	}
	return p, nil
}

// Orders takes orders, pricing them through the pricing component.
type Orders struct{}

// Place prices an order, emits "orders/placed" and returns the total and
// the order's number of items.
func (Orders) Place(h *happner.Happn, item string, qty int) (float64, int, error) {
	unit, err := happner.Call[float64](h.Ctx, h.Exchange, "pricing", "price", item)
	if err != nil {
		return 0, 0, err
	}
	total := unit * float64(qty)
	if err := h.Emit("orders/placed", map[string]any{"item": item, "qty": qty, "total": total}); err != nil {
		return 0, 0, err
	}
	return total, qty, nil
}

// HappnerSchema names the parameters for clients.
func (Orders) HappnerSchema() happner.ModuleSchema {
	return happner.ModuleSchema{Version: "1.0.0", Schema: happner.Schema{Methods: map[string]happner.MethodSchema{
		"place": {Parameters: []happner.Param{{Name: "item"}, {Name: "qty"}}},
	}}}
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := happner.NewRegistry()
	reg.RegisterValue("pricing", Pricing{})
	reg.RegisterValue("orders", Orders{})
	mesh, err := happner.Create(ctx, happner.Config{
		Name:       "shop",
		Happn:      happn.Config{Host: "127.0.0.1", Logger: logger},
		Registry:   reg,
		Logger:     logger,
		Components: map[string]happner.ComponentConfig{"pricing": {}, "orders": {}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = mesh.Stop(context.Background()) }()
	fmt.Println("mesh listening on", mesh.Addr())

	client, err := meshclient.Login(ctx, meshclient.Options{URL: "http://" + mesh.Addr()})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	placed := make(chan happner.Event, 1)
	if _, err := client.On(ctx, "orders", "orders/*", func(ev happner.Event) { placed <- ev }); err != nil {
		log.Fatal(err)
	}
	var total float64
	var qty int
	if err := client.Call(ctx, "orders", "place", []any{"pear", 4}, &total, &qty); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("4 pears cost %.2f (%d items)\n", total, qty)
	ev := <-placed
	fmt.Printf("event %s: %s\n", ev.Meta.Path, ev.Data)
	err = client.Call(ctx, "orders", "place", []any{"kiwi", 1})
	fmt.Println("kiwi:", err)
}
