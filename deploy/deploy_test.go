// Package deploy_test starts the cluster of deploy/ from its very files:
// start-local.sh runs three members of cluster.yaml on a real PostgreSQL,
// and the operator command line checks that they are stable and answer a
// call.
package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/cli"
	"github.com/happner-go/happner/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// freePortBase returns base such that base+1..base+3 are free now, below
// Linux's ephemeral port range.
func freePortBase(t *testing.T) int {
	t.Helper()
	for range 100 {
		base := 20000 + rand.IntN(12000)
		free := true
		for i := 1; i <= 3 && free; i++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				free = false
				continue
			}
			ln.Close()
		}
		if free {
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}

// operator runs the happner command line in-process.
func operator(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.Run(ctx, args, &out, &errOut, happner.NewRegistry())
	return code, out.String(), errOut.String()
}

func TestLocalClusterFromTheDeployFiles(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "calcd")
	build := exec.Command("go", "build", "-o", bin, "./examples/ownbinary")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	base := freePortBase(t)
	const password = "deploy-test-admin-pw"

	script := exec.Command("bash", "start-local.sh")
	script.Env = append(os.Environ(),
		"HAPPNER_BIN="+bin,
		"HAPPNER_DATABASE_URL="+pgtest.Start(t),
		"HAPPNER_ADMIN_PASSWORD="+password,
		"HAPPNER_CLIENT_PORT_BASE="+strconv.Itoa(base),
		"HAPPNER_DEPLOYMENT_ID=deploy-test",
	)
	script.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := script.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	var stderrMu sync.Mutex
	script.Stderr = writerFunc(func(p []byte) (int, error) {
		stderrMu.Lock()
		defer stderrMu.Unlock()
		return stderr.Write(p)
	})
	logs := func() string {
		stderrMu.Lock()
		defer stderrMu.Unlock()
		return stderr.String()
	}
	if err := script.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- script.Wait() }()
	t.Cleanup(func() {
		// whatever happened, nothing started here outlives the test
		_ = syscall.Kill(-script.Process.Pid, syscall.SIGKILL)
	})

	listening := regexp.MustCompile(`^happner member (calc-\d) listening on (127\.0\.0\.1:\d+)$`)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	members := map[string]string{}
	timeout := time.After(90 * time.Second)
	for len(members) < 3 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("start-local.sh ended before three members listened:\n%s", logs())
			}
			if m := listening.FindStringSubmatch(l); m != nil {
				members[m[1]] = m[2]
			}
		case <-timeout:
			t.Fatalf("three members did not listen within 90s (%v):\n%s", members, logs())
		}
	}
	for i := 1; i <= 3; i++ {
		if want := fmt.Sprintf("127.0.0.1:%d", base+i); members[fmt.Sprintf("calc-%d", i)] != want {
			t.Fatalf("members listen on %v, want calc-%d on %s", members, i, want)
		}
	}
	if strings.Contains(logs(), "config: ") {
		t.Errorf("config warnings:\n%s", logs())
	}

	t.Setenv(cli.EnvPassword, password)
	for name, addr := range members {
		// the others' statuses are read from the registry, a few seconds behind
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, out, errOut := operator(t, "members", "--url", "http://"+addr)
			var view []struct {
				Name, Status string
				Connected    bool
				Components   map[string]string
			}
			if code != cli.ExitOK || json.Unmarshal([]byte(out), &view) != nil || len(view) != 3 {
				t.Fatalf("members through %s: %d %s %s", name, code, out, errOut)
			}
			settled := true
			for _, m := range view {
				settled = settled && m.Status == "STABLE" && m.Connected && m.Components["calc"] == "1.0.0" && m.Components["stats"] == "1.0.0"
			}
			if settled {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s sees %+v", name, view)
			}
			time.Sleep(200 * time.Millisecond)
		}
		code, out, errOut := operator(t, "call", "stats", "mean", "[1, 2, 3, 6]", "--url", "http://"+addr)
		if code != cli.ExitOK || strings.TrimSpace(out) != "3" {
			t.Fatalf("call through %s: %d %s %s", name, code, out, errOut)
		}
	}

	// SIGTERM stops the script and the three members with it
	if err := script.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 143 {
			t.Fatalf("start-local.sh ended with %v:\n%s", err, logs())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("start-local.sh did not stop:\n%s", logs())
	}
	for name, addr := range members {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still listens on %s", name, addr)
		}
	}
}

// writerFunc adapts a function to io.Writer.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
