package dashboard

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A publisher whose path nobody watches publishes nothing, and still
// follows the membership: a member that left meanwhile is in the warnings
// of the first snapshot once somebody watches.
func TestPublisherPublishesOnlyWhileWatched(t *testing.T) {
	var watched atomic.Bool
	var mu sync.Mutex
	var published []string
	members := []string{"a", "b"}
	view := func() Cluster {
		mu.Lock()
		defer mu.Unlock()
		c := Cluster{Name: "shop", Status: "STABLE"}
		for i, n := range members {
			c.Members = append(c.Members, MemberInfo{Name: n, Service: "svc", Status: "STABLE", Self: i == 0})
		}
		return c
	}
	p := NewPublisher(Config{
		Interval: 10 * time.Millisecond,
		Node:     func() Node { return Node{Name: "a"} },
		Watched: func(path string) bool {
			if path != NodePath("a") {
				t.Errorf("asked whether %s is watched, want %s", path, NodePath("a"))
			}
			return watched.Load()
		},
		Publish: func(_ context.Context, path string, data []byte, relayed bool) error {
			mu.Lock()
			defer mu.Unlock()
			published = append(published, string(data))
			return nil
		},
	})
	p.SetCluster(view)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	time.Sleep(60 * time.Millisecond)
	mu.Lock()
	members = []string{"a"} // b leaves while nobody watches
	n := len(published)
	mu.Unlock()
	if n != 0 {
		t.Fatalf("%d snapshots published while nobody watched", n)
	}
	time.Sleep(60 * time.Millisecond)

	watched.Store(true)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n = len(published)
		first := ""
		if n > 0 {
			first = published[0]
		}
		mu.Unlock()
		if n > 0 {
			if !strings.Contains(first, `member b (svc) left the cluster`) {
				t.Fatalf("the first snapshot once watched lacks the warning of b leaving: %s", first)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing published once watched")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A node publishes as soon as somebody starts watching, not at its next
// interval: a page opened between two intervals gets the node's figures
// within a fraction of one.
func TestPublisherPublishesWhenWatchingStarts(t *testing.T) {
	const interval = 6 * time.Second
	var watched atomic.Bool
	published := make(chan struct{}, 8)
	p := NewPublisher(Config{
		Interval: interval,
		Node:     func() Node { return Node{Name: "a"} },
		Watched:  func(string) bool { return watched.Load() },
		Publish: func(context.Context, string, []byte, bool) error {
			published <- struct{}{}
			return nil
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	time.Sleep(100 * time.Millisecond) // the first (unwatched) interval has begun
	watched.Store(true)
	start := time.Now()
	select {
	case <-published:
		t.Logf("published %s after the first watcher came", time.Since(start).Round(time.Millisecond))
	case <-time.After(interval - time.Second):
		t.Fatal("the first watcher waited for the next interval")
	}
}
