package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/happner-go/happner/bench/internal/proc"
	"github.com/happner-go/happner/internal/pgtest"
)

// pgServer is the PostgreSQL server the clusters share: a private one, or
// one named by --pg.
type pgServer struct {
	own  *pgtest.Server // nil with --pg
	base string         // DSN of a database to connect to for admin work
}

// maxConnections is the private server's connection limit: 50 members
// with pgx's default pool of 4 connections each need 200, and the benchmark
// a few more.
const maxConnections = 400

// startPostgres starts a private server, or uses the one at dsn.
func startPostgres(dsn string) (*pgServer, error) {
	if dsn != "" {
		return &pgServer{base: dsn}, nil
	}
	s, err := pgtest.Launch("max_connections=" + strconv.Itoa(maxConnections))
	if err != nil {
		return nil, fmt.Errorf("starting PostgreSQL: %w", err)
	}
	return &pgServer{own: s, base: s.DSN("postgres")}, nil
}

func (p *pgServer) close() {
	if p.own != nil {
		_ = p.own.Close()
	}
}

// pgDatabase is the fresh database of one cluster, and a connection to it
// for reading its statistics.
type pgDatabase struct {
	server *pgServer
	name   string
	dsn    string
	conn   *pgx.Conn
}

// createDatabase creates a database named after prefix.
func (p *pgServer) createDatabase(ctx context.Context, prefix string) (*pgDatabase, error) {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := prefix + "_" + hex.EncodeToString(rnd[:])
	admin, err := pgx.Connect(ctx, p.base)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("creating database %s: %w", name, err)
	}
	dsn, err := withDatabase(p.base, name)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", name, err)
	}
	return &pgDatabase{server: p, name: name, dsn: dsn, conn: conn}, nil
}

// withDatabase returns the URL dsn naming database db.
func withDatabase(dsn, db string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("--pg must be a postgres:// URL")
	}
	u.Path = "/" + db
	return u.String(), nil
}

// close drops the database.
func (d *pgDatabase) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = d.conn.Close(ctx)
	admin, err := pgx.Connect(ctx, d.server.base)
	if err != nil {
		return
	}
	defer admin.Close(ctx)
	_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.name}.Sanitize()+" WITH (FORCE)")
}

// pgCounters are cumulative counters of one database.
type pgCounters struct {
	xacts int64 // committed and rolled back transactions
	rows  int64 // rows returned by scans and fetched by index scans
}

func (c pgCounters) minus(o pgCounters) pgCounters {
	return pgCounters{xacts: c.xacts - o.xacts, rows: c.rows - o.rows}
}

// counters reads the database's counters from pg_stat_database. Backends
// report their counts when idle, at most once a second, so a window of many
// seconds is off by about one second's worth.
func (d *pgDatabase) counters() (pgCounters, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var c pgCounters
	err := d.conn.QueryRow(ctx, `SELECT xact_commit + xact_rollback, tup_returned + tup_fetched
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&c.xacts, &c.rows)
	if err != nil {
		return c, fmt.Errorf("reading pg_stat_database: %w", err)
	}
	return c, nil
}

// serverCPU returns the CPU time of the PostgreSQL server's processes that
// are running now (the postmaster and its children), when the server runs
// on this machine.
func (d *pgDatabase) serverCPU() (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var backend int
	if err := d.conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return 0, fmt.Errorf("reading the backend pid: %w", err)
	}
	postmaster, err := parentOf(backend)
	if err != nil {
		return 0, err
	}
	total, err := proc.CPUTime(postmaster)
	if err != nil {
		return 0, err
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(st)))
		if pp, err := parentOf(pid); err != nil || pp != postmaster {
			continue
		}
		if t, err := proc.CPUTime(pid); err == nil {
			total += t
		}
	}
	return total, nil
}

// parentOf returns the parent process id of pid.
func parentOf(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the parent of %d: %w", pid, err)
	}
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := bytes.Fields(b[end+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strconv.Atoi(string(f[1]))
}
