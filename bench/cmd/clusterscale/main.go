// Command clusterscale measures how a happner-go cluster scales with its
// number of members. For each member count it starts a cluster (members in
// this process, or one clustermember process each), waits until every
// member is stable, and measures:
//
//   - the time from the start to every member stable;
//   - the CPU of the idle cluster per member (pulses, scans, keep-alives);
//   - on PostgreSQL, the statements, rows read and server CPU per member;
//   - the CPU per member of one event published on one member and
//     replicated to every other;
//   - the CPU per member of one security change made on one member and
//     applied by every other.
//
// It prints one JSON object per member count on stdout and a human line on
// stderr; `clusterscale table FILE…` turns the JSON lines into markdown.
//
//	clusterscale --members 5,10,25,50 --mode in-process --store memory
//	clusterscale --members 5,10 --mode processes --member-bin ./clustermember
//	clusterscale table results/*.jsonl
//
// See bench/README.md ("Cluster scale").
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
	"strconv"
	"strings"
	"time"

	"github.com/happner-go/happner/bench/internal/cli"
)

// Modes and stores.
const (
	modeInProcess = "in-process"
	modeProcesses = "processes"
	storeMemory   = "memory"
	storePostgres = "postgres"
)

// config is the parsed command line.
type config struct {
	members   []int
	mode      string
	store     string
	secure    bool
	keys      bool
	pulse     time.Duration
	scan      time.Duration
	secEvery  time.Duration
	settle    time.Duration
	idle      time.Duration
	events    int
	depth     int
	changes   int
	memberBin string
	pgDSN     string
	label     string
	verbose   bool
	profile   string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	return cli.Command[*config]{Name: "clusterscale", Table: tableCmd, Parse: parseFlags, Bench: bench}.Main(args, stdout, stderr)
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("clusterscale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{}
	var members string
	fs.StringVar(&members, "members", "5,10,25,50", "comma-separated member counts, one cluster each")
	fs.StringVar(&cfg.mode, "mode", modeInProcess, "where members run: in-process (all in this process) or processes (one clustermember each)")
	fs.StringVar(&cfg.store, "store", storeMemory, "shared store: memory (in-process only) or postgres")
	fs.BoolVar(&cfg.secure, "secure", false, "secure members: they log into each other as _ADMIN")
	fs.BoolVar(&cfg.keys, "keys", false, "secure members log into each other with an RSA key pair (clusterPrivateKey) instead of _ADMIN's password (in-process only)")
	fs.DurationVar(&cfg.pulse, "pulse", time.Second, "membership pulse interval")
	fs.DurationVar(&cfg.scan, "scan", 3*time.Second, "membership scanning interval")
	fs.DurationVar(&cfg.secEvery, "security-interval", 3*time.Second, "how often members send their security changes to the others")
	fs.DurationVar(&cfg.settle, "settle", 3*time.Second, "wait after every member is stable before measuring")
	fs.DurationVar(&cfg.idle, "idle", 15*time.Second, "idle measurement window")
	fs.IntVar(&cfg.events, "events", 2000, "events published for the replicated event cost (0: skip)")
	fs.IntVar(&cfg.depth, "depth", 20, "events in flight while publishing")
	fs.IntVar(&cfg.changes, "changes", 50, "security changes for the security change cost (0: skip)")
	fs.StringVar(&cfg.memberBin, "member-bin", "", "clustermember binary (processes mode; build it from ./internal/cmd/clustermember)")
	fs.StringVar(&cfg.pgDSN, "pg", "", "DSN of a PostgreSQL server where databases may be created (default: a private server started from the installed binaries)")
	fs.StringVar(&cfg.label, "label", "", "free-form label copied into every result")
	fs.BoolVar(&cfg.verbose, "v", false, "members log warnings to stderr")
	fs.StringVar(&cfg.profile, "cpuprofile", "", "write a CPU profile of this process to the file (in-process members: the whole cluster)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, s := range strings.Split(members, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 {
			return nil, fmt.Errorf("--members: %q is not a count of at least 2", s)
		}
		cfg.members = append(cfg.members, n)
	}
	switch {
	case cfg.mode != modeInProcess && cfg.mode != modeProcesses:
		return nil, fmt.Errorf("--mode must be %s or %s", modeInProcess, modeProcesses)
	case cfg.store != storeMemory && cfg.store != storePostgres:
		return nil, fmt.Errorf("--store must be %s or %s", storeMemory, storePostgres)
	case cfg.mode == modeProcesses && cfg.store != storePostgres:
		return nil, errors.New("--mode processes needs --store postgres (members in separate processes share a database)")
	case cfg.keys && (!cfg.secure || cfg.mode != modeInProcess):
		return nil, errors.New("--keys needs --secure and --mode in-process")
	case cfg.mode == modeProcesses && cfg.memberBin == "":
		return nil, errors.New("--mode processes needs --member-bin")
	case cfg.pulse <= 0 || cfg.scan <= 0 || cfg.secEvery <= 0:
		return nil, errors.New("--pulse, --scan and --security-interval must be > 0")
	case cfg.idle <= 0:
		return nil, errors.New("--idle must be > 0")
	case cfg.settle < 0 || cfg.events < 0 || cfg.changes < 0:
		return nil, errors.New("--settle, --events and --changes must be ≥ 0")
	case cfg.depth < 1:
		return nil, errors.New("--depth must be ≥ 1")
	}
	return cfg, nil
}

// bench measures every member count in turn and prints the results.
func bench(ctx context.Context, cfg *config, stdout, stderr io.Writer) int {
	var pg *pgServer
	if cfg.store == storePostgres {
		var err error
		if pg, err = startPostgres(cfg.pgDSN); err != nil {
			fmt.Fprintln(stderr, "clusterscale:", err)
			return 1
		}
		defer pg.close()
	}
	if cfg.profile != "" {
		f, err := os.Create(cfg.profile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "clusterscale: cpu profile:", err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	enc := json.NewEncoder(stdout)
	code := 0
	for _, n := range cfg.members {
		if ctx.Err() != nil {
			return 1
		}
		r := measure(ctx, cfg, pg, n, stderr)
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(stderr, "clusterscale: write result:", err)
			return 1
		}
		fmt.Fprintln(stderr, r.human())
		if r.Error != "" {
			code = 1
		}
	}
	return code
}
