// Package mongotest gives tests a real MongoDB-protocol database.
//
// [Start] returns a fresh, empty database for one test. When the
// environment variable HAPPNER_TEST_MONGO_URL holds a connection URL, the
// database is made on that server (a real MongoDB); otherwise one private
// FerretDB server per test binary is started: FerretDB 1.x with its
// embedded SQLite backend, built once by scripts/build-ferretdb.sh from the
// Go module proxy and cached, listening on 127.0.0.1 on a free port, its
// files in a temporary directory.
//
// A server that cannot be had fails the test with what went wrong and how
// to fix it; tests are never skipped.
//
// The shared server stops when the test binary exits: a small watchdog
// process stops it and removes its directory as soon as the binary is gone,
// even after a panic or a timeout. Packages may also call [Main] (or
// [StopShared] from their own TestMain) to stop it at once.
//
// [NewServer] starts a server that belongs to one test, for tests that stop
// and restart the database (outage tests).
package mongotest

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
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// EnvURL names the environment variable holding the URL of an existing
// MongoDB server to use instead of starting FerretDB.
const EnvURL = "HAPPNER_TEST_MONGO_URL"

// EnvBinary names the environment variable that may hold the path of a
// FerretDB binary to run instead of the one scripts/build-ferretdb.sh
// builds.
const EnvBinary = "HAPPNER_FERRETDB"

// DB is a database for one test.
type DB struct {
	// URL is the server's connection URL.
	URL string
	// Database names the test's own database on that server.
	Database string
}

// Settings returns the happn datastore settings of the database (url and
// database) with the given collection (empty: the provider's default).
func (d DB) Settings(collection string) map[string]any {
	s := map[string]any{"url": d.URL, "database": d.Database}
	if collection != "" {
		s["collection"] = collection
	}
	return s
}

// shared is the per-binary server started by the first call to Start.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Start returns a new empty database for t, on the server named by
// HAPPNER_TEST_MONGO_URL or on this test binary's private FerretDB server
// (started on first use). The database is dropped when t ends.
func Start(t testing.TB) DB {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		shared.once.Do(func() {
			shared.srv, shared.err = startServer()
		})
		if shared.err != nil {
			t.Fatalf("mongotest: %v", shared.err)
		}
		base = shared.srv.URL()
	}
	db := DB{URL: base, Database: databaseName(t.Name())}
	t.Cleanup(func() {
		if err := dropDatabase(db); err != nil {
			t.Logf("mongotest: %v", err)
		}
	})
	return db
}

// Main runs the tests of m and then stops the shared server, if one was
// started. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(mongotest.Main(m)) }
//
// It is optional: without it the watchdog stops the server once the test
// binary has exited.
func Main(m *testing.M) int {
	code := m.Run()
	StopShared()
	return code
}

// StopShared stops the shared server, if one was started (for a TestMain
// that also stops other servers).
func StopShared() {
	if shared.srv != nil {
		if err := shared.srv.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "mongotest: %v\n", err)
		}
	}
}

// IsFerretDB reports whether the server at rawURL is FerretDB (whose
// buildInfo names its version) rather than MongoDB. Tests use it where
// FerretDB 1.x lacks a MongoDB feature, such as collations.
func IsFerretDB(t testing.TB, rawURL string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(rawURL))
	if err != nil {
		t.Fatalf("mongotest: connecting: %v", err)
	}
	defer c.Disconnect(context.Background())
	var info bson.M
	if err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		t.Fatalf("mongotest: buildInfo: %v", err)
	}
	_, ok := info["ferretdbVersion"]
	return ok
}

// Server is a private FerretDB server in a temporary directory.
type Server struct {
	bin  string
	dir  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	closed bool
}

// NewServer starts a FerretDB server that belongs to t (stopped and removed
// when t ends), whatever HAPPNER_TEST_MONGO_URL says.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s, err := startServer()
	if err != nil {
		t.Fatalf("mongotest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Logf("mongotest: %v", err)
		}
	})
	return s
}

// URL returns the server's connection URL (127.0.0.1, no credentials).
func (s *Server) URL() string {
	return "mongodb://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) + "/"
}

// Port returns the TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// Stop stops the server and keeps its data, so that [Server.Restart]
// brings it back on the same port.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

func (s *Server) stopLocked() error {
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
	return nil
}

// Restart starts a stopped server again on the same port with the same
// data.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("server closed")
	}
	return s.startLocked()
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	_ = s.stopLocked()
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("removing %s: %w", s.dir, err)
	}
	return nil
}

// startServer finds or builds the FerretDB binary and starts it on a free
// port in a new temporary directory.
func startServer() (*Server, error) {
	bin, err := ferretBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mongotest-")
	if err != nil {
		return nil, fmt.Errorf("creating the server directory: %w", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("creating the data directory: %w", err)
	}
	s := &Server{bin: bin, dir: dir}
	var startErr error
	for range 5 {
		if s.port, err = freePort(); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		s.mu.Lock()
		startErr = s.startLocked()
		s.mu.Unlock()
		if startErr == nil {
			return s, nil
		}
	}
	_ = os.RemoveAll(dir)
	return nil, startErr
}

// startLocked starts the server process and waits until it answers.
func (s *Server) startLocked() error {
	logFile, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("creating the server log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(s.bin,
		"--handler=sqlite",
		// test data needs no durability: no fsync on every commit
		"--sqlite-url=file:"+filepath.Join(s.dir, "data")+"/?_pragma=synchronous(off)",
		"--state-dir="+s.dir,
		"--listen-addr="+net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		"--debug-addr=-",
		"--telemetry=disable",
		"--log-level=warn",
	)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	watchdog(cmd.Process.Pid, s.dir)
	if err := waitReady(s.URL(), exited); err != nil {
		_ = s.stopLocked()
		logTail, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
		if len(logTail) > 2000 {
			logTail = logTail[len(logTail)-2000:]
		}
		return fmt.Errorf("FerretDB on port %d: %w\nserver log:\n%s", s.port, err, logTail)
	}
	return nil
}

// waitReady pings the server until it answers, it exits, or 60 seconds
// pass.
func waitReady(rawURL string, exited <-chan struct{}) error {
	c, err := mongo.Connect(options.Client().ApplyURI(rawURL).SetServerSelectionTimeout(500 * time.Millisecond))
	if err != nil {
		return err
	}
	defer c.Disconnect(context.Background())
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx, nil)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("the server exited at start")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not answering after 60 s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ferretBinary returns the FerretDB binary: $HAPPNER_FERRETDB, else the one
// scripts/build-ferretdb.sh prints (building it on first use).
func ferretBinary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		return p, nil
	}
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the repository to build FerretDB: set " + EnvBinary + " or " + EnvURL)
	}
	script := filepath.Join(filepath.Dir(self), "..", "..", "scripts", "build-ferretdb.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("%s not found (%w): set %s to a FerretDB binary or %s to a MongoDB URL", script, err, EnvBinary, EnvURL)
	}
	cmd := exec.Command("bash", script)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("building FerretDB with %s: %w\n%s\n(it needs Go and the Go module proxy; or set %s to a MongoDB URL)",
			script, err, stderr.String(), EnvURL)
	}
	bin := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(bin, '\n'); i >= 0 {
		bin = bin[i+1:]
	}
	return bin, nil
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

// watchdog starts a detached shell that kills the server and removes its
// directory once this process has exited.
func watchdog(serverPid int, dir string) {
	q := "'" + strings.ReplaceAll(dir, "'", `'\''`) + "'"
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 1; done; kill %d 2>/dev/null; sleep 1; kill -9 %d 2>/dev/null; rm -rf %s",
		os.Getpid(), serverPid, serverPid, q)
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err == nil {
		go func() { _ = cmd.Wait() }()
	}
}

var nonName = regexp.MustCompile(`[^a-z0-9_]+`)

// databaseName makes a unique database name from a test name (at most 63
// bytes, no characters MongoDB refuses).
func databaseName(testName string) string {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := nonName.ReplaceAllString(strings.ToLower(testName), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return "t_" + name + "_" + hex.EncodeToString(rnd[:])
}

// dropDatabase drops a test's database.
func dropDatabase(db DB) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(db.URL).SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		return fmt.Errorf("connecting to %s to drop %s: %w", redact(db.URL), db.Database, err)
	}
	defer c.Disconnect(context.Background())
	if err := c.Database(db.Database).Drop(ctx); err != nil {
		return fmt.Errorf("dropping %s: %w", db.Database, err)
	}
	return nil
}

// redact hides the password of a URL in messages.
func redact(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return rawURL
}
