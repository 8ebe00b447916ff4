// Command meshbench is a mesh RPC load generator for happner meshes (the Go
// mesh and the reference npm happner-2 mesh). It speaks happner's exchange
// wire like the npm MeshClient (wire-protocol.md §6): it logs in, reads
// `/mesh/schema/*`, subscribes to its response addresses and calls
// component methods with `set`s on `/_exchange/requests/<domain>/<comp>/<method>`
// carrying a callbackAddress. It prints one JSON object per scenario on
// stdout and a human line on stderr.
//
//	meshbench --addr 127.0.0.1:55000 --scenario rpc-seq,rpc-pipe --server-pid 1234
//	meshbench table --go-mesh-go-client F --npm-mesh-go-client F …
//
// See bench/README.md ("Mesh RPC") for the scenarios and metrics.
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
	"strings"
	"syscall"
	"time"
)

// scenarioNames lists the scenarios in the order they run.
var scenarioNames = []string{"rpc-seq", "rpc-pipe"}

// config is the parsed command line.
type config struct {
	addr      string
	username  string
	password  string
	scenarios []string
	duration  time.Duration
	warmup    time.Duration
	depth     int
	serverPID int
	label     string
	component string
	method    string
	coalesce  bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "table" {
		if err := tableCmd(args[1:], stdout, stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintln(stderr, "meshbench table:", err)
			return 2
		}
		return 0
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "meshbench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	results, err := runAll(ctx, cfg, stderr)
	enc := json.NewEncoder(stdout)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(stderr, "meshbench: write result:", err)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshbench: against %s: %v\n", cfg.addr, err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("meshbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{}
	var scenarios string
	fs.StringVar(&cfg.addr, "addr", "", "mesh address host:port (required)")
	fs.StringVar(&cfg.username, "username", "", "login username (secure meshes), e.g. _ADMIN")
	fs.StringVar(&cfg.password, "password", "", "login password (secure meshes)")
	fs.StringVar(&scenarios, "scenario", "", "comma-separated scenarios or 'all': "+strings.Join(scenarioNames, ", "))
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time per scenario")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured warm-up before each measured phase")
	fs.IntVar(&cfg.depth, "depth", 100, "calls in flight for rpc-pipe")
	fs.IntVar(&cfg.serverPID, "server-pid", 0, "mesh process id, to read its CPU time from /proc")
	fs.StringVar(&cfg.label, "label", "", "free-form label copied into every result (e.g. go-mesh)")
	fs.StringVar(&cfg.component, "component", "calc", "component to call")
	fs.StringVar(&cfg.method, "method", "add", "method to call with two numbers (it must answer their sum)")
	fs.BoolVar(&cfg.coalesce, "coalesce", true, "let pipelined requests share write system calls (--coalesce=false: one write per request, like the npm client)")
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
	case cfg.duration <= 0:
		return nil, errors.New("--duration must be > 0")
	case cfg.warmup < 0:
		return nil, errors.New("--warmup must be ≥ 0")
	case cfg.depth < 1:
		return nil, errors.New("--depth must be ≥ 1")
	case cfg.serverPID < 0:
		return nil, errors.New("--server-pid must be ≥ 0")
	case cfg.component == "" || cfg.method == "":
		return nil, errors.New("--component and --method must not be empty")
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
