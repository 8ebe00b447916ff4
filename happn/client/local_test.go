package client_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
)

// An in-process client has the same API as a websocket client and reaches
// websocket clients' subscriptions, and theirs reach it.
func TestInProcessClient(t *testing.T) {
	srv, url := startServer(t, happn.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	local, err := client.New(ctx, client.Options{Dial: func(context.Context) (client.Transport, error) {
		return srv.ConnectLocal()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	remote, err := client.New(ctx, client.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()

	got := make(chan string, 2)
	if _, err := remote.On(ctx, "/inproc/*", client.OnOptions{}, func(e client.Event) { got <- "remote:" + string(e.Data) }); err != nil {
		t.Fatal(err)
	}
	if _, err := local.On(ctx, "/inproc/*", client.OnOptions{}, func(e client.Event) { got <- "local:" + string(e.Data) }); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Set(ctx, "/inproc/a", map[string]int{"v": 1}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 2 {
		select {
		case s := <-got:
			seen[s] = true
		case <-ctx.Done():
			t.Fatalf("events: got %v", seen)
		}
	}
	if !seen[`remote:{"v":1}`] || !seen[`local:{"v":1}`] {
		t.Fatalf("events: %v", seen)
	}
	res, err := remote.Get(ctx, "/inproc/a")
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ V int }
	if err := json.Unmarshal(res.One().Data, &v); err != nil || v.V != 1 {
		t.Fatalf("remote get after local set: %+v %v", res, err)
	}
	if err := local.Close(); err != nil {
		t.Fatal(err)
	}
	if n := srv.Sessions(); n != 1 {
		t.Fatalf("sessions after closing the local client: %d, want 1", n)
	}
}
