package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
)

// ExampleNew connects to a happn server, subscribes to a path, writes to
// it and reads it back.
func ExampleNew() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv, err := happn.New(happn.Config{Host: "127.0.0.1", Port: 0, Name: "example", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := srv.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = srv.Stop(ctx) }()

	c, err := client.New(ctx, client.Options{URL: "http://" + srv.Addr()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	got := make(chan client.Event, 1)
	if _, err := c.On(ctx, "/greetings/*", client.OnOptions{EventType: "set"}, func(e client.Event) { got <- e }); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.Set(ctx, "/greetings/en", map[string]string{"text": "hello"}); err != nil {
		fmt.Println(err)
		return
	}
	e := <-got
	fmt.Println("event:", e.Meta.Channel, e.Meta.Path, string(e.Data))

	res, err := c.Get(ctx, "/greetings/en")
	if err != nil {
		fmt.Println(err)
		return
	}
	var doc struct{ Text string }
	if err := res.One().Decode(&doc); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("stored:", doc.Text)
	// Output:
	// event: /SET@/greetings/* /greetings/en {"text":"hello"}
	// stored: hello
}
