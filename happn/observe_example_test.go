package happn_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/happner-go/happner/happn"
)

// Every server answers /health, /ready and /metrics. A layer above the
// server adds its part of readiness: while it fails, /ready is 503 and says
// what is missing.
func ExampleServer_AddReadyCheck() {
	ctx := context.Background()
	srv, err := happn.New(happn.Config{Host: "127.0.0.1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	if err := srv.Start(ctx); err != nil {
		panic(err)
	}
	defer srv.Stop(ctx)

	get := func(path string) string {
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprint(resp.StatusCode, " ", strings.TrimSpace(string(b)))
	}
	var warm atomic.Bool
	srv.AddReadyCheck("cache", func() (bool, any) {
		return warm.Load(), map[string]string{"cache": "loading"}
	})
	fmt.Println(get(happn.HealthPath))
	fmt.Println(get(happn.ReadyPath))
	warm.Store(true)
	fmt.Println(get(happn.ReadyPath))
	fmt.Println(strings.Contains(get(happn.MetricsPath), `happner_requests_total{action="set",status="ok"} 0`))
	// Output:
	// 200 {"status":"ok"}
	// 503 {"ready":false,"missing":{"cache":{"cache":"loading"}}}
	// 200 {"ready":true}
	// true
}
