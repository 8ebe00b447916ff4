package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/happner-go/happner/bench/internal/pipeline"
	"github.com/happner-go/happner/bench/internal/report"
	"github.com/happner-go/happner/bench/internal/wire"
)

// runAll opens one session and runs every configured scenario on it,
// returning the results gathered before any error.
func runAll(ctx context.Context, cfg *config, stderr io.Writer) ([]*result, error) {
	mc, err := dialMesh(ctx, cfg.Addr, wire.Options{Username: cfg.Username, Password: cfg.Password,
		ManualFlush: cfg.Coalesce}, cfg.component, cfg.method)
	if err != nil {
		return nil, err
	}
	defer mc.Close()
	var out []*result
	for _, name := range cfg.Scenarios {
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

// adder calls add(i mod 1000, 7) as request i. A response that is not the
// sum counts as an error; latency runs from the call to its response.
func adder(mc *meshConn) pipeline.Sender {
	var buf []byte
	return func(i int64, begin func() pipeline.Finish) error {
		a, b := float64(i%1000), 7.0
		done := begin()
		var err error
		buf, err = mc.call([]float64{a, b}, buf, func(r rpcResult) {
			switch {
			case r.Err != nil:
				done(r.Err)
			case len(r.Args) < 2 || string(r.Args[0]) != "null" || string(r.Args[1]) != strconv.FormatFloat(a+b, 'g', -1, 64):
				done(fmt.Errorf("add(%g, %g) answered %s", a, b, joinRaw(r.Args)))
			default:
				done(nil)
			}
		})
		return err
	}
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
	p := pipeline.Pipe{Conn: mc.c, Depth: depth, Answers: "responses"}
	m, err := p.Measure(ctx, cfg.Warmup, pipeline.Limit{For: cfg.duration}, cfg.serverPIDs, adder(mc))
	if err != nil {
		return nil, err
	}
	r := &result{Scenario: name, Client: "go", Label: cfg.label, Addr: cfg.Addr, Secure: mc.info.Secure,
		Depth: depth, CoalescedWrites: cfg.Coalesce && depth > 1,
		DurationS: m.Elapsed.Seconds(), Errors: m.Errors, FirstError: m.FirstError(), Ops: m.Done,
		OpsPerS: m.PerSecond(), ServerCPUS: m.ServerCPUSeconds(), ServerCPUUsPerOp: m.ServerCPUMicrosPerOp(),
		ClientCPUS: report.Ptr(m.ClientCPU.Seconds())}
	r.SetLatency(m.Latency)
	if m.Done == 0 {
		return r, errors.New("no call was answered")
	}
	return r, nil
}
