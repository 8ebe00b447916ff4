// Command brokercluster runs a small brokered cluster in one process on an
// in-memory shared store, for the npm interop tests: two internal members
// implementing remoteComponent (version 2.0.0) and an edge member whose
// component "broker" brokers it ($broker, range ^2.0.0). It prints
//
//	INTERNAL <index> <name>     for each internal member
//	EDGE <name> <host>:<port>   the edge's client address, once stable
//
// and then reads commands on stdin, one a line:
//
//	stop <index>   stops that internal member; prints STOPPED <index> <name>
//	start          starts another internal member; prints INTERNAL <index> <name>
//
// SIGUSR1 stops the first internal member still running. SIGINT or SIGTERM
// stop everything.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/cluster"
	"github.com/happner-go/happner/store/memory"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "brokercluster:", err)
		os.Exit(1)
	}
}

// remoteComponent is the component the internal members implement.
type remoteComponent struct{}

// Method1 answers "<member>:<arg>".
func (remoteComponent) Method1(h *happner.Happn, arg string) string {
	return h.Info.Mesh.Name + ":" + arg
}

// Fail returns "test error".
func (remoteComponent) Fail() error { return happner.NewError("Error", "test error") }

// Slow answers the member's name after ms milliseconds.
func (remoteComponent) Slow(h *happner.Happn, ms int) string {
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
	case <-h.Ctx.Done():
	}
	return h.Info.Mesh.Name
}

// Fire emits key with the member's name.
func (remoteComponent) Fire(h *happner.Happn, key string) error {
	return h.Emit(key, map[string]any{"from": h.Info.Mesh.Name})
}

// broker is the edge's component declaring $broker.
type broker struct{}

// Ping answers "pong".
func (broker) Ping() string { return "pong" }

type app struct {
	host   string
	shared *memory.Store
	logger *slog.Logger

	mu       sync.Mutex
	internal []*cluster.Member // nil once stopped
}

func (a *app) base(service string) cluster.Config {
	var c cluster.Config
	c.Domain = "DOMAIN_NAME"
	c.Logger = a.logger
	c.Happn.Host = a.host
	c.SharedStore = a.shared
	c.Cluster.ResponseTimeout = 5 * time.Second
	c.Membership = cluster.MembershipConfig{
		DeploymentID: "brokercluster", ServiceName: service,
		PulseInterval: 100 * time.Millisecond, MemberScanningInterval: 100 * time.Millisecond,
		StaleMemberThreshold: time.Second, DiscoverTimeout: 20 * time.Second, StabiliseTimeout: 20 * time.Second,
		SecurityChangeSetReplicateInterval: 50 * time.Millisecond,
	}
	return c
}

func (a *app) startInternal(ctx context.Context) error {
	c := a.base("internal")
	c.Modules = map[string]happner.ModuleConfig{"remoteComponent": {Instance: remoteComponent{}, Version: "2.0.0"}}
	c.Components = map[string]happner.ComponentConfig{"remoteComponent": {}}
	m, err := cluster.Create(ctx, c)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.internal = append(a.internal, m)
	i := len(a.internal) - 1
	a.mu.Unlock()
	fmt.Printf("INTERNAL %d %s\n", i, m.Name())
	return nil
}

func (a *app) stopInternal(i int) error {
	a.mu.Lock()
	if i < 0 || i >= len(a.internal) || a.internal[i] == nil {
		a.mu.Unlock()
		return fmt.Errorf("no running internal member %d", i)
	}
	m := a.internal[i]
	a.internal[i] = nil
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := m.Stop(ctx)
	fmt.Printf("STOPPED %d %s\n", i, m.Name())
	return err
}

func (a *app) firstRunning() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, m := range a.internal {
		if m != nil {
			return i
		}
	}
	return -1
}

func run() error {
	var (
		host    = flag.String("host", "127.0.0.1", "host to listen on")
		port    = flag.Int("port", 0, "edge client port (0 picks one)")
		timeout = flag.Int("timeout", 0, "edge setOptions.timeout in ms (0: 10000)")
		verbose = flag.Bool("v", false, "log at info level")
	)
	flag.Parse()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	a := &app{host: *host, shared: memory.New(), logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))}
	defer a.shared.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for range 2 {
		if err := a.startInternal(ctx); err != nil {
			return err
		}
	}
	ec := a.base("edge")
	ec.Membership.Dependencies = map[string]int{"internal": 2}
	ec.Proxy.Port = *port
	ec.SetOptions.Timeout = *timeout
	ec.Modules = map[string]happner.ModuleConfig{"broker": {Instance: broker{}, Version: "1.0.1"}}
	ec.Components = map[string]happner.ComponentConfig{"broker": {Dependencies: map[string]any{
		cluster.BrokerKey: map[string]any{"remoteComponent": map[string]any{
			"version": "^2.0.0",
			"methods": map[string]any{"method1": map[string]any{}, "fail": map[string]any{}, "slow": map[string]any{}, "fire": map[string]any{}},
		}},
	}}}
	edge, err := cluster.Create(ctx, ec)
	if err != nil {
		return err
	}
	// every internal member's entry is in place before clients come
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n := 0
		for _, e := range edge.BrokeredEntries() {
			if e.MeshName != "" {
				n++
			}
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("the edge did not see both internal members")
		}
	}
	fmt.Printf("EDGE %s %s\n", edge.Name(), edge.ClientAddr())

	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-usr1:
			if i := a.firstRunning(); i >= 0 {
				a.report(a.stopInternal(i))
			}
		case l := <-lines:
			f := strings.Fields(l)
			switch {
			case len(f) == 2 && f[0] == "stop":
				i, err := strconv.Atoi(f[1])
				if err != nil {
					a.report(fmt.Errorf("bad index %q", f[1]))
					continue
				}
				a.report(a.stopInternal(i))
			case len(f) == 1 && f[0] == "start":
				a.report(a.startInternal(ctx))
			case len(f) > 0:
				a.report(fmt.Errorf("unknown command %q", l))
			}
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs := []error{edge.Stop(sctx)}
	a.mu.Lock()
	rest := a.internal
	a.mu.Unlock()
	for _, m := range rest {
		if m != nil {
			errs = append(errs, m.Stop(sctx))
		}
	}
	return errors.Join(errs...)
}

// report prints a command's error (the process keeps running).
func (a *app) report(err error) {
	if err != nil {
		fmt.Printf("ERROR %v\n", err)
	}
}
