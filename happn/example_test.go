package happn_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
)

// A server on a free loopback port, and a client that subscribes to a
// wildcard path and writes under it.
func ExampleServer() {
	ctx := context.Background()
	srv, err := happn.New(happn.Config{
		Host:   "127.0.0.1",
		Name:   "example",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	if err := srv.Start(ctx); err != nil {
		panic(err)
	}
	defer srv.Stop(ctx)

	c, err := client.New(ctx, client.Options{URL: "http://" + srv.Addr()})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	events := make(chan string, 1)
	_, err = c.On(ctx, "/sensors/*", client.OnOptions{}, func(e client.Event) {
		events <- e.Meta.Path + " " + string(e.Data)
	})
	if err != nil {
		panic(err)
	}
	if _, err := c.Set(ctx, "/sensors/t1", map[string]int{"celsius": 21}); err != nil {
		panic(err)
	}
	fmt.Println(<-events)
	n, err := c.Count(ctx, "/sensors/*")
	if err != nil {
		panic(err)
	}
	fmt.Println("count:", n)
	// Output:
	// /sensors/t1 {"celsius":21}
	// count: 1
}
