package wire

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner/bench/internal/testserver"
	"github.com/happner-go/happner/happn"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, addr string, opts Options) *Client {
	t.Helper()
	c, err := Dial(testCtx(t), addr, opts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestHandshakeSetGet(t *testing.T) {
	addr := testserver.Start(t, happn.Config{Name: "wire-test"})
	c := dial(t, addr, Options{})
	if c.SessionID == "" {
		t.Fatal("no session id after login")
	}
	if c.ServerName != "wire-test" || c.Secure {
		t.Fatalf("describe: name %q secure %v, want wire-test false", c.ServerName, c.Secure)
	}
	ctx := testCtx(t)
	r, err := c.Call(ctx, "set", "/bench/a", []byte(`{"x":1}`), nil)
	if err != nil {
		t.Fatalf("set: %v", err)
	}
	var got struct{ X int }
	if err := json.Unmarshal(r.Data, &got); err != nil || got.X != 1 {
		t.Fatalf("set reply data %s (%v), want {\"x\":1}", r.Data, err)
	}
	r, err = c.Call(ctx, "get", "/bench/a", nil, nil)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if err := json.Unmarshal(r.Data, &got); err != nil || got.X != 1 {
		t.Fatalf("get reply data %s (%v), want {\"x\":1}", r.Data, err)
	}
	r, err = c.Call(ctx, "get", "/bench/missing", nil, nil)
	if err != nil {
		t.Fatalf("get missing: %v", err)
	}
	if string(r.Data) != "null" {
		t.Fatalf("get missing: data %s, want null", r.Data)
	}
	// A wildcard get answers with the array form: items then meta.
	if _, err := c.Call(ctx, "set", "/bench/b", []byte(`5`), nil); err != nil {
		t.Fatalf("set primitive: %v", err)
	}
	r, err = c.Call(ctx, "get", "/bench/*", nil, nil)
	if err != nil {
		t.Fatalf("get wildcard: %v", err)
	}
	if len(r.Items) != 2 {
		t.Fatalf("get wildcard: %d items, want 2", len(r.Items))
	}
}

func TestServerErrorReply(t *testing.T) {
	addr := testserver.Start(t, happn.Config{})
	c := dial(t, addr, Options{})
	// A set path may not contain '*' (happn's path rules).
	_, err := c.Call(testCtx(t), "set", "/bench/*", []byte(`{}`), nil)
	var se *ServerError
	if !errors.As(err, &se) {
		t.Fatalf("set on a wildcard path: err %v, want a *ServerError", err)
	}
	if se.Message == "" {
		t.Fatalf("server error without message: %+v", se)
	}
	if c.Err() != nil {
		t.Fatalf("connection closed after an error reply: %v", c.Err())
	}
}

func TestPipelinedRepliesMatchRequests(t *testing.T) {
	addr := testserver.Start(t, happn.Config{})
	c := dial(t, addr, Options{})
	const n = 500
	var (
		mu   sync.Mutex
		got  = map[int64]bool{}
		sent = map[int64]bool{}
		wg   sync.WaitGroup
	)
	wg.Add(n)
	for i := 0; i < n; i++ {
		id, err := c.Send("set", "/bench/pipe", []byte(`{"i":1}`), nil, func(r Reply) {
			mu.Lock()
			if r.Err == nil {
				got[r.EventID] = true
			}
			mu.Unlock()
			wg.Done()
		})
		if err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
		sent[id] = true
	}
	wg.Wait()
	if len(got) != n {
		t.Fatalf("%d ok replies, want %d", len(got), n)
	}
	for id := range sent {
		if !got[id] {
			t.Fatalf("no reply for eventId %d", id)
		}
	}
	if c.Pending() != 0 {
		t.Fatalf("%d requests still pending", c.Pending())
	}
}

func TestEventsDelivered(t *testing.T) {
	addr := testserver.Start(t, happn.Config{})
	events := make(chan Event, 10)
	sub := dial(t, addr, Options{OnEvent: func(e Event) {
		e.Data = append(json.RawMessage(nil), e.Data...)
		events <- e
	}})
	ctx := testCtx(t)
	if _, err := sub.Call(ctx, "on", "/ALL@/bench/ev/*", nil, []byte(`{"event_type":"all","count":0}`)); err != nil {
		t.Fatalf("on: %v", err)
	}
	pub := dial(t, addr, Options{})
	if _, err := pub.Call(ctx, "set", "/bench/ev/1", []byte(`{"t":42}`), nil); err != nil {
		t.Fatalf("set: %v", err)
	}
	select {
	case e := <-events:
		if e.Channel != "/ALL@/bench/ev/*" || e.Path != "/bench/ev/1" {
			t.Fatalf("event channel %q path %q", e.Channel, e.Path)
		}
		var body struct{ T int64 }
		if err := json.Unmarshal(e.Data, &body); err != nil || body.T != 42 {
			t.Fatalf("event data %s (%v)", e.Data, err)
		}
	case <-ctx.Done():
		t.Fatal("no event delivered")
	}
	// A set outside the subscribed path must not arrive.
	if _, err := pub.Call(ctx, "set", "/bench/other/1", []byte(`{"t":1}`), nil); err != nil {
		t.Fatalf("set: %v", err)
	}
	select {
	case e := <-events:
		t.Fatalf("unexpected event for %s", e.Path)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestAnswersPrimusPings(t *testing.T) {
	// With a 50 ms ping interval a client that never pongs is dropped
	// after about two intervals.
	addr := testserver.Start(t, happn.Config{PingInterval: 50 * time.Millisecond})
	c := dial(t, addr, Options{})
	time.Sleep(400 * time.Millisecond)
	if err := c.Err(); err != nil {
		t.Fatalf("connection dropped despite pongs: %v", err)
	}
	if _, err := c.Call(testCtx(t), "get", "/bench/x", nil, nil); err != nil {
		t.Fatalf("get after pings: %v", err)
	}
}

func TestCloseFailsPending(t *testing.T) {
	addr := testserver.Start(t, happn.Config{})
	c, err := Dial(testCtx(t), addr, Options{})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := c.Send("get", "/x", nil, nil, func(Reply) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
}

func TestDialRefused(t *testing.T) {
	_, err := Dial(testCtx(t), "127.0.0.1:1", Options{HandshakeTimeout: time.Second})
	if err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
}

func TestManualFlushHoldsRequestsUntilFlush(t *testing.T) {
	addr := testserver.Start(t, happn.Config{})
	c := dial(t, addr, Options{ManualFlush: true})
	replies := make(chan Reply, 3)
	for i := 0; i < 3; i++ {
		if _, err := c.Send("get", "/bench/none", nil, nil, func(r Reply) { replies <- r }); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	select {
	case <-replies:
		t.Fatal("reply arrived before Flush")
	case <-time.After(150 * time.Millisecond):
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	for i := 0; i < 3; i++ {
		select {
		case r := <-replies:
			if r.Err != nil {
				t.Fatalf("reply %d: %v", i, r.Err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("reply %d missing after Flush", i)
		}
	}
	// Call flushes by itself even in ManualFlush mode.
	if _, err := c.Call(testCtx(t), "get", "/bench/none", nil, nil); err != nil {
		t.Fatalf("Call: %v", err)
	}
}
