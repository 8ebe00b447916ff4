// Command happnbench is a load generator for happn_4 servers (happner-go and
// the reference npm happn-3). It speaks the wire protocol directly over
// websockets, runs one or more scenarios and prints one JSON object per
// scenario on stdout plus a human-readable line on stderr.
//
//	happnbench --addr 127.0.0.1:55000 --scenario set-pipe --duration 10s --server-pid 1234
//	happnbench table --go go.jsonl --peer peer.jsonl
//
// See bench/README.md for what every scenario and metric means.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/happner-go/happner/bench/internal/cli"
)

// scenarioNames lists the scenarios in the order run.sh runs them.
var scenarioNames = []string{"set-seq", "set-pipe", "get-pipe", "event-1", "event-10", "idle-10k", "hostile"}

// config is the parsed command line of a benchmark run.
type config struct {
	cli.Target
	duration     time.Duration
	ops          int64
	depth        int
	serverPID    int
	conns        int
	hostileConns int
	dialWorkers  int
	payload      int
	keys         int
	label        string
	settle       time.Duration
	cpuProfile   string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	return cli.Command[*config]{Name: "happnbench", Table: tableCmd, Parse: parseFlags, Bench: bench}.Main(args, stdout, stderr)
}

// bench runs every configured scenario, printing each result; a failed
// scenario makes the exit status 1 without stopping the others.
func bench(ctx context.Context, cfg *config, stdout, stderr io.Writer) int {
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "happnbench:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "happnbench: cpu profile:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	enc := json.NewEncoder(stdout)
	status := 0
	for _, name := range cfg.Scenarios {
		res, err := runScenario(ctx, cfg, name)
		if err != nil {
			fmt.Fprintf(stderr, "happnbench: %s against %s: %v\n", name, cfg.Addr, err)
			status = 1
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(stderr, "happnbench: write result:", err)
			return 1
		}
		fmt.Fprintln(stderr, res.human())
	}
	return status
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("happnbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{}
	cfg.Register(fs, "server", "servers", scenarioNames)
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time per scenario (ignored when --ops is set)")
	fs.Int64Var(&cfg.ops, "ops", 0, "measured operations per scenario instead of --duration (sets, for event-*)")
	fs.IntVar(&cfg.depth, "depth", 100, "requests in flight for set-pipe, get-pipe and the event publisher")
	fs.IntVar(&cfg.serverPID, "server-pid", 0, "server process id, to read its CPU time and RSS from /proc")
	fs.IntVar(&cfg.conns, "conns", 10000, "connections for idle-10k")
	fs.IntVar(&cfg.hostileConns, "hostile-conns", 300, "hostile: sockets that announce a 10 MB frame and stall")
	fs.IntVar(&cfg.dialWorkers, "dial-concurrency", 50, "parallel connection handshakes for idle-10k")
	fs.IntVar(&cfg.payload, "payload", 64, "bytes of filler in every set payload")
	fs.IntVar(&cfg.keys, "keys", 1000, "distinct keys written by set-* and read by get-pipe")
	fs.StringVar(&cfg.label, "label", "", "free-form label copied into every result (e.g. go, happn-3)")
	fs.DurationVar(&cfg.settle, "settle", 2*time.Second, "idle-10k: wait after the last login before reading RSS")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of this load generator to the file")
	if err := cfg.Parse(fs, args); err != nil {
		return nil, err
	}
	switch {
	case cfg.ops < 0:
		return nil, errors.New("--ops must be ≥ 0")
	case cfg.ops == 0 && cfg.duration <= 0:
		return nil, errors.New("--duration must be > 0 when --ops is not set")
	case cfg.Warmup < 0:
		return nil, errors.New("--warmup must be ≥ 0")
	case cfg.depth < 1:
		return nil, errors.New("--depth must be ≥ 1")
	case cfg.conns < 1:
		return nil, errors.New("--conns must be ≥ 1")
	case cfg.hostileConns < 0:
		return nil, errors.New("--hostile-conns must be ≥ 0")
	case cfg.dialWorkers < 1:
		return nil, errors.New("--dial-concurrency must be ≥ 1")
	case cfg.payload < 0:
		return nil, errors.New("--payload must be ≥ 0")
	case cfg.keys < 1:
		return nil, errors.New("--keys must be ≥ 1")
	case cfg.serverPID < 0:
		return nil, errors.New("--server-pid must be ≥ 0")
	}
	if err := cfg.CheckLogin(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func runScenario(ctx context.Context, cfg *config, name string) (*result, error) {
	switch name {
	case "set-seq":
		return runSet(ctx, cfg, name, 1)
	case "set-pipe":
		return runSet(ctx, cfg, name, cfg.depth)
	case "get-pipe":
		return runGet(ctx, cfg, name, cfg.depth)
	case "event-1":
		return runEvents(ctx, cfg, name, 1)
	case "event-10":
		return runEvents(ctx, cfg, name, 10)
	case "idle-10k":
		return runIdle(ctx, cfg, name)
	case "hostile":
		return runHostile(ctx, cfg, name)
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}
