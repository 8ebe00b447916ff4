package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/happner-go/happner/bench/internal/proc"
	"github.com/happner-go/happner/cluster"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/meshclient"
)

// errNoSecurityChanges: the cluster offers no way to make a security
// change from outside (insecure members in separate processes).
var errNoSecurityChanges = errors.New("security changes need --secure when members are separate processes")

// processes is a cluster of clustermember processes.
type processes struct {
	cfg     *config
	members []*memberProc
	changes atomic.Int64
	changed chan struct{} // a member reported a security change
}

// memberProc is one clustermember process.
type memberProc struct {
	cmd        *exec.Cmd
	name       string
	clientAddr string
	readyAt    time.Time
	ready      chan struct{}
	exited     chan struct{}
	changes    atomic.Int64 // SECURITY lines for the bench's changes
	stderr     tail
}

// startProcesses starts n clustermember processes one after the other and
// returns when every one reported READY.
func startProcesses(ctx context.Context, cfg *config, n int, dsn string, stderr io.Writer) (running, startTiming, error) {
	c := &processes{cfg: cfg, changed: make(chan struct{}, 1)}
	dep := fmt.Sprintf("scale-%d-%d", n, time.Now().UnixNano())
	stale := max(cluster.DefaultStaleMemberThreshold, 3*cfg.pulse)
	first := time.Now()
	var last time.Time
	for i := range n {
		p := &memberProc{name: fmt.Sprintf("member-%02d", i), ready: make(chan struct{}), exited: make(chan struct{})}
		args := []string{
			"-dsn", dsn, "-deployment", dep, "-name", p.name, "-domain", benchDomain, "-service", benchService,
			"-deps", fmt.Sprintf("%s=%d", benchService, n-1),
			"-pulse", cfg.pulse.String(), "-scan", cfg.scan.String(), "-stale", stale.String(),
			"-discover", "5m", "-security-interval", cfg.secEvery.String(),
			"-report-security",
		}
		if cfg.secure {
			args = append(args, "-secure", "-admin-password", adminPassword)
		}
		if cfg.verbose {
			args = append(args, "-v")
		}
		p.cmd = exec.Command(cfg.memberBin, args...)
		p.cmd.Stderr = &p.stderr
		out, err := p.cmd.StdoutPipe()
		if err != nil {
			c.stop()
			return nil, startTiming{}, err
		}
		if err := p.cmd.Start(); err != nil {
			c.stop()
			return nil, startTiming{}, fmt.Errorf("starting %s: %w", cfg.memberBin, err)
		}
		last = time.Now()
		c.members = append(c.members, p)
		go c.follow(p, out)
		go func() {
			_ = p.cmd.Wait()
			close(p.exited)
		}()
	}
	var readyAt time.Time
	for _, p := range c.members {
		select {
		case <-p.ready:
			if p.readyAt.After(readyAt) {
				readyAt = p.readyAt
			}
		case <-p.exited:
			c.stop()
			return nil, startTiming{}, fmt.Errorf("%s exited before it was stable: %s", p.name, p.stderr.String())
		case <-ctx.Done():
			c.stop()
			return nil, startTiming{}, ctx.Err()
		}
	}
	return c, startTiming{fromFirst: readyAt.Sub(first), fromLast: readyAt.Sub(last)}, nil
}

// follow reads a member's stdout: READY, then SECURITY lines.
func (c *processes) follow(p *memberProc, out io.Reader) {
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 4 && f[0] == "READY":
			p.clientAddr = f[3]
			p.readyAt = time.Now()
			close(p.ready)
		case len(f) == 2 && f[0] == "SECURITY" && f[1] == changeEvent:
			p.changes.Add(1)
			select {
			case c.changed <- struct{}{}:
			default:
			}
		}
	}
}

func (c *processes) cpu() ([]time.Duration, error) {
	out := make([]time.Duration, len(c.members))
	for i, p := range c.members {
		t, err := proc.CPUTime(p.cmd.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		out[i] = t
	}
	return out, nil
}

func (c *processes) rssMB() (float64, error) {
	var total int64
	for _, p := range c.members {
		b, err := proc.RSS(p.cmd.Process.Pid)
		if err != nil {
			return 0, err
		}
		total += b
	}
	return float64(total) / (1 << 20) / float64(len(c.members)), nil
}

// login returns the client options of a session on member p.
func (c *processes) clientOptions(p *memberProc) client.Options {
	o := client.Options{URL: "http://" + p.clientAddr}
	if c.cfg.secure {
		o.Username, o.Password = "_ADMIN", adminPassword
	}
	return o
}

// events subscribes with one client session per member and publishes
// through another session on member 0.
func (c *processes) events(ctx context.Context, k, depth int) (int64, error) {
	target := int64(k * len(c.members))
	var got atomic.Int64
	done := make(chan struct{})
	for _, p := range c.members {
		cl, err := client.New(ctx, c.clientOptions(p))
		if err != nil {
			return target, fmt.Errorf("subscriber on %s: %w", p.name, err)
		}
		defer cl.Close()
		if _, err := cl.On(ctx, eventPattern, client.OnOptions{EventType: "set"}, func(client.Event) {
			if got.Add(1) == target {
				close(done)
			}
		}); err != nil {
			return target, fmt.Errorf("subscribing on %s: %w", p.name, err)
		}
	}
	pub, err := client.New(ctx, c.clientOptions(c.members[0]))
	if err != nil {
		return target, fmt.Errorf("publisher: %w", err)
	}
	defer pub.Close()
	payload := map[string]string{"v": strings.Repeat("x", 64)}
	sem := make(chan struct{}, depth)
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	for range k {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := pub.Publish(ctx, eventPath, payload); err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		}()
	}
	wg.Wait()
	if e := failed.Load(); e != nil {
		return target - got.Load(), fmt.Errorf("publishing: %w", *e)
	}
	return awaitDeliveries(ctx, done, &got, target)
}

// securityChanges upserts groups through the security component of
// member 0 (secure members only) and waits until every other member has
// reported each change.
func (c *processes) securityChanges(ctx context.Context, k int, wait time.Duration) error {
	if !c.cfg.secure {
		return errNoSecurityChanges
	}
	admin, err := meshclient.Login(ctx, meshclient.Options{
		URL: "http://" + c.members[0].clientAddr, Username: "_ADMIN", Password: adminPassword,
	})
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", c.members[0].name, err)
	}
	defer admin.Close()
	base := make([]int64, len(c.members))
	for i, p := range c.members {
		base[i] = p.changes.Load()
	}
	for range k {
		g := map[string]any{
			"name":        fmt.Sprintf("%s%d", groupPrefix, c.changes.Add(1)),
			"permissions": map[string]any{"data": map[string]any{"/clusterscale/data/*": map[string]any{"actions": []string{"get", "on"}}}},
		}
		if err := admin.Call(ctx, "security", "upsertGroup", []any{g}); err != nil {
			return fmt.Errorf("upsertGroup on %s: %w", c.members[0].name, err)
		}
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		missing := 0
		for i, p := range c.members[1:] {
			if p.changes.Load()-base[i+1] < int64(k) {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		select {
		case <-c.changed:
		case <-deadline.C:
			return fmt.Errorf("%d members had not applied all %d changes after %s", missing, k, wait)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stop asks every member to leave (SIGTERM) and kills those still running
// after 20 s.
func (c *processes) stop() {
	for _, p := range c.members {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(20 * time.Second)
	for _, p := range c.members {
		select {
		case <-p.exited:
		case <-deadline:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
}

// tail keeps the last 2 KB written to it (a member's stderr).
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > 2048 {
		t.buf = t.buf[len(t.buf)-2048:]
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strconv.Quote(strings.TrimSpace(string(t.buf)))
}
