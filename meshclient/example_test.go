package meshclient_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/meshclient"
)

// Greeter is the mesh's component.
type Greeter struct{}

// Greet greets and emits "greeted".
func (Greeter) Greet(h *happner.Happn, name string) (string, error) {
	return "hello " + name, h.Emit("greeted", map[string]string{"name": name})
}

// A Go MeshClient logs in to a mesh over the wire, calls a method and
// receives the component's events, as the npm happner-2 MeshClient does.
func ExampleLogin() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	mesh, err := happner.Create(ctx, happner.Config{
		Name:       "example",
		Happn:      happn.Config{Host: "127.0.0.1", Logger: quiet},
		Logger:     quiet,
		Modules:    map[string]happner.ModuleConfig{"greeter": {Instance: Greeter{}}},
		Components: map[string]happner.ComponentConfig{"greeter": {}},
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
	events := make(chan happner.Event, 1)
	if _, err := client.On(ctx, "greeter", "greeted", func(ev happner.Event) { events <- ev }); err != nil {
		fmt.Println(err)
		return
	}
	var greeting string
	if err := client.Call(ctx, "greeter", "greet", []any{"ada"}, &greeting); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(greeting)
	fmt.Println(string((<-events).Data))
	// Output:
	// hello ada
	// {"name":"ada"}
}
