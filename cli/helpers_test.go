package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner"
)

// syncBuffer collects a command's output while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Calc is the custom component the tests' binary hosts.
type Calc struct{}

// Add adds two numbers.
func (Calc) Add(a, b float64) (float64, error) { return a + b, nil }

// Divide fails on a zero divisor with a named error.
func (Calc) Divide(a, b float64) (float64, error) {
	if b == 0 {
		return 0, happner.NewError("DivideByZero", "cannot divide by zero")
	}
	return a / b, nil
}

// HappnerSchema gives the module its version.
func (Calc) HappnerSchema() happner.ModuleSchema { return happner.ModuleSchema{Version: "1.2.0"} }

func testRegistry() *happner.Registry {
	reg := happner.NewRegistry()
	reg.RegisterValue("calc", Calc{})
	return reg
}

// result is a finished command.
type result struct {
	code           int
	stdout, stderr string
}

// run runs a command that finishes by itself.
func run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := Run(ctx, args, &out, &errOut, testRegistry())
	return result{code, out.String(), errOut.String()}
}

// node is a serve or member command running in the test.
type node struct {
	addr   string // host:port of the listening line
	url    string
	name   string
	cancel context.CancelFunc
	done   chan int
	out    *syncBuffer
	errOut *syncBuffer
}

var listenLine = regexp.MustCompile(`^happner (?:(?:mesh|member) (\S+) )?listening on (\S+)$`)

// startNode runs args until the node prints its listening line; the node
// stops when the test ends.
func startNode(t *testing.T, args ...string) *node {
	t.Helper()
	n := launch(t, args...)
	n.wait(t)
	return n
}

// launch starts args; the node stops when the test ends.
func launch(t *testing.T, args ...string) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{cancel: cancel, done: make(chan int, 1), out: &syncBuffer{}, errOut: &syncBuffer{}}
	go func() { n.done <- Run(ctx, args, n.out, n.errOut, testRegistry()) }()
	t.Cleanup(func() { n.stop(t) })
	return n
}

// wait waits for the node's listening line.
func (n *node) wait(t *testing.T) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		for _, l := range strings.Split(n.out.String(), "\n") {
			if m := listenLine.FindStringSubmatch(l); m != nil {
				n.name, n.addr = m[1], m[2]
				n.url = "http://" + n.addr
				return
			}
		}
		select {
		case code := <-n.done:
			n.done <- code
			t.Fatalf("exited with %d before listening:\n%s", code, n.errOut.String())
		case <-deadline:
			t.Fatalf("did not listen:\n%s", n.errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop ends the node and returns its exit status.
func (n *node) stop(t *testing.T) int {
	t.Helper()
	n.cancel()
	select {
	case code := <-n.done:
		n.done <- code
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("node did not stop:\n%s", n.errOut.String())
		return -1
	}
}

// writeFile writes a file in the test's directory and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// uniqueID is a deployment id no other test uses.
func uniqueID(t *testing.T) string {
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
}
