// Package testserver starts an in-process happner-go server for the
// benchmark harness's own tests.
package testserver

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/happner-go/happner/happn"
)

// Start runs a happn server on 127.0.0.1 with a free port, stops it when
// the test ends, and returns its address. Host, Port, Name and Logger of
// cfg are filled in.
func Start(t testing.TB, cfg happn.Config) string {
	t.Helper()
	cfg.Host, cfg.Port = "127.0.0.1", 0
	if cfg.Name == "" {
		cfg.Name = "bench-test"
	}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := happn.New(cfg)
	if err != nil {
		t.Fatalf("happn.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Errorf("stop server: %v", err)
		}
	})
	return srv.Addr()
}
