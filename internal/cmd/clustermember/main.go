// Command clustermember runs one cluster member on a PostgreSQL shared
// store, for tests and benchmarks that need members in separate processes
// (crash tests: the test SIGKILLs it; bench/cmd/clusterscale). Once the
// member is stable it prints one line
//
//	READY <name> <memberId> <clientAddr> <url>
//
// and runs until SIGINT or SIGTERM, when it leaves the cluster cleanly.
// With -report-security it also prints
//
//	SECURITY <event>
//
// for every change of the security directory it learns of, its own or
// another member's.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/happner-go/happner/cluster"
	"github.com/happner-go/happner/gctune"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "clustermember:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		dsn     = flag.String("dsn", "", "PostgreSQL DSN of the shared store (required)")
		dep     = flag.String("deployment", "", "deploymentId (required)")
		name    = flag.String("name", "", "member name (default: generated)")
		domain  = flag.String("domain", "DOMAIN_NAME", "mesh domain")
		service = flag.String("service", "default-service", "serviceName")
		deps    = flag.String("deps", "", "dependencies: service=count,...")
		pulse   = flag.Duration("pulse", 100*time.Millisecond, "pulse interval")
		scan    = flag.Duration("scan", 100*time.Millisecond, "member scanning interval")
		stale   = flag.Duration("stale", time.Second, "stale member threshold")
		disc    = flag.Duration("discover", 20*time.Second, "discover timeout")
		secInt  = flag.Duration("security-interval", 50*time.Millisecond, "security change replication interval")
		secure  = flag.Bool("secure", false, "secure member (_ADMIN logins between members)")
		adminPw = flag.String("admin-password", "happn", "_ADMIN password of a secure member")
		report  = flag.Bool("report-security", false, "print SECURITY <event> for every security change")
		verbose = flag.Bool("v", false, "log at info level")
		profile = flag.String("cpuprofile", "", "write a CPU profile to this file until the member stops")
	)
	flag.Parse()
	if *dsn == "" || *dep == "" {
		return fmt.Errorf("-dsn and -deployment are required")
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// the collector's settings of the happner command (GOGC=200 and a soft
	// memory limit unless the environment says otherwise), so that what
	// the benchmarks measure is what a deployed member does
	if _, err := gctune.Apply(gctune.Options{}, os.LookupEnv); err != nil {
		return err
	}
	cfg := cluster.Config{}
	cfg.Name = *name
	cfg.Domain = *domain
	cfg.Logger = logger
	cfg.Happn.Host = "127.0.0.1"
	cfg.Happn.Secure = *secure
	cfg.Happn.AdminPassword = *adminPw
	cfg.Happn.Datastores = []store.DatastoreConfig{{
		Name: "shared", Provider: "postgres", IsDefault: true, Settings: map[string]any{"url": *dsn},
	}}
	cfg.Membership = cluster.MembershipConfig{
		DeploymentID: *dep, ServiceName: *service, PulseInterval: *pulse, MemberScanningInterval: *scan,
		StaleMemberThreshold: *stale, DiscoverTimeout: *disc, SecurityChangeSetReplicateInterval: *secInt,
	}
	if *deps != "" {
		cfg.Membership.Dependencies = map[string]int{}
		for _, kv := range strings.Split(*deps, ",") {
			k, v, ok := strings.Cut(kv, "=")
			n, err := strconv.Atoi(v)
			if !ok || err != nil {
				return fmt.Errorf("bad -deps entry %q (want service=count)", kv)
			}
			cfg.Membership.Dependencies[k] = n
		}
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m, err := cluster.Create(ctx, cfg)
	if err != nil {
		return err
	}
	if *report {
		// registered before READY, so that no change after it is missed;
		// the service calls it one change at a time
		defer m.Mesh().Server().Security().OnChange(func(c security.Change) {
			fmt.Printf("SECURITY %s\n", c.Event)
		})()
	}
	fmt.Printf("READY %s %s %s %s\n", m.Name(), m.MemberID(), m.ClientAddr(), m.URL())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return m.Stop(sctx)
}
