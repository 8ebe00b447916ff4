// Package cli is the command-line plumbing the benchmark commands share:
// the `table` subcommand dispatch, exit codes, interrupt handling, and the
// flags that say which server to load and how.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Command is a benchmark command whose parsed command line is a C:
// `NAME table ARGS…` renders a comparison table, anything else runs the
// benchmark.
type Command[C any] struct {
	// Name prefixes every error message.
	Name string
	// Table runs the table subcommand with the arguments after `table`.
	Table func(args []string, stdout, stderr io.Writer) error
	// Parse reads the benchmark's flags; it writes help and flag errors to
	// stderr.
	Parse func(args []string, stderr io.Writer) (C, error)
	// Bench runs the parsed benchmark until done or ctx is cancelled
	// (SIGINT, SIGTERM) and returns the exit code.
	Bench func(ctx context.Context, cfg C, stdout, stderr io.Writer) int
}

// Main runs the command with args and returns the exit code: 0 for success
// and for --help, 2 for bad usage, otherwise what Bench returns.
func (c Command[C]) Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "table" {
		if err := c.Table(args[1:], stdout, stderr); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintln(stderr, c.Name+" table:", err)
			return 2
		}
		return 0
	}
	cfg, err := c.Parse(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, c.Name+":", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.Bench(ctx, cfg, stdout, stderr)
}

// Target holds the flags both load generators share: where the server is,
// how to log in, which scenarios to run and how to send.
type Target struct {
	// Addr is the server's host:port.
	Addr string
	// Username and Password log in to a secure server; both or neither.
	Username, Password string
	// Scenarios are the scenarios to run, in order.
	Scenarios []string
	// Warmup is the unmeasured warm-up before each measured phase.
	Warmup time.Duration
	// Coalesce lets pipelined requests share write system calls.
	Coalesce bool

	scenarioArg string
	known       []string
}

// Register defines --addr, --username, --password, --scenario, --warmup and
// --coalesce on fs. kind and kinds name what is loaded in their help
// ("server", "servers"); known lists the scenarios in the order "all" runs
// them.
func (t *Target) Register(fs *flag.FlagSet, kind, kinds string, known []string) {
	t.known = known
	fs.StringVar(&t.Addr, "addr", "", kind+" address host:port (required)")
	fs.StringVar(&t.Username, "username", "", "login username (secure "+kinds+"), e.g. _ADMIN")
	fs.StringVar(&t.Password, "password", "", "login password (secure "+kinds+")")
	fs.StringVar(&t.scenarioArg, "scenario", "", "comma-separated scenarios or 'all': "+strings.Join(known, ", "))
	fs.DurationVar(&t.Warmup, "warmup", time.Second, "unmeasured warm-up before each measured phase")
	fs.BoolVar(&t.Coalesce, "coalesce", true, "let pipelined requests share write system calls (--coalesce=false: one write per request, like the npm client)")
}

// Parse parses args with fs (on which Register was called) and checks the
// shared flags: no stray arguments, --addr and --scenario given, and every
// scenario known ("all" means every one).
func (t *Target) Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if t.Addr == "" {
		return errors.New("--addr is required")
	}
	if t.scenarioArg == "" {
		return errors.New("--scenario is required")
	}
	if t.scenarioArg == "all" {
		t.Scenarios = t.known
		return nil
	}
	for _, s := range strings.Split(t.scenarioArg, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(t.known, s) {
			return fmt.Errorf("unknown scenario %q (want one of %s)", s, strings.Join(t.known, ", "))
		}
		t.Scenarios = append(t.Scenarios, s)
	}
	return nil
}

// CheckLogin reports an error unless --username and --password are given
// together or not at all.
func (t *Target) CheckLogin() error {
	if (t.Username == "") != (t.Password == "") {
		return errors.New("--username and --password go together")
	}
	return nil
}
