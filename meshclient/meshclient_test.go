package meshclient_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/meshclient"
)

type echo struct{}

func (echo) Say(s string) (string, error) { return s, nil }

func (echo) Wait(ms int) (string, error) {
	time.Sleep(time.Duration(ms) * time.Millisecond)
	return "waited", nil
}

func (echo) Shout(h *happner.Happn, s string) error { return h.Emit("shout", s) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newMesh(t *testing.T, port int) *happner.Mesh {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := happner.Create(ctx, happner.Config{
		Name:       "mc",
		Happn:      happn.Config{Host: "127.0.0.1", Port: port, Logger: quiet()},
		Logger:     quiet(),
		Modules:    map[string]happner.ModuleConfig{"echo": {Instance: echo{}}},
		Components: map[string]happner.ComponentConfig{"echo": {}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	return m
}

func TestInProcessLogin(t *testing.T) {
	m := newMesh(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mc, err := meshclient.Login(ctx, meshclient.Options{Dial: func(context.Context) (client.Transport, error) {
		return m.Server().ConnectLocal()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	var s string
	if err := mc.Call(ctx, "echo", "say", []any{"hi"}, &s); err != nil || s != "hi" {
		t.Fatalf("say %q %v", s, err)
	}
	if mc.Domain() != "mc" || mc.Secure() {
		t.Fatalf("domain %q secure %v", mc.Domain(), mc.Secure())
	}
	if err := mc.Do(ctx, happner.CallOptions{Mesh: "other", Component: "echo", Method: "say"}); err == nil ||
		err.Error() != "invalid endpoint options: [other] mesh does not exist on the api" {
		t.Fatalf("$call to another mesh: %v", err)
	}
	if err := mc.Do(ctx, happner.CallOptions{Mesh: "mc", Component: "echo", Method: "say", Arguments: []any{"x"}}, &s); err != nil || s != "x" {
		t.Fatalf("$call: %q %v", s, err)
	}
}

// After the mesh restarts the client logs in again with a new session,
// calls work and event subscriptions are back; calls in flight when the
// connection ended fail with connection-ended.
func TestReconnect(t *testing.T) {
	m1 := newMesh(t, 0)
	_, p, _ := net.SplitHostPort(m1.Addr())
	port, _ := strconv.Atoi(p)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reconnected := make(chan struct{}, 1)
	mc, err := meshclient.Login(ctx, meshclient.Options{
		URL:       "http://" + m1.Addr(),
		Reconnect: client.Reconnect{Min: 50 * time.Millisecond, Max: 200 * time.Millisecond},
		OnConnectionEvent: func(ev client.ConnectionEvent) {
			if ev.Type == client.EventReconnectSuccessful {
				reconnected <- struct{}{}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	got := make(chan string, 4)
	if _, err := mc.On(ctx, "echo", "shout", func(ev happner.Event) { got <- string(ev.Data) }); err != nil {
		t.Fatal(err)
	}
	var s string
	if err := mc.Call(ctx, "echo", "say", []any{"one"}, &s); err != nil {
		t.Fatal(err)
	}
	oldSession := mc.Data().Session().ID

	inflight := make(chan error, 1)
	go func() { inflight <- mc.Call(ctx, "echo", "wait", []any{2000}) }()
	time.Sleep(100 * time.Millisecond)
	// Stop waits for calls in flight only until its context ends.
	stopCtx, stopCancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_ = m1.Stop(stopCtx)
	stopCancel()
	select {
	case err := <-inflight:
		if !errors.Is(err, meshclient.ErrConnectionEnded) {
			t.Fatalf("in-flight call: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("in-flight call never failed")
	}
	newMesh(t, port)
	select {
	case <-reconnected:
	case <-ctx.Done():
		t.Fatal("no reconnect")
	}
	if mc.Data().Session().ID == oldSession {
		t.Fatal("same session after reconnect")
	}
	if err := mc.Call(ctx, "echo", "say", []any{"two"}, &s); err != nil || s != "two" {
		t.Fatalf("say after reconnect: %q %v", s, err)
	}
	if err := mc.Call(ctx, "echo", "shout", []any{"loud"}); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-got:
		if d != `{"value":"loud"}` {
			t.Fatalf("event %s", d)
		}
	case <-ctx.Done():
		t.Fatal("event subscription not restored")
	}
}

// BenchmarkCall measures sequential calls from a websocket MeshClient.
func BenchmarkCall(b *testing.B) {
	ctx := context.Background()
	m, err := happner.Create(ctx, happner.Config{
		Name: "bench", Happn: happn.Config{Host: "127.0.0.1", Logger: quiet()}, Logger: quiet(),
		Modules: map[string]happner.ModuleConfig{"echo": {Instance: echo{}}}, Components: map[string]happner.ComponentConfig{"echo": {}},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Stop(ctx)
	mc, err := meshclient.Login(ctx, meshclient.Options{URL: "http://" + m.Addr()})
	if err != nil {
		b.Fatal(err)
	}
	defer mc.Close()
	var s string
	b.ResetTimer()
	for range b.N {
		if err := mc.Call(ctx, "echo", "say", []any{"x"}, &s); err != nil {
			b.Fatal(err)
		}
	}
}
