package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/happner-go/happner/bench/internal/proc"
	"github.com/happner-go/happner/bench/internal/stats"
	"github.com/happner-go/happner/bench/internal/wire"
)

// drainTimeout bounds the wait for outstanding replies or events after the
// load stops.
const drainTimeout = 60 * time.Second

// limit says when a load phase stops: after ops operations, or at until.
type limit struct {
	ops   int64
	until time.Time
}

func (l limit) reached(i int64) bool {
	if l.ops > 0 {
		return i >= l.ops
	}
	return !time.Now().Before(l.until)
}

func (cfg *config) measured() limit {
	if cfg.ops > 0 {
		return limit{ops: cfg.ops}
	}
	return limit{until: time.Now().Add(cfg.duration)}
}

// op describes request i of a load phase. buf may be reused for data.
type op func(i int64, buf []byte) (action, path string, data []byte)

// phase is the outcome of one load phase.
type phase struct {
	done     int64 // replies received (ok or error)
	errors   int64
	firstErr error
	elapsed  time.Duration // first send to last reply
}

// load issues requests from op with at most depth in flight until lim is
// reached, then waits for every reply. Latencies go to rec, which must only
// be read once load has returned.
func load(ctx context.Context, c *wire.Client, depth int, lim limit, fn op, rec *stats.Recorder) (phase, error) {
	sem := make(chan struct{}, depth)
	var (
		mu  sync.Mutex
		res phase
		buf []byte
	)
	acquire := func() error {
		select {
		case sem <- struct{}{}:
			return nil
		default:
		}
		// About to wait for replies: send what is buffered first.
		if err := c.Flush(); err != nil {
			return err
		}
		select {
		case sem <- struct{}{}:
			return nil
		case <-c.Done():
			return fmt.Errorf("connection lost: %w", c.Err())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	start := time.Now()
	for i := int64(0); !lim.reached(i); i++ {
		if err := acquire(); err != nil {
			return res, err
		}
		action, path, data := fn(i, buf)
		buf = data[:0]
		t0 := time.Now()
		_, err := c.Send(action, path, data, nil, func(r wire.Reply) {
			d := time.Since(t0)
			mu.Lock()
			res.done++
			if r.Err != nil {
				res.errors++
				if res.firstErr == nil {
					res.firstErr = r.Err
				}
			} else if rec != nil {
				rec.Add(d)
			}
			mu.Unlock()
			<-sem
		})
		if err != nil {
			return res, err
		}
	}
	if err := c.Flush(); err != nil {
		return res, err
	}
	// Drain: owning every slot means every reply has arrived.
	timer := time.NewTimer(drainTimeout)
	defer timer.Stop()
	for range depth {
		select {
		case sem <- struct{}{}:
		case <-c.Done():
			return res, fmt.Errorf("connection lost while draining: %w", c.Err())
		case <-ctx.Done():
			return res, ctx.Err()
		case <-timer.C:
			return res, fmt.Errorf("replies still missing after %s", drainTimeout)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	res.elapsed = time.Since(start)
	return res, nil
}

func (cfg *config) dial(ctx context.Context, onEvent func(wire.Event)) (*wire.Client, error) {
	return wire.Dial(ctx, cfg.addr, wire.Options{
		Username: cfg.username, Password: cfg.password, OnEvent: onEvent,
		ManualFlush: cfg.coalesce,
	})
}

// payload builds {"t":<unix-ns>,"v":"xxx…"} into buf.
func (cfg *config) payloadJSON(buf []byte) []byte {
	buf = append(buf[:0], `{"t":`...)
	buf = strconv.AppendInt(buf, time.Now().UnixNano(), 10)
	buf = append(buf, `,"v":"`...)
	for range cfg.payload {
		buf = append(buf, 'x')
	}
	return append(buf, `"}`...)
}

func (cfg *config) newResult(name string, c *wire.Client, depth int) *result {
	return &result{Scenario: name, Label: cfg.label, Addr: cfg.addr, Secure: c.Secure, Depth: depth,
		CoalescedWrites: cfg.coalesce && depth > 1}
}

// measureOps runs a warm-up phase and a measured phase of fn and fills the
// throughput, latency and CPU metrics of res.
func measureOps(ctx context.Context, cfg *config, c *wire.Client, depth int, fn op, res *result) error {
	if cfg.warmup > 0 {
		if _, err := load(ctx, c, depth, limit{until: time.Now().Add(cfg.warmup)}, fn, nil); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	cpu, err := startCPU(cfg.serverPID)
	if err != nil {
		return err
	}
	var rec stats.Recorder
	ph, err := load(ctx, c, depth, cfg.measured(), fn, &rec)
	if err != nil {
		return err
	}
	used, ok, err := cpu.stop()
	if err != nil {
		return err
	}
	self, err := cpu.client()
	if err != nil {
		return err
	}
	res.ClientCPUS = ptr(self.Seconds())
	res.DurationS = ph.elapsed.Seconds()
	res.Ops = ph.done
	res.Errors = ph.errors
	if ph.firstErr != nil {
		res.FirstError = ph.firstErr.Error()
	}
	if ph.elapsed > 0 {
		res.OpsPerS = ptr(float64(ph.done) / ph.elapsed.Seconds())
	}
	res.setLatency(rec.Summarize())
	if ok {
		res.ServerCPUS = ptr(used.Seconds())
		if ph.done > 0 {
			res.ServerCPUUsPerOp = ptr(stats.Micros(used) / float64(ph.done))
		}
	}
	return nil
}

// runSet measures `set` on /bench/set/<i mod keys> with depth in flight.
func runSet(ctx context.Context, cfg *config, name string, depth int) (*result, error) {
	c, err := cfg.dial(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Close() }()
	paths := keyPaths("/bench/set/", cfg.keys)
	res := cfg.newResult(name, c, depth)
	err = measureOps(ctx, cfg, c, depth, func(i int64, buf []byte) (string, string, []byte) {
		return "set", paths[i%int64(len(paths))], cfg.payloadJSON(buf)
	}, res)
	return res, err
}

// runGet fills /bench/get/<k> and measures `get` of those keys.
func runGet(ctx context.Context, cfg *config, name string, depth int) (*result, error) {
	c, err := cfg.dial(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Close() }()
	paths := keyPaths("/bench/get/", cfg.keys)
	fill, err := load(ctx, c, depth, limit{ops: int64(len(paths))}, func(i int64, buf []byte) (string, string, []byte) {
		return "set", paths[i], cfg.payloadJSON(buf)
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("fill keys: %w", err)
	}
	if fill.errors > 0 {
		return nil, fmt.Errorf("fill keys: %d errors, first: %w", fill.errors, fill.firstErr)
	}
	// A get of a key that is certainly there must return data.
	r, err := c.Call(ctx, "get", paths[0], nil, nil)
	if err != nil {
		return nil, fmt.Errorf("check get: %w", err)
	}
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return nil, fmt.Errorf("check get: %s returned no data", paths[0])
	}
	res := cfg.newResult(name, c, depth)
	err = measureOps(ctx, cfg, c, depth, func(i int64, _ []byte) (string, string, []byte) {
		return "get", paths[i%int64(len(paths))], nil
	}, res)
	return res, err
}

func keyPaths(prefix string, n int) []string {
	p := make([]string, n)
	for i := range p {
		p[i] = prefix + strconv.Itoa(i)
	}
	return p
}

// subscriber counts the events of one subscriber connection and records
// their set→event latency.
type subscriber struct {
	c         *wire.Client
	delivered atomic.Int64
	bad       atomic.Int64
	mu        sync.Mutex
	rec       stats.Recorder
	last      atomic.Int64 // unix ns of the latest event
}

func (s *subscriber) onEvent(e wire.Event) {
	now := time.Now()
	var body struct {
		T int64 `json:"t"`
	}
	if err := json.Unmarshal(e.Data, &body); err != nil || body.T == 0 {
		s.bad.Add(1)
		return
	}
	s.mu.Lock()
	s.rec.Add(now.Sub(time.Unix(0, body.T)))
	s.mu.Unlock()
	s.last.Store(now.UnixNano())
	s.delivered.Add(1)
}

const eventChannel = "/ALL@/bench/ev/*"

// runEvents connects n subscribers to /ALL@/bench/ev/* and a publisher that
// sets /bench/ev/<k>; it measures delivered events.
func runEvents(ctx context.Context, cfg *config, name string, n int) (*result, error) {
	subs := make([]*subscriber, n)
	defer func() {
		for _, s := range subs {
			if s != nil && s.c != nil {
				_ = s.c.Close()
			}
		}
	}()
	for i := range subs {
		s := &subscriber{}
		c, err := cfg.dial(ctx, s.onEvent)
		if err != nil {
			return nil, fmt.Errorf("subscriber %d: %w", i, err)
		}
		s.c = c
		subs[i] = s
		if _, err := c.Call(ctx, "on", eventChannel, nil, []byte(`{"event_type":"all","count":0,"timeout":60000}`)); err != nil {
			return nil, fmt.Errorf("subscriber %d: on %s: %w", i, eventChannel, err)
		}
	}
	pub, err := cfg.dial(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	defer func() { _ = pub.Close() }()

	paths := keyPaths("/bench/ev/", min(cfg.keys, 100))
	fn := func(i int64, buf []byte) (string, string, []byte) {
		return "set", paths[i%int64(len(paths))], cfg.payloadJSON(buf)
	}
	total := func() int64 {
		var t int64
		for _, s := range subs {
			t += s.delivered.Load()
		}
		return t
	}
	waitFor := func(want int64) error {
		deadline := time.Now().Add(drainTimeout)
		for total() < want {
			if time.Now().After(deadline) {
				return fmt.Errorf("%d of %d events still missing after %s", want-total(), want, drainTimeout)
			}
			for _, s := range subs {
				if s.c.Err() != nil {
					return fmt.Errorf("subscriber connection lost: %w", s.c.Err())
				}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		return nil
	}

	if cfg.warmup > 0 {
		ph, err := load(ctx, pub, cfg.depth, limit{until: time.Now().Add(cfg.warmup)}, fn, nil)
		if err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		if err := waitFor((ph.done - ph.errors) * int64(n)); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	base := total()
	for _, s := range subs {
		s.mu.Lock()
		s.rec.Reset()
		s.mu.Unlock()
	}
	cpu, err := startCPU(cfg.serverPID)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	ph, err := load(ctx, pub, cfg.depth, cfg.measured(), fn, nil)
	if err != nil {
		return nil, err
	}
	want := base + (ph.done-ph.errors)*int64(n)
	drainErr := waitFor(want)
	if drainErr != nil && errors.Is(drainErr, context.Canceled) {
		return nil, drainErr
	}
	used, cpuOK, err := cpu.stop()
	if err != nil {
		return nil, err
	}
	self, err := cpu.client()
	if err != nil {
		return nil, err
	}
	var last int64
	var rec stats.Recorder
	for _, s := range subs {
		last = max(last, s.last.Load())
		s.mu.Lock()
		rec.Merge(&s.rec)
		s.mu.Unlock()
	}
	delivered := total() - base
	elapsed := time.Unix(0, last).Sub(start)
	res := cfg.newResult(name, pub, cfg.depth)
	res.Subscribers = n
	res.ClientCPUS = ptr(self.Seconds())
	res.Ops = ph.done
	res.Errors = ph.errors
	for _, s := range subs {
		res.Errors += s.bad.Load()
	}
	if ph.firstErr != nil {
		res.FirstError = ph.firstErr.Error()
	} else if drainErr != nil {
		res.FirstError = drainErr.Error()
	}
	res.Events = delivered
	res.EventsLost = max(want-base-delivered, 0)
	if elapsed > 0 && delivered > 0 {
		res.DurationS = elapsed.Seconds()
		res.EventsPerS = ptr(float64(delivered) / elapsed.Seconds())
	}
	res.setLatency(rec.Summarize())
	if cpuOK {
		res.ServerCPUS = ptr(used.Seconds())
		if delivered > 0 {
			res.ServerCPUUsPerEvent = ptr(stats.Micros(used) / float64(delivered))
		}
	}
	return res, nil
}

// runIdle opens cfg.conns logged-in connections, waits, and reads the
// server's RSS.
func runIdle(ctx context.Context, cfg *config, name string) (*result, error) {
	if cfg.serverPID == 0 {
		return nil, errors.New("idle-10k needs --server-pid to read the server's RSS")
	}
	before, err := proc.RSS(cfg.serverPID)
	if err != nil {
		return nil, err
	}
	cpu, err := startCPU(cfg.serverPID)
	if err != nil {
		return nil, err
	}
	clients := make([]*wire.Client, cfg.conns)
	defer closeAll(clients, cfg.dialWorkers)

	var (
		next     atomic.Int64
		failed   atomic.Int64
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range cfg.dialWorkers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(clients)) || ctx.Err() != nil {
					return
				}
				c, err := wire.Dial(ctx, cfg.addr, wire.Options{
					Username: cfg.username, Password: cfg.password,
					ReadBufferSize: 512, WriteBufferSize: 512,
					HandshakeTimeout: 60 * time.Second,
				})
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
					continue
				}
				clients[i] = c
			}
		})
	}
	wg.Wait()
	connect := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	used, cpuOK, err := cpu.stop()
	if err != nil {
		return nil, err
	}
	select {
	case <-time.After(cfg.settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	after, err := proc.RSS(cfg.serverPID)
	if err != nil {
		return nil, err
	}
	ok := cfg.conns - int(failed.Load())
	alive := 0
	for _, c := range clients {
		if c != nil && c.Err() == nil {
			alive++
		}
	}
	res := &result{Scenario: name, Label: cfg.label, Addr: cfg.addr, Secure: cfg.username != ""}
	res.DurationS = connect.Seconds()
	res.Conns = alive
	res.ConnsFailed = cfg.conns - alive
	res.Errors = int64(cfg.conns - ok)
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	res.ConnectS = ptr(connect.Seconds())
	res.RSSBeforeMB = ptr(float64(before) / (1 << 20))
	res.RSSMB = ptr(float64(after) / (1 << 20))
	if alive > 0 {
		res.RSSPerConnKB = ptr(float64(after-before) / 1024 / float64(alive))
	}
	if cpuOK && ok > 0 {
		res.ServerCPUUsPerConnect = ptr(stats.Micros(used) / float64(ok))
	}
	return res, nil
}

// closeAll closes every non-nil client using workers goroutines.
func closeAll(clients []*wire.Client, workers int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(clients)) {
					return
				}
				if c := clients[i]; c != nil {
					_ = c.Close()
				}
			}
		})
	}
	wg.Wait()
}
