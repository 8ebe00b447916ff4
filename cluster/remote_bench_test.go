package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner"
)

// startRPCBench starts a member with the dependor and n members with
// component1 (the dependor's member has none when n > 0; with n == 0 its
// own component1 serves the calls).
func startRPCBench(b *testing.B, n int) *Member {
	b.Helper()
	shared := newShared(b)
	dep := fmt.Sprintf("bench-rpc-%d-%d", n, time.Now().UnixNano())
	deps := map[string]any{"component1": map[string]any{"version": "^2.0.0", "methods": map[string]any{"method1": map[string]any{}}}}
	a := testConfig(dep, "bench", map[string]int{"bench": n}, shared)
	a.Modules = map[string]happner.ModuleConfig{"dependor": {Instance: &dependor{}}}
	a.Components = map[string]happner.ComponentConfig{"dependor": {Dependencies: deps}}
	if n == 0 {
		a = withComponents(a, map[string]string{"component1": "2.0.0"})
	}
	cfgs := []Config{a}
	for range n {
		cfgs = append(cfgs, withComponents(testConfig(dep, "bench", map[string]int{"bench": n}, shared), map[string]string{"component1": "2.0.0"}))
	}
	ms := make([]*Member, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, c := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ms[i], errs[i] = Create(ctx, c)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if ms[i] != nil {
			m := ms[i]
			b.Cleanup(func() { _ = m.Stop(context.Background()) })
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(ms[0].Implementors("component1", "^2.0.0")) < n {
		if time.Now().After(deadline) {
			b.Fatal("implementors not discovered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ms[0]
}

// benchRPC calls dependor.callRemote (which calls component1.method1) b.N
// times: one at a time (latency, comparable with meshclient's
// BenchmarkCall) or 32 in flight (throughput).
func benchRPC(b *testing.B, n int, parallel bool) {
	m := startRPCBench(b, n)
	x := m.Mesh().Exchange()
	ctx := context.Background()
	one := func() bool {
		var s string
		if err := x.Call(ctx, "dependor", "callRemote", []any{"x"}, &s); err != nil {
			b.Error(err)
			return false
		}
		return true
	}
	b.ResetTimer()
	if !parallel {
		for range b.N {
			if !one() {
				return
			}
		}
		return
	}
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !one() {
				return
			}
		}
	})
}

// BenchmarkRPCSameMember: a component calls a component on its own member.
func BenchmarkRPCSameMember(b *testing.B) { benchRPC(b, 0, false) }

// BenchmarkRPCAcrossMembers: a component calls a component on another member.
func BenchmarkRPCAcrossMembers(b *testing.B) { benchRPC(b, 1, false) }

// BenchmarkRPCAcrossMembersParallel: the same, 32 calls in flight.
func BenchmarkRPCAcrossMembersParallel(b *testing.B) { benchRPC(b, 1, true) }

// BenchmarkRPCAcrossTwoImplementorsParallel: 32 calls in flight,
// round-robin over two implementing members.
func BenchmarkRPCAcrossTwoImplementorsParallel(b *testing.B) { benchRPC(b, 2, true) }
