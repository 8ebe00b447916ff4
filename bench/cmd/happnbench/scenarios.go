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

	"github.com/happner-go/happner/bench/internal/pipeline"
	"github.com/happner-go/happner/bench/internal/proc"
	"github.com/happner-go/happner/bench/internal/report"
	"github.com/happner-go/happner/bench/internal/stats"
	"github.com/happner-go/happner/bench/internal/wire"
)

// measured is the limit of a measured phase: --ops requests, or --duration.
func (cfg *config) measured() pipeline.Limit {
	if cfg.ops > 0 {
		return pipeline.Limit{Ops: cfg.ops}
	}
	return pipeline.Limit{For: cfg.duration}
}

// op describes request i of a load phase. buf may be reused for data.
type op func(i int64, buf []byte) (action, path string, data []byte)

// pipe keeps depth requests in flight on c.
func pipe(c *wire.Client, depth int) pipeline.Pipe {
	return pipeline.Pipe{Conn: c, Depth: depth, Answers: "replies"}
}

// sender sends the requests that fn describes on c; a reply's latency
// counts from just before its request is written.
func sender(c *wire.Client, fn op) pipeline.Sender {
	var buf []byte
	return func(i int64, begin func() pipeline.Finish) error {
		action, path, data := fn(i, buf)
		buf = data[:0]
		done := begin()
		_, err := c.Send(action, path, data, nil, func(r wire.Reply) { done(r.Err) })
		return err
	}
}

func (cfg *config) dial(ctx context.Context, onEvent func(wire.Event)) (*wire.Client, error) {
	return wire.Dial(ctx, cfg.Addr, wire.Options{
		Username: cfg.Username, Password: cfg.Password, OnEvent: onEvent,
		ManualFlush: cfg.Coalesce,
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
	return &result{Scenario: name, Label: cfg.label, Addr: cfg.Addr, Secure: c.Secure, Depth: depth,
		CoalescedWrites: cfg.Coalesce && depth > 1}
}

// measureOps runs a warm-up phase and a measured phase of fn and fills the
// throughput, latency and CPU metrics of res.
func measureOps(ctx context.Context, cfg *config, c *wire.Client, depth int, fn op, res *result) error {
	m, err := pipe(c, depth).Measure(ctx, cfg.Warmup, cfg.measured(), []int{cfg.serverPID}, sender(c, fn))
	if err != nil {
		return err
	}
	res.ClientCPUS = report.Ptr(m.ClientCPU.Seconds())
	res.DurationS = m.Elapsed.Seconds()
	res.Ops = m.Done
	res.Errors = m.Errors
	res.FirstError = m.FirstError()
	res.OpsPerS = m.PerSecond()
	res.SetLatency(m.Latency)
	res.ServerCPUS = m.ServerCPUSeconds()
	res.ServerCPUUsPerOp = m.ServerCPUMicrosPerOp()
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
	fill, err := pipe(c, depth).Run(ctx, pipeline.Limit{Ops: int64(len(paths))}, sender(c, func(i int64, buf []byte) (string, string, []byte) {
		return "set", paths[i], cfg.payloadJSON(buf)
	}), nil)
	if err != nil {
		return nil, fmt.Errorf("fill keys: %w", err)
	}
	if fill.Errors > 0 {
		return nil, fmt.Errorf("fill keys: %d errors, first: %w", fill.Errors, fill.FirstErr)
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
	send := sender(pub, func(i int64, buf []byte) (string, string, []byte) {
		return "set", paths[i%int64(len(paths))], cfg.payloadJSON(buf)
	})
	publish := pipe(pub, cfg.depth)
	total := func() int64 {
		var t int64
		for _, s := range subs {
			t += s.delivered.Load()
		}
		return t
	}
	waitFor := func(want int64) error {
		deadline := time.Now().Add(pipeline.DrainTimeout)
		for total() < want {
			if time.Now().After(deadline) {
				return fmt.Errorf("%d of %d events still missing after %s", want-total(), want, pipeline.DrainTimeout)
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

	if cfg.Warmup > 0 {
		ph, err := publish.Run(ctx, pipeline.Limit{For: cfg.Warmup}, send, nil)
		if err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		if err := waitFor((ph.Done - ph.Errors) * int64(n)); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	base := total()
	for _, s := range subs {
		s.mu.Lock()
		s.rec.Reset()
		s.mu.Unlock()
	}
	cpu, err := proc.StartMeter(cfg.serverPID)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	ph, err := publish.Run(ctx, cfg.measured(), send, nil)
	if err != nil {
		return nil, err
	}
	want := base + (ph.Done-ph.Errors)*int64(n)
	drainErr := waitFor(want)
	if drainErr != nil && errors.Is(drainErr, context.Canceled) {
		return nil, drainErr
	}
	used, cpuOK, err := cpu.Server()
	if err != nil {
		return nil, err
	}
	self, err := cpu.Client()
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
	res.ClientCPUS = report.Ptr(self.Seconds())
	res.Ops = ph.Done
	res.Errors = ph.Errors
	for _, s := range subs {
		res.Errors += s.bad.Load()
	}
	if ph.FirstErr != nil {
		res.FirstError = ph.FirstErr.Error()
	} else if drainErr != nil {
		res.FirstError = drainErr.Error()
	}
	res.Events = delivered
	res.EventsLost = max(want-base-delivered, 0)
	if elapsed > 0 && delivered > 0 {
		res.DurationS = elapsed.Seconds()
		res.EventsPerS = report.Ptr(float64(delivered) / elapsed.Seconds())
	}
	res.SetLatency(rec.Summarize())
	if cpuOK {
		res.ServerCPUS = report.Ptr(used.Seconds())
		if delivered > 0 {
			res.ServerCPUUsPerEvent = report.Ptr(stats.Micros(used) / float64(delivered))
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
	cpu, err := proc.StartMeter(cfg.serverPID)
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
				c, err := wire.Dial(ctx, cfg.Addr, wire.Options{
					Username: cfg.Username, Password: cfg.Password,
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
	used, cpuOK, err := cpu.Server()
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
	res := &result{Scenario: name, Label: cfg.label, Addr: cfg.Addr, Secure: cfg.Username != ""}
	res.DurationS = connect.Seconds()
	res.Conns = alive
	res.ConnsFailed = cfg.conns - alive
	res.Errors = int64(cfg.conns - ok)
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	res.ConnectS = report.Ptr(connect.Seconds())
	res.RSSBeforeMB = report.Ptr(float64(before) / (1 << 20))
	res.RSSMB = report.Ptr(float64(after) / (1 << 20))
	if alive > 0 {
		res.RSSPerConnKB = report.Ptr(float64(after-before) / 1024 / float64(alive))
	}
	if cpuOK && ok > 0 {
		res.ServerCPUUsPerConnect = report.Ptr(stats.Micros(used) / float64(ok))
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
