package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/happner-go/happner/bench/internal/proc"
	"github.com/happner-go/happner/cluster"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/memory"
)

// inProcess is a cluster whose members all run in this process.
type inProcess struct {
	members []*cluster.Member
	shared  store.Store // the memory store; nil on PostgreSQL
	changes atomic.Int64
}

// memberConfig is the config of member i of n: the default membership
// intervals unless --pulse or --scan say otherwise, every other member a
// dependency, so that Create returns once the whole cluster is connected.
func memberConfig(cfg *config, i, n int, dep string, shared store.Store, dsn string, log *slog.Logger, keys *keyPair) cluster.Config {
	var c cluster.Config
	c.Name = fmt.Sprintf("member-%02d", i)
	c.Domain = benchDomain
	c.Logger = log
	c.Happn.Host = "127.0.0.1"
	if cfg.secure {
		c.Happn.Secure = true
		c.Happn.AdminPassword = adminPassword
	}
	if keys != nil {
		c.Happn.Security.AdminPublicKey = keys.public
	}
	if shared != nil {
		c.SharedStore = shared
	} else {
		c.Happn.Datastores = []store.DatastoreConfig{{
			Name: "shared", Provider: "postgres", IsDefault: true, Settings: map[string]any{"url": dsn},
		}}
	}
	c.Membership = cluster.MembershipConfig{
		DeploymentID: dep, ServiceName: benchService, Dependencies: map[string]int{benchService: n - 1},
		PulseInterval: cfg.pulse, MemberScanningInterval: cfg.scan, SecurityChangeSetReplicateInterval: cfg.secEvery,
		DiscoverTimeout: 5 * time.Minute, StabiliseTimeout: 5 * time.Minute,
	}
	if keys != nil {
		c.Membership.ClusterPrivateKey, c.Membership.ClusterPublicKey = keys.private, keys.public
	}
	return c
}

// keyPair is the RSA key pair members log into each other with (as
// _ADMIN, whose public key it is), in PEM.
type keyPair struct{ private, public string }

func newKeyPair() (*keyPair, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating a key pair: %w", err)
	}
	return &keyPair{
		private: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})),
		public:  string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)})),
	}, nil
}

// memberLogger logs the members' warnings to stderr with -v, else nothing,
// and tells phases when each member passes from discovery to connecting.
func memberLogger(cfg *config, stderr io.Writer, phases *phaseWatch) *slog.Logger {
	var h slog.Handler = slog.NewTextHandler(io.Discard, nil)
	if cfg.verbose {
		h = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})
	}
	return slog.New(&phaseHandler{Handler: h, phases: phases})
}

// phaseWatch records when the last member had found all the others.
type phaseWatch struct {
	mu         sync.Mutex
	discovered time.Time
}

func (p *phaseWatch) connecting() {
	p.mu.Lock()
	p.discovered = time.Now()
	p.mu.Unlock()
}

func (p *phaseWatch) lastDiscovered() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.discovered
}

// phaseHandler watches the members' status changes in their log.
type phaseHandler struct {
	slog.Handler
	phases *phaseWatch
}

// Enabled lets Info records through (status changes are logged at Info), as
// a member's default logger does.
func (h *phaseHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *phaseHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "cluster: status" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "to" && a.Value.String() == cluster.StatusConnecting.String() {
				h.phases.connecting()
			}
			return true
		})
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *phaseHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &phaseHandler{Handler: h.Handler.WithAttrs(as), phases: h.phases}
}

func (h *phaseHandler) WithGroup(name string) slog.Handler {
	return &phaseHandler{Handler: h.Handler.WithGroup(name), phases: h.phases}
}

// startInProcess creates n members at once and returns when all are
// stable.
func startInProcess(ctx context.Context, cfg *config, n int, dsn string, stderr io.Writer) (running, startTiming, error) {
	c := &inProcess{members: make([]*cluster.Member, n)}
	if cfg.store == storeMemory {
		c.shared = memory.New()
	}
	dep := fmt.Sprintf("scale-%d-%d", n, time.Now().UnixNano())
	var keys *keyPair
	if cfg.keys {
		var err error
		if keys, err = newKeyPair(); err != nil {
			return nil, startTiming{}, err
		}
	}
	phases := &phaseWatch{}
	log := memberLogger(cfg, stderr, phases)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.members[i], errs[i] = cluster.Create(ctx, memberConfig(cfg, i, n, dep, c.shared, dsn, log, keys))
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		c.stop()
		return nil, startTiming{}, err
	}
	return c, startTiming{fromFirst: took, fromLast: took, discovered: phases.lastDiscovered().Sub(start)}, nil
}

func (c *inProcess) cpu() ([]time.Duration, error) {
	t, err := selfCPU()
	if err != nil {
		return nil, err
	}
	return []time.Duration{t}, nil
}

// selfCPU reads this process's CPU time with getrusage, which counts in
// microseconds (/proc counts in 10 ms ticks).
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

func (c *inProcess) rssMB() (float64, error) {
	b, err := proc.RSS(os.Getpid())
	if err != nil {
		return 0, err
	}
	return float64(b) / (1 << 20) / float64(len(c.members)), nil
}

// events publishes on member 0's server and counts deliveries to an
// in-process subscription on every member. Publishing returns before the
// peers have the event, so the publisher waits whenever more than depth
// events are on their way.
func (c *inProcess) events(ctx context.Context, k, depth int) (int64, error) {
	n := int64(len(c.members))
	target := int64(k) * n
	var got atomic.Int64
	done := make(chan struct{})
	for _, m := range c.members {
		cancel := m.Mesh().Server().Subscribe(eventPattern, happn.SubscribeOptions{Action: "SET"}, func(*happn.Publication) {
			if got.Add(1) == target {
				close(done)
			}
		})
		defer cancel()
	}
	srv := c.members[0].Mesh().Server()
	payload := []byte(`{"v":"` + strings.Repeat("x", 64) + `"}`)
	for i := range int64(k) {
		for got.Load() < (i-int64(depth))*n {
			if !sleep(ctx, 100*time.Microsecond) {
				return target - got.Load(), ctx.Err()
			}
		}
		if _, err := srv.Publish(ctx, happn.PublishRequest{Path: eventPath, Data: payload}); err != nil {
			return target - got.Load(), err
		}
	}
	return awaitDeliveries(ctx, done, &got, target)
}

// awaitDeliveries waits until done is closed; it gives up, reporting the
// missing deliveries, once none has arrived for deliveryWait.
func awaitDeliveries(ctx context.Context, done <-chan struct{}, got *atomic.Int64, target int64) (int64, error) {
	tick := time.NewTicker(deliveryWait)
	defer tick.Stop()
	last := got.Load()
	for {
		select {
		case <-done:
			return 0, nil
		case <-tick.C:
			now := got.Load()
			if now == last {
				return target - now, nil
			}
			last = now
		case <-ctx.Done():
			return target - got.Load(), ctx.Err()
		}
	}
}

// securityChanges upserts k groups on member 0 and waits until every other
// member has been told of each.
func (c *inProcess) securityChanges(ctx context.Context, k int, wait time.Duration) error {
	others := len(c.members) - 1
	target := int64(k * others)
	var got atomic.Int64
	done := make(chan struct{})
	for _, m := range c.members[1:] {
		cancel := m.Mesh().Server().Security().OnChange(func(ch security.Change) {
			if ch.Event == changeEvent && strings.Contains(string(ch.Data), groupPrefix) && got.Add(1) == target {
				close(done)
			}
		})
		defer cancel()
	}
	sec := c.members[0].Mesh().Server().Security()
	for range k {
		g := security.Group{
			Name:        fmt.Sprintf("%s%d", groupPrefix, c.changes.Add(1)),
			Permissions: map[string]security.PermissionRule{"/clusterscale/data/*": {Actions: []string{"get", "on"}}},
		}
		if _, err := sec.UpsertGroup(ctx, g, security.UpsertOptions{}); err != nil {
			return fmt.Errorf("upserting group %s: %w", g.Name, err)
		}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("%d of %d changes applied by the other members after %s", got.Load(), target, wait)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop stops every member at once.
func (c *inProcess) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, m := range c.members {
		if m == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = m.Stop(ctx)
		}()
	}
	wg.Wait()
	if c.shared != nil {
		_ = c.shared.Close()
	}
}
