package happn

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/happner-go/happner/metrics"
)

// Benchmarks of the request path without a network: frames go in through
// an in-process connection, replies are drained. They measure the server's
// own work per operation (decoding, storing, encoding, publishing).

func benchServer(b *testing.B, cfg Config) *Server {
	b.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return srv
}

func benchConn(b *testing.B, srv *Server, login string) *LocalConn {
	b.Helper()
	c, err := srv.ConnectLocal()
	if err != nil {
		b.Fatal(err)
	}
	must := func(frame string) {
		if err := c.Send([]byte(frame)); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Recv(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	must(`{"action":"configure-session","eventId":1,"data":{"protocol":"happn_4"}}`)
	must(`{"action":"login","eventId":2,"data":` + login + `}`)
	return c
}

// drain empties the connection's queue without waiting.
func drain(c *LocalConn) int {
	c.mu.Lock()
	n := len(c.queue)
	c.queue = c.queue[:0]
	c.mu.Unlock()
	return n
}

func runSets(b *testing.B, c *LocalConn) {
	frames := make([][]byte, 1000)
	for i := range frames {
		frames[i] = []byte(`{"action":"set","eventId":` + strconv.Itoa(i+10) + `,"path":"/bench/k` + strconv.Itoa(i) +
			`","data":{"value":12345,"name":"a sensor reading","tags":["x","y"]},"sessionId":"s","options":{"timeout":60000}}`)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Send(frames[i%len(frames)]); err != nil {
			b.Fatal(err)
		}
		if i%64 == 0 {
			drain(c)
		}
	}
}

func BenchmarkSet(b *testing.B) {
	srv := benchServer(b, Config{})
	runSets(b, benchConn(b, srv, `{}`))
}

func BenchmarkSetSecure(b *testing.B) {
	srv := benchServer(b, Config{Secure: true})
	runSets(b, benchConn(b, srv, `{"username":"_ADMIN","password":"happn"}`))
}

func BenchmarkGet(b *testing.B) { runGets(b, benchConn(b, benchServer(b, Config{}), `{}`)) }

func runGets(b *testing.B, c *LocalConn) {
	_ = c.Send([]byte(`{"action":"set","eventId":3,"path":"/bench/get","data":{"value":12345,"name":"a sensor reading"},"options":{}}`))
	drain(c)
	frame := []byte(`{"action":"get","eventId":4,"path":"/bench/get","data":null,"sessionId":"s","options":{"timeout":60000}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = c.Send(frame)
		if i%64 == 0 {
			drain(c)
		}
	}
}

// BenchmarkPublish10 is a set delivered to ten subscribed sessions; the
// time is per delivered event.
func BenchmarkPublish10(b *testing.B) { benchPublish10(b, Config{}, `{}`) }

// BenchmarkPublish10Secure is BenchmarkPublish10 on a secure server.
func BenchmarkPublish10Secure(b *testing.B) {
	benchPublish10(b, Config{Secure: true}, `{"username":"_ADMIN","password":"happn"}`)
}

func benchPublish10(b *testing.B, cfg Config, login string) {
	srv := benchServer(b, cfg)
	pub := benchConn(b, srv, login)
	subs := make([]*LocalConn, 10)
	for i := range subs {
		subs[i] = benchConn(b, srv, login)
		_ = subs[i].Send([]byte(`{"action":"on","eventId":5,"path":"/ALL@/bench/ev/*","data":null,"options":{"event_type":"all","count":0}}`))
		drain(subs[i])
	}
	frame := []byte(`{"action":"set","eventId":6,"path":"/bench/ev/1","data":{"value":1},"options":{"noStore":true}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += 10 {
		_ = pub.Send(frame)
		if i%640 == 0 {
			drain(pub)
			for _, s := range subs {
				drain(s)
			}
		}
	}
}

// BenchmarkMetrics runs the set, get and publish benchmarks on servers
// with metrics on and off, in one run, to show what metrics cost per
// operation (the README reports it).
func BenchmarkMetrics(b *testing.B) {
	off := false
	modes := []struct {
		name string
		opts metrics.Options
	}{{"on", metrics.Options{}}, {"off", metrics.Options{Enabled: &off}}}
	for _, m := range modes {
		cfg := Config{MetricsOptions: m.opts}
		b.Run("set/metrics="+m.name, func(b *testing.B) { runSets(b, benchConn(b, benchServer(b, cfg), `{}`)) })
		b.Run("get/metrics="+m.name, func(b *testing.B) { runGets(b, benchConn(b, benchServer(b, cfg), `{}`)) })
		b.Run("publish10/metrics="+m.name, func(b *testing.B) { benchPublish10(b, cfg, `{}`) })
	}
}
