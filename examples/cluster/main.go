// Command cluster runs the seed README's example of happner-cluster in one
// process: three "historian" members, each needing two others before it is
// ready, sharing one in-memory store (the embedded default; a real cluster
// points happn.services.data.config.datastores at PostgreSQL instead).
// It prints each member's client port and stops on SIGINT.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/happner-go/happner/cluster"
	"github.com/happner-go/happner/dashboard"
	"github.com/happner-go/happner/store/memory"
)

// config is the seed README's member config, with faster discovery
// timings so the demo is up in a few seconds.
const config = `{
  "domain": "DOMAIN_NAME",
  "cluster": {},
  "happn": {
    "port": 0,
    "host": "127.0.0.1",
    "services": {
      "membership": {
        "config": {
          "deploymentId": "production-81f8084e-7e09-4cd2-a875-8b3fc5d10711",
          "clusterName": "happn-cluster",
          "serviceName": "historian",
          "discoverTimeoutMs": 60000,
          "pulseIntervalMs": 250,
          "memberScanningIntervalMs": 500,
          "memberScanningErrorThreshold": 3,
          "dependencies": { "historian": 2 },
          "replicationPaths": ["**"],
          "securityChangeSetReplicateInterval": 3000
        }
      }
    }
  },
  "modules": {},
  "components": {}
}`

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	shared := memory.New() // the store all three members share
	defer shared.Close()

	type result struct {
		m   *cluster.Member
		err error
	}
	results := make(chan result, 3)
	for range 3 {
		go func() {
			cfg, err := cluster.ParseConfig([]byte(config), "json")
			if err != nil {
				results <- result{err: err}
				return
			}
			cfg.SharedStore = shared
			m, err := cluster.Create(ctx, cfg)
			results <- result{m, err}
		}()
	}
	var members []*cluster.Member
	var failed error
	for range 3 {
		r := <-results
		if r.err != nil {
			failed = r.err
			continue
		}
		members = append(members, r.m)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, m := range members {
			_ = m.Stop(sctx)
		}
		fmt.Println("cluster down :(")
	}()
	if failed != nil {
		log.Printf("cluster failed to start: %v", failed)
		return
	}
	fmt.Println("cluster up :)")
	for _, m := range members {
		fmt.Printf("  %-28s status %-7s client port %s  (peers: %d, health: http://%s%s)\n",
			m.Name(), m.Status(), m.ClientAddr(), len(m.Peers()), m.ClientAddr(), cluster.HealthPath)
	}
	fmt.Printf("the cluster's live page: http://%s%s\n", members[0].ClientAddr(), dashboard.PagePath)
	fmt.Println("press Ctrl+C to stop")
	<-ctx.Done()
}
