// Package pgtest gives tests a real PostgreSQL database.
//
// [Start] returns the DSN of a fresh, empty database for one test. When the
// environment variable HAPPNER_TEST_PG holds a DSN, the database is created
// on that server; otherwise one private server per test binary is started
// from the PostgreSQL binaries installed on the machine (Debian's
// /usr/lib/postgresql/<version>/bin, or initdb and pg_ctl on PATH), in a
// temporary directory, listening on 127.0.0.1 on a free port and on a unix
// socket inside that directory. When the test binary runs as root, initdb
// and pg_ctl run as the "postgres" user, since initdb refuses root.
//
// A missing installation fails the test with the command that installs it
// (apt-get install -y postgresql); tests are never skipped.
//
// The shared server stops when the test binary exits: a small watchdog
// process stops it and removes its directory as soon as the binary is gone,
// even after a panic or a timeout. Packages may also call [Main] from
// TestMain to stop it at once.
//
// [NewServer] starts a server that belongs to one test, for tests that stop
// and restart the database (outage tests); [Launch] starts one for a
// program that is not a test.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable holding the DSN of an existing
// server to use instead of starting one.
const EnvDSN = "HAPPNER_TEST_PG"

// installHint is appended to every error about a missing installation.
const installHint = "install PostgreSQL with `apt-get install -y postgresql` (Debian/Ubuntu), " +
	"or set " + EnvDSN + " to the DSN of a server where the user may create databases"

// shared is the per-binary server started by the first call to Start.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Start returns the DSN of a new empty database for t, on the server named
// by HAPPNER_TEST_PG or on this test binary's private server (started on
// first use). The database is dropped when t ends.
func Start(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		shared.once.Do(func() {
			shared.srv, shared.err = startServer()
		})
		if shared.err != nil {
			t.Fatalf("pgtest: %v", shared.err)
		}
		base = shared.srv.DSN("postgres")
	}
	dsn, err := createDatabase(base, t.Name())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(base, dsn); err != nil {
			t.Logf("pgtest: %v", err)
		}
	})
	return dsn
}

// Main runs the tests of m and then stops the shared server, if one was
// started. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// It is optional: without it the watchdog stops the server once the test
// binary has exited.
func Main(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	return code
}

// Server is a private PostgreSQL server in a temporary directory.
type Server struct {
	dir    string // temporary directory holding data, socket and log
	data   string
	socket string
	log    string
	port   int
	bin    string // directory of initdb and pg_ctl
	asUser string // run binaries as this user ("" = current user)
	// settings are added to the server's -c options
	settings []string

	mu     sync.Mutex
	closed bool
}

// NewServer starts a server that belongs to t (stopped and removed when t
// ends), whatever HAPPNER_TEST_PG says. It fails t when PostgreSQL is not
// installed.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s, err := startServer()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Logf("pgtest: %v", err)
		}
	})
	return s
}

// Launch starts a private server for a program that is not a test (a
// benchmark, say), with settings ("name=value", as for postgres -c) added to
// the tests' own (fsync off, max_connections=200, …; a later setting of the
// same name wins). The caller closes it; should the program end first, the
// watchdog stops it and removes its directory.
func Launch(settings ...string) (*Server, error) {
	return startServer(settings...)
}

// DSN returns the URL of database db on the server, as user postgres over
// TCP on 127.0.0.1.
func (s *Server) DSN(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port returns the TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// Stop stops the server quickly (connections are cut) and keeps its data,
// so that [Server.Restart] brings it back.
func (s *Server) Stop() error {
	if _, err := s.run("pg_ctl", "stop", "-D", s.data, "-m", "fast", "-w", "-t", "60"); err != nil {
		return fmt.Errorf("stopping PostgreSQL: %w", err)
	}
	return nil
}

// Restart starts a stopped server again on the same port.
func (s *Server) Restart() error {
	return s.pgStart()
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	// An already stopped server makes pg_ctl stop fail; that is fine.
	_, _ = s.run("pg_ctl", "stop", "-D", s.data, "-m", "immediate", "-w", "-t", "60")
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("removing %s: %w", s.dir, err)
	}
	return nil
}

// startServer runs initdb in a new temporary directory and starts the
// server on a free port.
func startServer(settings ...string) (*Server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, settings: settings}
	if os.Geteuid() == 0 {
		s.asUser = "postgres"
	}
	parent := "" // os.TempDir()
	if s.asUser != "" {
		// The postgres user must reach the directory; a private TMPDIR of
		// root's may not be traversable, /tmp always is.
		parent = "/tmp"
	}
	if s.dir, err = os.MkdirTemp(parent, "pgtest-"); err != nil {
		return nil, fmt.Errorf("creating the server directory: %w", err)
	}
	s.data = filepath.Join(s.dir, "data")
	s.socket = filepath.Join(s.dir, "sock")
	s.log = filepath.Join(s.dir, "server.log")
	fail := func(err error) (*Server, error) {
		_ = os.RemoveAll(s.dir)
		return nil, err
	}
	if err := os.Mkdir(s.socket, 0o700); err != nil {
		return fail(fmt.Errorf("creating the socket directory: %w", err))
	}
	if s.asUser != "" {
		if err := chownTree(s.dir, s.asUser); err != nil {
			return fail(err)
		}
	}
	// From here on the directory (and the server, once started) goes away
	// with this process, however it ends.
	watchdog(s)
	if out, err := s.run("initdb", "-D", s.data, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
		return fail(fmt.Errorf("initdb: %w\n%s", err, out))
	}
	var startErr error
	for range 5 {
		if s.port, err = freePort(); err != nil {
			return fail(err)
		}
		if startErr = s.pgStart(); startErr == nil {
			return s, nil
		}
	}
	return fail(startErr)
}

// pgStart starts the server on s.port and waits until it accepts
// connections.
func (s *Server) pgStart() error {
	args := []string{
		"-p " + strconv.Itoa(s.port),
		"-k " + s.socket,
		"-c listen_addresses=127.0.0.1",
		"-c fsync=off",
		"-c synchronous_commit=off",
		"-c full_page_writes=off",
		"-c max_connections=200",
	}
	for _, kv := range s.settings {
		args = append(args, "-c "+kv)
	}
	opts := strings.Join(args, " ")
	if out, err := s.run("pg_ctl", "start", "-D", s.data, "-l", s.log, "-w", "-t", "60", "-o", opts); err != nil {
		logTail, _ := os.ReadFile(s.log)
		if len(logTail) > 2000 {
			logTail = logTail[len(logTail)-2000:]
		}
		return fmt.Errorf("pg_ctl start on port %d: %w\n%s\nserver log:\n%s", s.port, err, out, logTail)
	}
	return nil
}

// run runs one of the server binaries (as s.asUser when set) and returns
// its combined output. Output goes through a file in the server directory,
// not a pipe, so that a server started in the background cannot hold the
// call open.
func (s *Server) run(name string, args ...string) (string, error) {
	prog := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.asUser != "" {
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			return "", fmt.Errorf("running %s as user %s needs runuser (util-linux): %w", name, s.asUser, err)
		}
		cmd = exec.Command(runuser, append([]string{"-u", s.asUser, "--", prog}, args...)...)
	} else {
		cmd = exec.Command(prog, args...)
	}
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGTZ=UTC")
	out, err := os.CreateTemp(s.dir, "cmd-out-")
	if err != nil {
		return "", fmt.Errorf("creating an output file: %w", err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	b, _ := os.ReadFile(out.Name())
	if runErr != nil {
		return string(b), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), runErr)
	}
	return string(b), nil
}

// findBinaries returns the directory holding initdb and pg_ctl: the newest
// /usr/lib/postgresql/<version>/bin, else the directory of initdb on PATH.
func findBinaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or on PATH: " + installHint)
}

// versionOf returns the major version in /usr/lib/postgresql/<v>/bin.
func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// chownTree gives dir and everything in it to the named user.
func chownTree(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("running as root, initdb must run as user %q, which does not exist (%w): %s", name, err, installHint)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Chown(p, uid, gid); err != nil {
			return fmt.Errorf("giving %s to user %s: %w", p, name, err)
		}
		return nil
	})
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// watchdog starts a detached shell that stops the server and removes its
// directory once this process has exited.
func watchdog(s *Server) {
	q := func(v string) string { return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'" }
	stop := q(filepath.Join(s.bin, "pg_ctl")) + " stop -D " + q(s.data) + " -m immediate -w -t 30"
	if s.asUser != "" {
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			runuser = "/usr/sbin/runuser"
		}
		stop = q(runuser) + " -u " + q(s.asUser) + " -- " + stop
	}
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 1; done; %s >/dev/null 2>&1; rm -rf %s",
		os.Getpid(), stop, q(s.dir))
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err == nil {
		go func() { _ = cmd.Wait() }()
	}
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// createDatabase creates a uniquely named database on the server of base
// and returns base with that database.
func createDatabase(base, testName string) (string, error) {
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("naming a database: %w", err)
	}
	name := nonIdent.ReplaceAllString(strings.ToLower(testName), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = "t_" + name + "_" + hex.EncodeToString(rnd[:])
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("connecting to %s: %w", redact(base), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("creating database %s: %w", name, err)
	}
	return withDatabase(base, name)
}

// dropDatabase drops the database of dsn, connecting through base.
func dropDatabase(base, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", redact(dsn), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("connecting to drop database %s: %w", cfg.Database, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{cfg.Database}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("dropping database %s: %w", cfg.Database, err)
	}
	return nil
}

// withDatabase returns dsn (a URL or a key=value string) naming database db.
func withDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parsing %s: %w", EnvDSN, err)
		}
		u.Path = "/" + db
		return u.String(), nil
	}
	return dsn + " dbname=" + db, nil
}

// redact hides the password of a URL DSN in messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return dsn
}
