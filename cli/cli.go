// Package cli is the happner command line: the stock binary (cmd/happner)
// and your own binary with your components registered are the same ten
// lines.
//
//	func main() {
//		reg := happner.NewRegistry()
//		reg.RegisterValue("calc", Calc{})
//		cli.Main(reg)
//	}
//
// Main runs the whole command tree:
//
//   - serve --config FILE runs what the file describes: a happn config as a
//     happn server, a happner config (modules, components, happn) as a mesh;
//     without --config, a happn server configured by flags.
//   - member --config FILE runs one member of a cluster from a config in
//     happner-cluster's shape (happn.services.membership.config).
//   - version prints the module version, the commit and the Go version.
//   - get, set, remove, on, call, describe and members work against any
//     running node (--url, --username, password from HAPPNER_PASSWORD or
//     --password-file) and print JSON.
//
// Modules named in a config file (modules.NAME.path, default NAME) are
// looked up in the registry given to Main.
//
// A config file is read once: unknown keys and keys of features that are
// not implemented are logged, one warning line each (--strict or
// HAPPNER_STRICT=1 makes them an error); ${NAME} and ${NAME:-default} are
// replaced from the environment; a file given to the wrong command is
// refused with the command to use. The admin password of a new node comes
// from --admin-password-file, --admin-password or HAPPNER_ADMIN_PASSWORD
// before the file.
//
// Exit status: 0 on success, 1 when the node fails or the server refuses
// an operator command (its message is printed), 2 for a bad command line
// or config file.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/happner-go/happner"
)

// Exit statuses of Run.
const (
	// ExitOK: the command succeeded.
	ExitOK = 0
	// ExitFailure: the node failed to start or stopped with an error, or
	// the server refused an operator command.
	ExitFailure = 1
	// ExitUsage: the command line or the config file is wrong.
	ExitUsage = 2
)

// Main runs the happner command line with os.Args and exits with its
// status. SIGINT and SIGTERM stop a running node cleanly.
func Main(reg *happner.Registry) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := RunAs(ctx, programName(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr, reg)
	stop()
	os.Exit(code)
}

// Run runs the command line args (without the program name), writing
// results to stdout and logs and errors to stderr, and returns the exit
// status. A node runs until ctx ends. reg resolves the modules of config
// files; nil means none.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, reg *happner.Registry) int {
	return RunAs(ctx, "happner", args, stdout, stderr, reg)
}

// RunAs is Run for a program called name: the name its help, usage and
// error lines give (Main passes the executable's base name).
func RunAs(ctx context.Context, name string, args []string, stdout, stderr io.Writer, reg *happner.Registry) int {
	if reg == nil {
		reg = happner.NewRegistry()
	}
	if name == "" {
		name = "happner"
	}
	e := &env{stdout: stdout, stderr: stderr, reg: reg, name: name}
	root := e.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	// the library's errors start with "happner: " already
	msg := name + ": " + strings.TrimPrefix(err.Error(), "happner: ")
	if e.logJSON {
		// every line of a JSON log is a JSON record, the last one too
		e.log.Error(msg)
	} else {
		fmt.Fprintln(stderr, msg)
	}
	var ue *usageError
	if !e.ran || errors.As(err, &ue) {
		if !e.ran {
			fmt.Fprintf(stderr, "run '%s --help' for usage\n", name)
		}
		return ExitUsage
	}
	return ExitFailure
}

// env is what the commands of one Run share.
type env struct {
	stdout, stderr io.Writer
	reg            *happner.Registry
	// name is the program's name in help and error lines.
	name string
	// ran is set once a command's own code runs: errors before it (flags,
	// arguments, unknown commands) are usage errors.
	ran bool
	// log is the node's logger once a node command has built it, and
	// logJSON whether it writes JSON: a failed command is then reported
	// as a JSON record rather than a text line.
	log     *slog.Logger
	logJSON bool
}

// programName is the name a binary run as arg0 calls itself: the base
// name of its executable, without a Windows ".exe"; "happner" when there
// is none.
func programName(arg0 string) string {
	name := strings.TrimSuffix(filepath.Base(arg0), ".exe")
	if name == "" || name == "." || name == string(filepath.Separator) {
		return "happner"
	}
	return name
}

// usageError marks an error of the command line or the config file.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usage(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

func (e *env) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           e.name,
		Short:         "happner-go: happn, happner and happner-cluster nodes, and a tool to look into them",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usage("%w", err) })
	root.AddCommand(e.serveCommand(), e.memberCommand(), e.versionCommand())
	root.AddCommand(e.operatorCommands()...)
	return root
}

// run wraps a command's code so that its errors are told apart from the
// command line's.
func (e *env) run(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e.ran = true
		return fn(cmd, args)
	}
}
