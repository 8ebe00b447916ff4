// Package pipeline runs the load phases of the benchmark commands: it keeps
// a fixed number of requests in flight on one connection until a limit is
// reached, waits for every answer, and counts answers, errors and latency.
package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/happner-go/happner/bench/internal/proc"
	"github.com/happner-go/happner/bench/internal/stats"
)

// DrainTimeout bounds the wait for outstanding answers after the load stops.
const DrainTimeout = 60 * time.Second

// Conn is the connection requests are pipelined on; *wire.Client is one.
type Conn interface {
	// Flush writes buffered requests to the socket.
	Flush() error
	// Done is closed when the connection is gone.
	Done() <-chan struct{}
	// Err says why the connection is gone.
	Err() error
}

// Limit says when a phase stops issuing requests: after Ops requests when
// Ops is positive, else once For has passed since the phase began.
type Limit struct {
	Ops int64
	For time.Duration
}

// Phase is the outcome of one load phase.
type Phase struct {
	// Done counts the requests answered, with or without error.
	Done int64
	// Errors counts the answers that were errors.
	Errors int64
	// FirstErr is the first of those errors.
	FirstErr error
	// Elapsed runs from the phase's start to its last answer.
	Elapsed time.Duration
}

// Finish completes one request with its outcome (nil for success). It must
// be called exactly once per begun request, and must not block.
type Finish func(err error)

// Sender issues request i of a phase. It calls begin just before writing
// the request (the request's latency counts from there) and arranges for
// the returned Finish to be called with the answer. An error means the
// request was not sent, and its Finish will not be called; it ends the
// phase.
type Sender func(i int64, begin func() Finish) error

// Pipe issues requests with at most Depth of them in flight on Conn.
type Pipe struct {
	Conn  Conn
	Depth int
	// Answers names what answers a request ("replies", "responses") in
	// the error for answers still missing after DrainTimeout.
	Answers string
}

// Run issues requests until lim is reached, then waits for every answer.
// Latencies of successful requests go to rec when it is not nil; rec must
// only be read once Run has returned.
func (p Pipe) Run(ctx context.Context, lim Limit, send Sender, rec *stats.Recorder) (Phase, error) {
	sem := make(chan struct{}, p.Depth)
	var (
		mu  sync.Mutex
		res Phase
	)
	acquire := func() error {
		select {
		case sem <- struct{}{}:
			return nil
		default:
		}
		// About to wait for answers: send what is buffered first.
		if err := p.Conn.Flush(); err != nil {
			return err
		}
		select {
		case sem <- struct{}{}:
			return nil
		case <-p.Conn.Done():
			return fmt.Errorf("connection lost: %w", p.Conn.Err())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	begin := func() Finish {
		t0 := time.Now()
		return func(err error) {
			d := time.Since(t0)
			mu.Lock()
			res.Done++
			if err != nil {
				res.Errors++
				if res.FirstErr == nil {
					res.FirstErr = err
				}
			} else if rec != nil {
				rec.Add(d)
			}
			mu.Unlock()
			<-sem
		}
	}
	start := time.Now()
	until := start.Add(lim.For)
	reached := func(i int64) bool {
		if lim.Ops > 0 {
			return i >= lim.Ops
		}
		return !time.Now().Before(until)
	}
	for i := int64(0); !reached(i); i++ {
		if err := acquire(); err != nil {
			return p.snapshot(&mu, &res), err
		}
		if err := send(i, begin); err != nil {
			return p.snapshot(&mu, &res), err
		}
	}
	if err := p.Conn.Flush(); err != nil {
		return p.snapshot(&mu, &res), err
	}
	// Drain: owning every slot means every answer has arrived.
	timer := time.NewTimer(DrainTimeout)
	defer timer.Stop()
	for range p.Depth {
		select {
		case sem <- struct{}{}:
		case <-p.Conn.Done():
			return p.snapshot(&mu, &res), fmt.Errorf("connection lost while draining: %w", p.Conn.Err())
		case <-ctx.Done():
			return p.snapshot(&mu, &res), ctx.Err()
		case <-timer.C:
			return p.snapshot(&mu, &res), fmt.Errorf("%s still missing after %s", p.Answers, DrainTimeout)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	res.Elapsed = time.Since(start)
	return res, nil
}

// snapshot copies res under mu: answers may still be arriving.
func (Pipe) snapshot(mu *sync.Mutex, res *Phase) Phase {
	mu.Lock()
	defer mu.Unlock()
	return *res
}

// Measurement is a measured phase with its latency and the CPU time used
// while it ran.
type Measurement struct {
	Phase
	// Latency summarises the successful requests.
	Latency stats.Summary
	// ClientCPU is this process's CPU time.
	ClientCPU time.Duration
	// ServerCPU is the server's CPU time when HasServerCPU.
	ServerCPU    time.Duration
	HasServerCPU bool
}

// Measure runs an unmeasured warm-up phase (when warmup is positive), then
// the measured phase lim with the CPU time of this process and of the
// server processes serverPIDs (none, or 0: no reading) read around it.
func (p Pipe) Measure(ctx context.Context, warmup time.Duration, lim Limit, serverPIDs []int, send Sender) (Measurement, error) {
	if warmup > 0 {
		if _, err := p.Run(ctx, Limit{For: warmup}, send, nil); err != nil {
			return Measurement{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	cpu, err := proc.StartMeter(serverPIDs...)
	if err != nil {
		return Measurement{}, err
	}
	var rec stats.Recorder
	ph, err := p.Run(ctx, lim, send, &rec)
	if err != nil {
		return Measurement{}, err
	}
	m := Measurement{Phase: ph, Latency: rec.Summarize()}
	if m.ServerCPU, m.HasServerCPU, err = cpu.Server(); err != nil {
		return Measurement{}, err
	}
	if m.ClientCPU, err = cpu.Client(); err != nil {
		return Measurement{}, err
	}
	return m, nil
}

// FirstError is the text of the first error, or "" without errors.
func (ph Phase) FirstError() string {
	if ph.FirstErr == nil {
		return ""
	}
	return ph.FirstErr.Error()
}

// PerSecond is Done per second of Elapsed, or nil for an empty phase.
func (ph Phase) PerSecond() *float64 {
	if ph.Elapsed <= 0 {
		return nil
	}
	v := float64(ph.Done) / ph.Elapsed.Seconds()
	return &v
}

// ServerCPUSeconds is the server's CPU time in seconds, or nil without a
// server pid.
func (m Measurement) ServerCPUSeconds() *float64 {
	if !m.HasServerCPU {
		return nil
	}
	v := m.ServerCPU.Seconds()
	return &v
}

// ServerCPUMicrosPerOp is the server's CPU time per answered request in
// µs, or nil without a server pid or answers.
func (m Measurement) ServerCPUMicrosPerOp() *float64 {
	if !m.HasServerCPU || m.Done == 0 {
		return nil
	}
	v := stats.Micros(m.ServerCPU) / float64(m.Done)
	return &v
}
