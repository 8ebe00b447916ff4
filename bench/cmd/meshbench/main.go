// Command meshbench is a mesh RPC load generator for happner meshes (the Go
// mesh and the reference npm happner-2 mesh). It speaks happner's exchange
// wire like the npm MeshClient: it logs in, reads
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
	"strconv"
	"strings"
	"time"

	"github.com/happner-go/happner/bench/internal/cli"
)

// scenarioNames lists the scenarios in the order they run.
var scenarioNames = []string{"rpc-seq", "rpc-pipe"}

// config is the parsed command line.
type config struct {
	cli.Target
	duration   time.Duration
	depth      int
	serverPIDs pidList
	label      string
	component  string
	method     string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	return cli.Command[*config]{Name: "meshbench", Table: tableCmd, Parse: parseFlags, Bench: bench}.Main(args, stdout, stderr)
}

// bench runs every configured scenario on one session and prints the
// results gathered before any error.
func bench(ctx context.Context, cfg *config, stdout, stderr io.Writer) int {
	results, err := runAll(ctx, cfg, stderr)
	enc := json.NewEncoder(stdout)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(stderr, "meshbench: write result:", err)
			return 1
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshbench: against %s: %v\n", cfg.Addr, err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("meshbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{}
	cfg.Register(fs, "mesh", "meshes", scenarioNames)
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time per scenario")
	fs.IntVar(&cfg.depth, "depth", 100, "calls in flight for rpc-pipe")
	fs.Var(&cfg.serverPIDs, "server-pid", "mesh process id, to read its CPU time from /proc; several, comma-separated, are summed (a cluster's members)")
	fs.StringVar(&cfg.label, "label", "", "free-form label copied into every result (e.g. go-mesh)")
	fs.StringVar(&cfg.component, "component", "calc", "component to call")
	fs.StringVar(&cfg.method, "method", "add", "method to call with two numbers (it must answer their sum)")
	if err := cfg.Parse(fs, args); err != nil {
		return nil, err
	}
	switch {
	case cfg.duration <= 0:
		return nil, errors.New("--duration must be > 0")
	case cfg.Warmup < 0:
		return nil, errors.New("--warmup must be ≥ 0")
	case cfg.depth < 1:
		return nil, errors.New("--depth must be ≥ 1")
	case !cfg.serverPIDs.valid():
		return nil, errors.New("--server-pid must be ≥ 0")
	case cfg.component == "" || cfg.method == "":
		return nil, errors.New("--component and --method must not be empty")
	}
	if err := cfg.CheckLogin(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// pidList is a comma-separated list of process ids.
type pidList []int

func (l *pidList) String() string {
	parts := make([]string, len(*l))
	for i, p := range *l {
		parts[i] = strconv.Itoa(p)
	}
	return strings.Join(parts, ",")
}

func (l *pidList) Set(v string) error {
	*l = nil
	for _, f := range strings.Split(v, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("bad process id %q", f)
		}
		*l = append(*l, p)
	}
	return nil
}

func (l pidList) valid() bool {
	for _, p := range l {
		if p < 0 {
			return false
		}
	}
	return true
}
