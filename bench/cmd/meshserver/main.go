// Command meshserver starts the Go happner mesh measured by bench/run-mesh.sh:
// one component, calc, with add(a, b). Unlike internal/cmd/meshserver it can
// be secured. Once it accepts clients it prints "mesh listening on HOST:PORT";
// it stops on SIGINT or SIGTERM.
//
//	meshserver [-host 127.0.0.1] [-port 0] [-name benchMesh] [-secure -admin-password P] [-cpuprofile F]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/happner-go/happner/bench/internal/benchmesh"
)

func main() {
	host := flag.String("host", "127.0.0.1", "host to listen on")
	port := flag.Int("port", 0, "port (0: any free port)")
	name := flag.String("name", "benchMesh", "mesh name")
	secure := flag.Bool("secure", false, "turn on security (log in as _ADMIN)")
	adminPassword := flag.String("admin-password", "happn", "_ADMIN's password on a secure mesh")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the mesh to this file until it stops")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "meshserver: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "meshserver:", err)
			os.Exit(2)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "meshserver: cpu profile:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m, err := benchmesh.Start(ctx, benchmesh.Options{Host: *host, Port: *port, Name: *name,
		Secure: *secure, AdminPassword: *adminPassword, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshserver:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	fmt.Printf("mesh listening on %s\n", m.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Stop(sctx); err != nil {
		fmt.Fprintln(os.Stderr, "meshserver: stop:", err)
	}
}
