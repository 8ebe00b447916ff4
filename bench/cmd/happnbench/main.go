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
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

// scenarioNames lists the scenarios in the order run.sh runs them.
var scenarioNames = []string{"set-seq", "set-pipe", "get-pipe", "event-1", "event-10", "idle-10k"}

// config is the parsed command line of a benchmark run.
type config struct {
	addr        string
	username    string
	password    string
	scenarios   []string
	duration    time.Duration
	ops         int64
	warmup      time.Duration
	depth       int
	serverPID   int
	conns       int
	dialWorkers int
	payload     int
	keys        int
	label       string
	settle      time.Duration
	cpuProfile  string
	coalesce    bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "table" {
		if err := tableCmd(args[1:], stdout); err != nil {
			fmt.Fprintln(stderr, "happnbench table:", err)
			return 2
		}
		return 0
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "happnbench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

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
	for _, name := range cfg.scenarios {
		res, err := runScenario(ctx, cfg, name)
		if err != nil {
			fmt.Fprintf(stderr, "happnbench: %s against %s: %v\n", name, cfg.addr, err)
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
	var scenarios string
	fs.StringVar(&cfg.addr, "addr", "", "server address host:port (required)")
	fs.StringVar(&cfg.username, "username", "", "login username (secure servers), e.g. _ADMIN")
	fs.StringVar(&cfg.password, "password", "", "login password (secure servers)")
	fs.StringVar(&scenarios, "scenario", "", "comma-separated scenarios or 'all': "+strings.Join(scenarioNames, ", "))
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time per scenario (ignored when --ops is set)")
	fs.Int64Var(&cfg.ops, "ops", 0, "measured operations per scenario instead of --duration (sets, for event-*)")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured warm-up before each measured phase")
	fs.IntVar(&cfg.depth, "depth", 100, "requests in flight for set-pipe, get-pipe and the event publisher")
	fs.IntVar(&cfg.serverPID, "server-pid", 0, "server process id, to read its CPU time and RSS from /proc")
	fs.IntVar(&cfg.conns, "conns", 10000, "connections for idle-10k")
	fs.IntVar(&cfg.dialWorkers, "dial-concurrency", 50, "parallel connection handshakes for idle-10k")
	fs.IntVar(&cfg.payload, "payload", 64, "bytes of filler in every set payload")
	fs.IntVar(&cfg.keys, "keys", 1000, "distinct keys written by set-* and read by get-pipe")
	fs.StringVar(&cfg.label, "label", "", "free-form label copied into every result (e.g. go, happn-3)")
	fs.DurationVar(&cfg.settle, "settle", 2*time.Second, "idle-10k: wait after the last login before reading RSS")
	fs.BoolVar(&cfg.coalesce, "coalesce", true, "let pipelined requests share write system calls (--coalesce=false: one write per request, like the npm client)")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of this load generator to the file")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.addr == "" {
		return nil, errors.New("--addr is required")
	}
	if scenarios == "" {
		return nil, errors.New("--scenario is required")
	}
	if scenarios == "all" {
		cfg.scenarios = scenarioNames
	} else {
		for _, s := range strings.Split(scenarios, ",") {
			s = strings.TrimSpace(s)
			if !knownScenario(s) {
				return nil, fmt.Errorf("unknown scenario %q (want one of %s)", s, strings.Join(scenarioNames, ", "))
			}
			cfg.scenarios = append(cfg.scenarios, s)
		}
	}
	switch {
	case cfg.ops < 0:
		return nil, errors.New("--ops must be ≥ 0")
	case cfg.ops == 0 && cfg.duration <= 0:
		return nil, errors.New("--duration must be > 0 when --ops is not set")
	case cfg.warmup < 0:
		return nil, errors.New("--warmup must be ≥ 0")
	case cfg.depth < 1:
		return nil, errors.New("--depth must be ≥ 1")
	case cfg.conns < 1:
		return nil, errors.New("--conns must be ≥ 1")
	case cfg.dialWorkers < 1:
		return nil, errors.New("--dial-concurrency must be ≥ 1")
	case cfg.payload < 0:
		return nil, errors.New("--payload must be ≥ 0")
	case cfg.keys < 1:
		return nil, errors.New("--keys must be ≥ 1")
	case cfg.serverPID < 0:
		return nil, errors.New("--server-pid must be ≥ 0")
	}
	if (cfg.username == "") != (cfg.password == "") {
		return nil, errors.New("--username and --password go together")
	}
	return cfg, nil
}

func knownScenario(s string) bool {
	for _, n := range scenarioNames {
		if n == s {
			return true
		}
	}
	return false
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
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}
