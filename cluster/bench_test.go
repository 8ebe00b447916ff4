package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/happner-go/happner/happn/client"
)

// startBench creates n members on one memory store and stops them when the
// benchmark ends.
func startBench(b *testing.B, n int, dep string) []*Member {
	b.Helper()
	shared := newShared(b)
	members := make([]*Member, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			members[i], errs[i] = Create(ctx, withEmitter(testConfig(dep, "bench", map[string]int{"bench": n - 1}, shared)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if members[i] != nil {
			m := members[i]
			b.Cleanup(func() { _ = m.Stop(context.Background()) })
		}
		if err != nil {
			b.Fatalf("member %d: %v", i, err)
		}
	}
	return members
}

func benchClient(b *testing.B, m *Member) *client.Client {
	b.Helper()
	c, err := client.New(context.Background(), client.Options{URL: "http://" + m.ClientAddr()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// benchEvents publishes b.N component events through a client of member 0,
// 100 in flight, and waits until a subscriber on member sub has them all.
func benchEvents(b *testing.B, sub int) {
	members := startBench(b, 2, fmt.Sprintf("bench-events-%d-%d", sub, time.Now().UnixNano()))
	pub := benchClient(b, members[0])
	rcv := benchClient(b, members[sub])
	ctx := context.Background()
	var got atomic.Int64
	done := make(chan struct{}, 1)
	target := int64(b.N)
	if _, err := rcv.On(ctx, "/_events/DOMAIN_NAME/emitter/*", client.OnOptions{EventType: "set"}, func(client.Event) {
		if got.Add(1) == target {
			done <- struct{}{}
		}
	}); err != nil {
		b.Fatal(err)
	}
	sem := make(chan struct{}, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			if err := pub.Publish(ctx, "/_events/DOMAIN_NAME/emitter/tick", map[string]int{"i": 1}); err != nil {
				b.Error(err)
			}
		}()
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		b.Fatalf("received %d of %d events", got.Load(), b.N)
	}
}

// BenchmarkEventSameMember: publisher and subscriber on one member.
func BenchmarkEventSameMember(b *testing.B) { benchEvents(b, 0) }

// BenchmarkEventAcrossMembers: the subscriber is on the other member, so
// every event crosses one replication hop.
func BenchmarkEventAcrossMembers(b *testing.B) { benchEvents(b, 1) }

// benchStable measures the time from Create to every member stable and
// serving clients, with the tests' short membership intervals (pulse 50 ms,
// scan 100 ms).
func benchStable(b *testing.B, n int) {
	for i := 0; i < b.N; i++ {
		shared := newShared(b)
		dep := fmt.Sprintf("bench-stable-%d-%d", n, time.Now().UnixNano())
		members := make([]*Member, n)
		var wg sync.WaitGroup
		start := time.Now()
		for j := range members {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, err := Create(context.Background(), withEmitter(testConfig(dep, "bench", map[string]int{"bench": n - 1}, shared)))
				if err != nil {
					b.Error(err)
					return
				}
				members[j] = m
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-to-stable")
		b.StopTimer()
		for _, m := range members {
			if m != nil {
				_ = m.Stop(context.Background())
			}
		}
		b.StartTimer()
	}
}

// BenchmarkStartToStable3 starts three members.
func BenchmarkStartToStable3(b *testing.B) { benchStable(b, 3) }

// BenchmarkStartToStable5 starts five members.
func BenchmarkStartToStable5(b *testing.B) { benchStable(b, 5) }
