// Command benchdb starts a private PostgreSQL server for the benchmark
// scripts (from the installed Debian binaries, as the tests do), prints
//
//	postgres postgres://postgres@127.0.0.1:PORT/DB
//
// once it accepts connections, and stops it (removing its files) on SIGINT
// or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/happner-go/happner/internal/pgtest"
)

func main() {
	db := flag.String("db", "postgres", "the database named in the printed URL")
	flag.Parse()
	srv, err := pgtest.Launch()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchdb:", err)
		os.Exit(1)
	}
	fmt.Println("postgres", srv.DSN(*db))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	if err := srv.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "benchdb:", err)
		os.Exit(1)
	}
}
