// Package clustertest starts cluster members for the tests of other
// packages (the browser tests): members of one cluster wait for each other
// while they start, so they are created concurrently.
package clustertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner/cluster"
)

// Start creates a member of each config concurrently, within timeout,
// and fails t when one fails. Every member created is stopped when the
// test ends.
func Start(t testing.TB, timeout time.Duration, cfgs ...cluster.Config) []*cluster.Member {
	t.Helper()
	members := make([]*cluster.Member, len(cfgs))
	errs := make([]error, len(cfgs))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, c := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			members[i], errs[i] = cluster.Create(ctx, c)
		}()
	}
	wg.Wait()
	for _, m := range members {
		if m != nil {
			t.Cleanup(func() { Stop(m) })
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d (%s): %v", i, cfgs[i].Name, err)
		}
	}
	return members
}

// Stop stops m, giving it ten seconds; stopping twice is harmless.
func Stop(m *cluster.Member) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = m.Stop(ctx)
}
