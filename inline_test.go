package happner_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/meshclient"
)

// paced has a quick method and one whose speed the test sets.
type paced struct {
	mu      sync.Mutex
	delay   time.Duration
	running bool // a slow call is under way
}

func (p *paced) Quick(n int) (int, error) { return n + 1, nil }

func (p *paced) Paced() (string, error) {
	p.mu.Lock()
	d := p.delay
	p.running = d > 0
	p.mu.Unlock()
	time.Sleep(d)
	p.mu.Lock()
	p.running = false
	p.mu.Unlock()
	return "done", nil
}

func (p *paced) isRunning() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

// TestQuickMethodsRunOnTheReader: once a method has shown it is quick, a
// call that arrives alone on its connection runs on the connection's
// reader (no worker); a method that turns slow goes back to the workers,
// so that it cannot hold up its caller's other requests.
func TestQuickMethodsRunOnTheReader(t *testing.T) {
	p := &paced{}
	reg := happner.NewRegistry()
	reg.RegisterValue("paced", p)
	// a budget no quick call misses on a busy machine, far below the slow
	// call's second
	m := startMesh(t, happner.Config{Name: "inline", Registry: reg, Logger: quietLogger(), InlineCallBudget: 100 * time.Millisecond,
		Happn:      happn.Config{Host: "127.0.0.1", Logger: quietLogger()},
		Components: map[string]happner.ComponentConfig{"paced": {}}})
	mc := login(t, m, meshclient.Options{})
	ctx := tctx(t)
	call := func(method string, args ...any) {
		t.Helper()
		if _, err := mc.Results(ctx, "paced", method, args...); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		call("quick", i)
	}
	before := happner.WorkerTasks(m)
	for i := range 50 {
		call("quick", i)
	}
	if n := happner.WorkerTasks(m) - before; n > 5 {
		t.Fatalf("%d of 50 calls of a quick method went to workers", n)
	}

	// a method that was quick and turns slow: after one slow call it runs
	// on workers again, and a quick call is not held up behind it
	for range 40 {
		call("paced")
	}
	p.mu.Lock()
	p.delay = time.Second
	p.mu.Unlock()
	call("paced") // this one may still run on the reader
	slow := make(chan error, 1)
	go func() { _, err := mc.Results(context.Background(), "paced", "paced"); slow <- err }()
	for !p.isRunning() { // the slow call is under way
		time.Sleep(time.Millisecond)
	}
	call("quick", 1)
	if !p.isRunning() {
		t.Fatal("a quick call was answered only after a slow call of the same client finished")
	}
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
}
