package happner_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/meshclient"
)

// stockError is a component's own error type. ErrorName chooses the name
// callers see (the JavaScript error's name) and ErrorFields adds fields
// beside name and message.
type stockError struct {
	Item      string
	Available int
}

func (e *stockError) Error() string     { return "not enough " + e.Item }
func (e *stockError) ErrorName() string { return "StockError" }
func (e *stockError) ErrorFields() map[string]any {
	return map[string]any{"item": e.Item, "available": e.Available}
}

// pearStore is a component whose method fails with a stockError.
type pearStore struct{}

// Take fails: nothing is in stock.
func (pearStore) Take(item string, qty int) error {
	return fmt.Errorf("take %d: %w", qty, &stockError{Item: item, Available: 0})
}

// A method's error reaches callers over the wire as a *happner.Error: the
// name and fields from ErrorNamer and ErrorFielder, Error() the message
// alone. The npm clients receive {"name": "StockError", "message": "take
// 3: not enough pears", "item": "pears", "available": 0}.
func ExampleErrorNamer() {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	mesh, err := happner.Create(ctx, happner.Config{
		Name: "shop", Logger: quiet,
		Happn:      happn.Config{Host: "127.0.0.1", Logger: quiet},
		Modules:    map[string]happner.ModuleConfig{"store": {Instance: pearStore{}}},
		Components: map[string]happner.ComponentConfig{"store": {}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mesh.Stop(ctx)
	client, err := meshclient.Login(ctx, meshclient.Options{URL: "http://" + mesh.Addr()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	err = client.Call(ctx, "store", "take", []any{"pears", 3})
	var he *happner.Error
	if errors.As(err, &he) {
		fmt.Println(he.Name)
		fmt.Println(err)
		fmt.Println(he.Fields["item"], he.Fields["available"])
	}
	// Output:
	// StockError
	// take 3: not enough pears
	// pears 0
}
