package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/cluster"
	"github.com/happner-go/happner/configfile"
	"github.com/happner-go/happner/gctune"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/logging"
)

// stopTimeout bounds a node's clean stop.
const stopTimeout = 10 * time.Second

// nodeFlags are the flags of serve and member.
type nodeFlags struct {
	configFlags
	logLevel       string
	logFormat      string
	pprofAddr      string
	metricsAddr    string
	allowedOrigins []string
	trustedProxies []string
}

func (f *nodeFlags) register(fl *pflag.FlagSet, configHelp string) {
	fl.StringVar(&f.path, "config", "", configHelp)
	fl.BoolVar(&f.strict, "strict", false, "refuse config keys that do nothing (also "+EnvStrict+"=1)")
	fl.StringVar(&f.adminPassword, "admin-password", "", "password of _ADMIN when first created (visible to ps: prefer --admin-password-file or "+EnvAdminPassword+")")
	fl.StringVar(&f.adminPasswordFile, "admin-password-file", "", "read the password of _ADMIN (when first created) from this file")
	fl.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default: the config file's log.level, else info)")
	fl.StringVar(&f.logFormat, "log-format", "", "text or json (default: the config file's log.format, else text)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "also serve /metrics, /health and /ready without authentication on this address, e.g. 127.0.0.1:9100")
	fl.StringVar(&f.pprofAddr, "pprof-addr", "", "serve Go profiling endpoints (/debug/pprof/) on this address, e.g. 127.0.0.1:6060")
	fl.StringSliceVar(&f.allowedOrigins, "allowed-origins", nil, "browser origins (https://app.example, or *) allowed to open a websocket carrying the session cookie (default: the node's own host name)")
	fl.StringSliceVar(&f.trustedProxies, "trusted-proxies", nil, "reverse proxies (IP addresses or CIDR ranges) whose X-Forwarded-For gives the client's address (default: none, the header is ignored)")
}

// applyHappn applies the flags every node has to its happn config.
func (f *nodeFlags) applyHappn(flags *pflag.FlagSet, cfg *happn.Config) {
	if flags.Changed("allowed-origins") {
		cfg.AllowedOrigins = f.allowedOrigins
	}
	if flags.Changed("trusted-proxies") {
		cfg.TrustedProxies = f.trustedProxies
	}
}

func (f *nodeFlags) logger(e *env) (*slog.Logger, error) { return f.loggerFor(e, logging.Options{}) }

// loggerFor builds the node's logger from the config file's log settings,
// with --log-format and --log-level winning. The last logger built is the
// one Run reports a failed command through.
func (f *nodeFlags) loggerFor(e *env, o logging.Options) (*slog.Logger, error) {
	if f.logFormat != "" {
		o.Format = f.logFormat
	}
	if f.logLevel != "" {
		o.Level = f.logLevel
	}
	log, err := logging.New(e.stderr, o)
	if err != nil {
		return nil, usage("%v (--log-format: text or json; --log-level: debug, info, warn or error)", err)
	}
	e.log = log
	e.logJSON = strings.EqualFold(o.Format, logging.FormatJSON)
	return log, nil
}

// fileLogger builds the logger the config file asks for (log, and for a
// mesh or a member happn.log, the top-level key winning), read before the
// rest of the file is decoded so that the file's warnings and errors are
// logged in the file's format, with --log-format and --log-level winning. A log section that cannot be read leaves
// the defaults: decoding the file reports it.
func (f *nodeFlags) fileLogger(e *env, doc *configfile.Document, kind fileKind) (*slog.Logger, error) {
	var o logging.Options
	root := doc.Root()
	if kind != happnFile && root.Has("happn", "log") {
		_ = root.Child("happn").Child("log").Decode(&o)
	}
	if root.Has("log") {
		var top logging.Options
		if root.Child("log").Decode(&top) == nil {
			o = top
		}
	}
	if o.Validate() != nil {
		o = logging.Options{}
	}
	return f.loggerFor(e, o)
}

// prepare finishes a node's happn config from the flags every node has and
// sets up the process: the logger (log.* merged with the flags), the
// metrics listener, and the garbage collector (gc.*, GOGC, GOMEMLIMIT).
func (f *nodeFlags) prepare(e *env, cfg *happn.Config) (*slog.Logger, error) {
	log, err := f.loggerFor(e, cfg.Log)
	if err != nil {
		return nil, err
	}
	if f.metricsAddr != "" {
		cfg.MetricsOptions.Addr = f.metricsAddr
	}
	gc, err := gctune.Apply(cfg.GC, os.LookupEnv)
	if err != nil {
		return nil, &usageError{err: err}
	}
	log.Info("garbage collector", "settings", gc.String())
	cfg.Logger = log
	return log, nil
}

// servePprof serves the profiling endpoints until ctx ends.
func servePprof(ctx context.Context, addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("profiling endpoints", "addr", ln.Addr().String())
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof listener failed", "err", err)
		}
	}()
	return func() { _ = srv.Close() }, nil
}

// runNode starts a node with start, prints its line (none when line is
// "": start prints it later), waits for ctx and stops it. A start cut
// short by ctx (a signal) is a clean stop, not a failure.
func (e *env) runNode(ctx context.Context, f *nodeFlags, log *slog.Logger, start func(context.Context) (line string, stop func(context.Context) error, err error)) error {
	if f.pprofAddr != "" {
		stopPprof, err := servePprof(ctx, f.pprofAddr, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	line, stop, err := start(ctx)
	if err != nil {
		if ctx.Err() != nil {
			// SIGINT or SIGTERM during the start: the node was asked to
			// stop, it did not fail
			log.Info("stopped before the node had started", "reason", context.Cause(ctx).Error())
			return nil
		}
		return withAdminPasswordHint(err)
	}
	if line != "" {
		fmt.Fprintln(e.stdout, line)
	}
	<-ctx.Done()
	log.Info("stopping")
	stopCtx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	return stop(stopCtx)
}

// withAdminPasswordHint explains a secure node whose own login as _ADMIN
// was refused: the store already holds _ADMIN with another password.
func withAdminPasswordHint(err error) error {
	var se *client.ServerError
	if !errors.As(err, &se) || se.Name != "AccessDenied" || !strings.Contains(err.Error(), "data layer client") {
		return err
	}
	return fmt.Errorf("%w (the store already holds _ADMIN with another password: the admin password given by "+
		"--admin-password-file, --admin-password, %s or services.security.config.adminUser.password is used only "+
		"when _ADMIN is first created, a stored one is kept; give the stored password, or log in with it and change "+
		"_ADMIN's password first)", err, EnvAdminPassword)
}

type serveFlags struct {
	nodeFlags
	host         string
	port         int
	name         string
	secure       bool
	file         string
	pingInterval time.Duration
}

func (e *env) serveCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a happn server, or a mesh from a happner config",
		Long: `Run one node. Without --config: a happn server configured by the flags.
With --config: what the file describes — a happn config runs a happn server, a happner
config (modules, components, happn, …) runs a mesh with the components of this binary.
A happner-cluster config (happn.services.membership) is refused: run it with 'member'.
Flags given on the command line override the file.

Prints "happner listening on HOST:PORT" (a mesh: "happner mesh NAME listening on HOST:PORT")
once clients can connect, and stops cleanly on SIGINT or SIGTERM.`,
		Args: noArgs,
		RunE: e.run(func(cmd *cobra.Command, _ []string) error { return e.serve(cmd, &f) }),
	}
	fl := cmd.Flags()
	f.register(fl, "happn or happner config file (JSON or YAML)")
	fl.StringVar(&f.host, "host", "0.0.0.0", "address to listen on")
	fl.IntVar(&f.port, "port", 55000, "port to listen on (0 picks a free port)")
	fl.StringVar(&f.name, "name", "", "server (mesh) name (default: from the file, stored or generated)")
	fl.BoolVar(&f.secure, "secure", false, "require logins and enforce permissions")
	fl.StringVar(&f.file, "file", "", "keep data in this embedded database file")
	fl.DurationVar(&f.pingInterval, "ping-interval", 0, "heartbeat interval (default 30s)")
	return cmd
}

// noArgs refuses positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usage("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// applyFlags lets the flags given on the command line override cfg.
func (f *serveFlags) applyFlags(flags *pflag.FlagSet, cfg *happn.Config) error {
	if flags.Changed("host") || cfg.Host == "" {
		cfg.Host = f.host
	}
	if flags.Changed("port") {
		cfg.Port = f.port
	}
	if flags.Changed("name") {
		cfg.Name = f.name
	}
	if flags.Changed("secure") {
		cfg.Secure = f.secure
	}
	if f.file != "" {
		cfg.Filename = f.file
	}
	if f.pingInterval > 0 {
		cfg.PingInterval = f.pingInterval
	}
	f.applyHappn(flags, cfg)
	pw, err := f.adminPasswordOverride()
	if err != nil {
		return err
	}
	applyAdminPassword(cfg, pw)
	return nil
}

func (e *env) serve(cmd *cobra.Command, f *serveFlags) error {
	log, err := f.logger(e)
	if err != nil {
		return err
	}
	if f.path == "" {
		cfg := happn.Config{Port: 55000}
		if err := f.applyFlags(cmd.Flags(), &cfg); err != nil {
			return err
		}
		return e.serveHappn(cmd.Context(), &f.nodeFlags, cfg)
	}
	doc, err := f.load()
	if err != nil {
		return err
	}
	kind := kindOf(doc)
	if log, err = f.fileLogger(e, doc, kind); err != nil {
		return err
	}
	switch kind {
	case memberFile:
		return wrongCommand(e.name, f.path, kind, "member", " (it has happn.services.membership or a cluster section)")
	case meshFile:
		cfg, err := happner.DecodeConfig(doc.Root())
		if err != nil {
			return &usageError{err: err}
		}
		if err := f.check(doc, log); err != nil {
			return err
		}
		if err := f.applyFlags(cmd.Flags(), &cfg.Happn); err != nil {
			return err
		}
		if cmd.Flags().Changed("name") {
			cfg.Name = f.name
		}
		return e.serveMesh(cmd.Context(), &f.nodeFlags, cfg)
	default:
		cfg, err := happn.DecodeConfig(doc.Root())
		if err != nil {
			return &usageError{err: err}
		}
		if err := f.check(doc, log); err != nil {
			return err
		}
		if err := f.applyFlags(cmd.Flags(), &cfg); err != nil {
			return err
		}
		return e.serveHappn(cmd.Context(), &f.nodeFlags, cfg)
	}
}

func (e *env) serveHappn(ctx context.Context, f *nodeFlags, cfg happn.Config) error {
	log, err := f.prepare(e, &cfg)
	if err != nil {
		return err
	}
	return e.runNode(ctx, f, log, func(ctx context.Context) (string, func(context.Context) error, error) {
		srv, err := happn.New(cfg)
		if err != nil {
			return "", nil, err
		}
		if err := srv.Start(ctx); err != nil {
			_ = srv.Stop(context.Background())
			return "", nil, err
		}
		stop := func(ctx context.Context) error { return srv.Stop(ctx) }
		return "happner listening on " + srv.Addr(), stop, nil
	})
}

func (e *env) serveMesh(ctx context.Context, f *nodeFlags, cfg happner.Config) error {
	log, err := f.prepare(e, &cfg.Happn)
	if err != nil {
		return err
	}
	cfg.Registry = e.reg
	cfg.Logger = log
	return e.runNode(ctx, f, log, func(ctx context.Context) (string, func(context.Context) error, error) {
		m, err := happner.Create(ctx, cfg)
		if err != nil {
			return "", nil, err
		}
		if cfg.DeferListen {
			// nothing else in this process will tell the mesh to listen:
			// it listens once its components have started
			if err := m.Listen(ctx); err != nil {
				_ = m.Stop(context.Background())
				return "", nil, err
			}
		}
		return fmt.Sprintf("happner mesh %s listening on %s", m.Name(), m.Addr()), m.Stop, nil
	})
}

func (e *env) memberCommand() *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "member",
		Short: "Run one happner-cluster member from a config file",
		Long: `Run one cluster member from a config in happner-cluster's shape: the mesh keys (name,
domain, modules, components, happn) with happn.services.membership.config (deploymentId, …)
and a shared datastore. Its modules are the components registered in this binary.
A happn or happner config without the membership service is refused: run it with 'serve'.

Prints "happner member NAME listening on HOST:PORT" once its client port is open, and
leaves the cluster cleanly on SIGINT or SIGTERM.`,
		Args: noArgs,
		RunE: e.run(func(cmd *cobra.Command, _ []string) error { return e.member(cmd, &f) }),
	}
	f.register(cmd.Flags(), "happner-cluster config file (JSON or YAML)")
	return cmd
}

func (e *env) member(cmd *cobra.Command, f *nodeFlags) error {
	ctx := cmd.Context()
	log, err := f.logger(e)
	if err != nil {
		return err
	}
	if f.path == "" {
		return usage("member needs --config FILE (a happner-cluster config)")
	}
	doc, err := f.load()
	if err != nil {
		return err
	}
	if kind := kindOf(doc); kind != memberFile {
		return wrongCommand(e.name, f.path, kind, "serve", " without happn.services.membership.config")
	}
	if log, err = f.fileLogger(e, doc, memberFile); err != nil {
		return err
	}
	cfg, err := cluster.DecodeConfig(doc.Root())
	if err != nil {
		return &usageError{err: err}
	}
	if err := f.check(doc, log); err != nil {
		return err
	}
	pw, err := f.adminPasswordOverride()
	if err != nil {
		return err
	}
	applyAdminPassword(&cfg.Happn, pw)
	f.applyHappn(cmd.Flags(), &cfg.Happn)
	if log, err = f.prepare(e, &cfg.Happn); err != nil {
		return err
	}
	cfg.Registry = e.reg
	cfg.Logger = log
	return e.runNode(ctx, f, log, func(ctx context.Context) (string, func(context.Context) error, error) {
		m, err := cluster.Create(ctx, cfg)
		if err != nil {
			return "", nil, err
		}
		line := func(addr string) string { return fmt.Sprintf("happner member %s listening on %s", m.Name(), addr) }
		if addr := m.ClientAddr(); addr != "" {
			return line(addr), m.Stop, nil
		}
		// cluster.dependenciesSatisfiedDeferListen: the client port opens
		// once every brokered component has a member
		log.Info("client port deferred until the brokered components have members")
		go e.announceClientPort(ctx, m.ClientAddr, line)
		return "", m.Stop, nil
	})
}

// clientPortPoll is how often a member's deferred client port is checked.
const clientPortPoll = 50 * time.Millisecond

// announceClientPort prints line(addr) once clientAddr gives the address
// of the opened client port, or gives up when ctx ends.
func (e *env) announceClientPort(ctx context.Context, clientAddr func() string, line func(addr string) string) {
	tick := time.NewTicker(clientPortPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if addr := clientAddr(); addr != "" {
				fmt.Fprintln(e.stdout, line(addr))
				return
			}
		}
	}
}
