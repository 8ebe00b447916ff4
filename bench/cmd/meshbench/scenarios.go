package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/happner-go/happner/bench/internal/proc"
	"github.com/happner-go/happner/bench/internal/stats"
	"github.com/happner-go/happner/bench/internal/wire"
)

// drainTimeout bounds the wait for outstanding responses after the load stops.
const drainTimeout = 60 * time.Second

// phase is the outcome of one load phase.
type phase struct {
	done     int64 // calls answered (ok or not)
	errors   int64
	firstErr error
	elapsed  time.Duration // first send to last response
}

// runAll opens one session and runs every configured scenario on it,
// returning the results gathered before any error.
func runAll(ctx context.Context, cfg *config, stderr io.Writer) ([]*result, error) {
	mc, err := dialMesh(ctx, cfg.addr, wire.Options{Username: cfg.username, Password: cfg.password,
		ManualFlush: cfg.coalesce}, cfg.component, cfg.method)
	if err != nil {
		return nil, err
	}
	defer mc.Close()
	var out []*result
	for _, name := range cfg.scenarios {
		depth := 1
		if name == "rpc-pipe" {
			depth = cfg.depth
		}
		r, err := measure(ctx, cfg, mc, name, depth)
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintln(stderr, r.human())
		out = append(out, r)
	}
	return out, nil
}

// load keeps depth calls of add(i mod 1000, 7) in flight until the deadline,
// then waits for the last response. A response that is not the sum counts
// as an error. Latencies (send → response read) go to rec when non-nil.
func load(ctx context.Context, mc *meshConn, depth int, until time.Time, rec *stats.Recorder) (phase, error) {
	sem := make(chan struct{}, depth)
	var (
		mu  sync.Mutex
		res phase
		buf []byte
	)
	fail := func(err error) {
		res.errors++
		if res.firstErr == nil {
			res.firstErr = err
		}
	}
	acquire := func() error {
		select {
		case sem <- struct{}{}:
			return nil
		default:
		}
		// About to wait for responses: send what is buffered first.
		if err := mc.c.Flush(); err != nil {
			return err
		}
		select {
		case sem <- struct{}{}:
			return nil
		case <-mc.c.Done():
			return fmt.Errorf("connection lost: %w", mc.c.Err())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	start := time.Now()
	for i := int64(0); time.Now().Before(until); i++ {
		if err := acquire(); err != nil {
			return res, err
		}
		a, b := float64(i%1000), 7.0
		t0 := time.Now()
		var err error
		buf, err = mc.call([]float64{a, b}, buf, func(r rpcResult) {
			d := time.Since(t0)
			mu.Lock()
			res.done++
			switch {
			case r.Err != nil:
				fail(r.Err)
			case len(r.Args) < 2 || string(r.Args[0]) != "null" || string(r.Args[1]) != strconv.FormatFloat(a+b, 'g', -1, 64):
				fail(fmt.Errorf("add(%g, %g) answered %s", a, b, joinRaw(r.Args)))
			case rec != nil:
				rec.Add(d)
			}
			mu.Unlock()
			<-sem
		})
		if err != nil {
			return res, err
		}
	}
	if err := mc.c.Flush(); err != nil {
		return res, err
	}
	// Drain: owning every slot means every response has arrived.
	timer := time.NewTimer(drainTimeout)
	defer timer.Stop()
	for range depth {
		select {
		case sem <- struct{}{}:
		case <-mc.c.Done():
			return res, fmt.Errorf("connection lost while draining: %w", mc.c.Err())
		case <-ctx.Done():
			return res, ctx.Err()
		case <-timer.C:
			return res, fmt.Errorf("responses still missing after %s", drainTimeout)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	res.elapsed = time.Since(start)
	return res, nil
}

func joinRaw(args []json.RawMessage) string {
	b := []byte{'['}
	for i, a := range args {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, a...)
	}
	return string(append(b, ']'))
}

// measure runs a warm-up and a measured phase and fills a result.
func measure(ctx context.Context, cfg *config, mc *meshConn, name string, depth int) (*result, error) {
	if cfg.warmup > 0 {
		if _, err := load(ctx, mc, depth, time.Now().Add(cfg.warmup), nil); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	var serverStart, serverEnd time.Duration
	var err error
	if cfg.serverPID > 0 {
		if serverStart, err = proc.CPUTime(cfg.serverPID); err != nil {
			return nil, err
		}
	}
	selfStart, err := proc.CPUTime(os.Getpid())
	if err != nil {
		return nil, err
	}
	var rec stats.Recorder
	ph, err := load(ctx, mc, depth, time.Now().Add(cfg.duration), &rec)
	if err != nil {
		return nil, err
	}
	if cfg.serverPID > 0 {
		if serverEnd, err = proc.CPUTime(cfg.serverPID); err != nil {
			return nil, err
		}
	}
	selfEnd, err := proc.CPUTime(os.Getpid())
	if err != nil {
		return nil, err
	}
	r := &result{Scenario: name, Client: "go", Label: cfg.label, Addr: cfg.addr, Secure: mc.info.Secure,
		Depth: depth, CoalescedWrites: cfg.coalesce && depth > 1,
		DurationS: ph.elapsed.Seconds(), Errors: ph.errors, Ops: ph.done,
		ClientCPUS: ptr((selfEnd - selfStart).Seconds())}
	if ph.firstErr != nil {
		r.FirstError = ph.firstErr.Error()
	}
	if ph.elapsed > 0 {
		r.OpsPerS = ptr(float64(ph.done) / ph.elapsed.Seconds())
	}
	r.setLatency(rec.Summarize())
	if cfg.serverPID > 0 {
		used := serverEnd - serverStart
		r.ServerCPUS = ptr(used.Seconds())
		if ph.done > 0 {
			r.ServerCPUUsPerOp = ptr(stats.Micros(used) / float64(ph.done))
		}
	}
	if ph.done == 0 {
		return r, errors.New("no call was answered")
	}
	return r, nil
}
