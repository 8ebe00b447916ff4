package cluster

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"fmt"
	"github.com/happner-go/happner"
	"github.com/happner-go/happner/internal/mongotest"
	"github.com/happner-go/happner/internal/pgtest"
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/memory"
	"github.com/happner-go/happner/store/mongo"
	"github.com/happner-go/happner/store/postgres"
	"math/rand/v2"
	"os"
)

// quiet is the members' logger: silent, or the debug log on stderr when
// HAPPNER_TEST_LOG=debug (to follow a failing test).
var quiet = testLogger()

func testLogger() *slog.Logger {
	if os.Getenv("HAPPNER_TEST_LOG") == "debug" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// slack is how many times longer the tests wait, and let calls take, on
// the shared store in use: FerretDB (HAPPNER_CLUSTER_STORE=mongo) reads its
// whole collection for every query, so a member that re-reads the security
// directory or the registry can take seconds under load where memory and
// PostgreSQL take milliseconds.
func slack() time.Duration {
	if os.Getenv("HAPPNER_CLUSTER_STORE") == "mongo" {
		return 3
	}
	return 1
}

// testConfig is a member config with short intervals on a shared store.
func testConfig(dep, service string, deps map[string]int, shared store.Store) Config {
	var c Config
	c.Domain = "DOMAIN_NAME"
	c.Logger = quiet
	c.Happn.Host = "127.0.0.1"
	c.SharedStore = shared
	c.Membership = MembershipConfig{
		DeploymentID: dep, ServiceName: service, Dependencies: deps,
		PulseInterval: 50 * time.Millisecond, MemberScanningInterval: 100 * time.Millisecond,
		StaleMemberThreshold: 600 * time.Millisecond, DiscoverTimeout: 5 * time.Second,
		StabiliseTimeout:                   5 * time.Second,
		SecurityChangeSetReplicateInterval: 50 * time.Millisecond,
	}
	if os.Getenv("HAPPNER_CLUSTER_STORE") == "mongo" {
		// The tests' MongoDB is FerretDB on SQLite, which reads every
		// document of the collection for each query: under load a pulse or
		// a scan can take a few hundred milliseconds, so members pulse and
		// scan less often and get more slack before they count as stale
		// or give up discovering.
		c.Membership.PulseInterval = 150 * time.Millisecond
		c.Membership.MemberScanningInterval = 300 * time.Millisecond
		c.Membership.StaleMemberThreshold = 2 * time.Second
		c.Membership.DiscoverTimeout = 20 * time.Second
		c.Membership.StabiliseTimeout = 20 * time.Second
	}
	return c
}

// emitter is a component that emits events.
type emitter struct{}

// Fire emits key, locally only when local is set.
func (emitter) Fire(h *happner.Happn, key string, local bool) error {
	if local {
		return h.EmitLocal(key, map[string]any{"key": key})
	}
	return h.Emit(key, map[string]any{"key": key})
}

func withEmitter(c Config) Config {
	c.Modules = map[string]happner.ModuleConfig{"emitter": {Instance: emitter{}, Version: "1.0.0"}}
	c.Components = map[string]happner.ComponentConfig{"emitter": {}}
	return c
}

// startAll creates members concurrently and stops them when the test ends.
func startAll(t *testing.T, cfgs ...Config) []*Member {
	t.Helper()
	out := make([]*Member, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for i, c := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = Create(ctx, c)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if out[i] != nil {
			m := out[i]
			t.Cleanup(func() { _ = m.Stop(context.Background()) })
		}
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
	return out
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	d *= slack()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func peerNames(m *Member) []string {
	var out []string
	for _, p := range m.Peers() {
		out = append(out, p.Name)
	}
	return out
}

// freePort returns a port that is free now, for tests that must know a
// member's client port before it opens. It is taken below Linux's
// ephemeral range (32768-60999), so that the client sockets and port-0
// listeners of tests running meanwhile cannot be handed the same port.
func freePort(t *testing.T) int {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		return port
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// newShared returns the store that the members of one test share: in
// memory, or, with HAPPNER_CLUSTER_STORE=postgres or =mongo, a fresh
// database on the tests' private PostgreSQL or MongoDB-protocol (FerretDB)
// server, so that the whole suite also runs on a real shared database
// (scripts/test-all.sh runs the integration tests all three ways). The
// store is closed when the test ends.
func newShared(t testing.TB) store.Store {
	var st store.Store
	var err error
	switch kind := os.Getenv("HAPPNER_CLUSTER_STORE"); kind {
	case "", "memory":
		st = memory.New()
	case "postgres":
		st, err = postgres.Open(context.Background(), postgres.Options{URL: pgtest.Start(t)})
	case "mongo":
		db := mongotest.Start(t)
		st, err = mongo.Open(context.Background(), mongo.Options{URL: db.URL, Database: db.Database})
	default:
		t.Fatalf("HAPPNER_CLUSTER_STORE=%q: want memory, postgres or mongo", kind)
	}
	if err != nil {
		t.Fatalf("opening the shared %s store: %v", os.Getenv("HAPPNER_CLUSTER_STORE"), err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}
