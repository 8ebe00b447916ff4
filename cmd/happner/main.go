// Command happner runs a happner-go node or cluster member.
//
//	happner serve [--port 55000] [--host 0.0.0.0] [--config file] [--file data.db]
//	happner member --config member.json
//
// It prints "happner listening on HOST:PORT" on stdout once clients can
// connect, logs to stderr, and stops cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // profiling endpoints, served only with --pprof-addr
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/happner-go/happner/cluster"
	"github.com/happner-go/happner/happn"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "happner",
		Short:         "happner-go: the happner/happn server in Go",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(newServeCommand())
	root.AddCommand(newMemberCommand())
	return root
}

type serveFlags struct {
	config        string
	host          string
	port          int
	name          string
	secure        bool
	adminPassword string
	file          string
	pingInterval  time.Duration
	logLevel      string
	pprofAddr     string
}

func newServeCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run one happn node",
		RunE: func(cmd *cobra.Command, args []string) error {
			return serve(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "happn config file (JSON or YAML)")
	fl.StringVar(&f.host, "host", "0.0.0.0", "address to listen on")
	fl.IntVar(&f.port, "port", 55000, "port to listen on (0 picks a free port)")
	fl.StringVar(&f.name, "name", "", "server name (default: stored or generated)")
	fl.BoolVar(&f.secure, "secure", false, "require logins and enforce permissions")
	fl.StringVar(&f.adminPassword, "admin-password", "", "password of _ADMIN when first created (default happn)")
	fl.StringVar(&f.file, "file", "", "keep data in this embedded database file")
	fl.DurationVar(&f.pingInterval, "ping-interval", 0, "heartbeat interval (default 30s)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&f.pprofAddr, "pprof-addr", "", "serve Go profiling endpoints (/debug/pprof/) on this address, e.g. 127.0.0.1:6060")
	return cmd
}

// newMemberCommand runs one cluster member from a happner-cluster config
// file. Its components must be modules this binary knows; with none it is
// a data and pub/sub member (happn) that joins, replicates and syncs
// security like any other.
func newMemberCommand() *cobra.Command {
	var config, logLevel string
	cmd := &cobra.Command{
		Use:   "member",
		Short: "Run one happner-cluster member from a config file",
		RunE: func(cmd *cobra.Command, args []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("bad --log-level: %w", err)
			}
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			if config == "" {
				return fmt.Errorf("--config is required")
			}
			cfg, err := cluster.LoadConfigFile(config)
			if err != nil {
				return err
			}
			cfg.Logger = logger
			cfg.Happn.Logger = logger
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			m, err := cluster.Create(ctx, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "happner member %s listening on %s\n", m.Name(), m.ClientAddr())
			<-ctx.Done()
			logger.Info("leaving the cluster")
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return m.Stop(stopCtx)
		},
	}
	cmd.Flags().StringVar(&config, "config", "", "happner-cluster config file (JSON or YAML)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func serve(cmd *cobra.Command, f serveFlags) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("bad --log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	var cfg happn.Config
	if f.config != "" {
		data, err := os.ReadFile(f.config)
		if err != nil {
			return err
		}
		if cfg, err = happn.ParseConfig(data, happn.ConfigFormat(f.config)); err != nil {
			return err
		}
	} else {
		cfg.Port = 55000
	}
	flags := cmd.Flags()
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
	if f.adminPassword != "" {
		cfg.AdminPassword = f.adminPassword
	}
	if f.file != "" {
		cfg.Filename = f.file
	}
	if f.pingInterval > 0 {
		cfg.PingInterval = f.pingInterval
	}
	cfg.Logger = logger

	if f.pprofAddr != "" {
		go func() {
			logger.Info("profiling endpoints", "addr", f.pprofAddr)
			if err := http.ListenAndServe(f.pprofAddr, nil); err != nil {
				logger.Error("pprof listener failed", "err", err)
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := happn.New(cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		_ = srv.Stop(context.Background())
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "happner listening on %s\n", srv.Addr())
	<-ctx.Done()
	logger.Info("stopping")
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Stop(stopCtx)
}
