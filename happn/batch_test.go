package happn

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/happner-go/happner/happn/client"
)

// Work deferred to a batch runs once, at its end; a handle of an ended
// batch defers nothing, so the caller does the work itself.
func TestBatchDefer(t *testing.T) {
	var b batchEnd
	h := Batch{b: &b, epoch: b.epoch.Load()}
	var ran []int
	for i := range 3 {
		if !h.Defer(func() { ran = append(ran, i) }) {
			t.Fatalf("deferring %d in an open batch was declined", i)
		}
	}
	if len(ran) != 0 {
		t.Fatal("deferred work ran before the batch ended")
	}
	b.run()
	if len(ran) != 3 || ran[0] != 0 || ran[2] != 2 {
		t.Fatalf("ran %v at the end of the batch, want [0 1 2]", ran)
	}
	b.run()
	if len(ran) != 3 {
		t.Fatal("deferred work ran twice")
	}
	if h.Defer(func() { t.Error("work deferred to an ended batch ran") }) {
		t.Fatal("an ended batch accepted work")
	}
	b.run()
	if (Batch{}).Defer(func() {}) || (Batch{}).Valid() {
		t.Fatal("the zero Batch deferred work")
	}
}

// Registrations racing with the end of their batch either run at that end
// or are declined: never lost, never run twice.
func TestBatchDeferRacesTheEnd(t *testing.T) {
	var b batchEnd
	var accepted, ran atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				h := Batch{b: &b, epoch: b.epoch.Load()}
				if h.Defer(func() { ran.Add(1) }) {
					accepted.Add(1)
				}
			}
		}()
	}
	for range 20000 {
		b.run()
	}
	close(stop)
	wg.Wait()
	b.run() // the batch open when the registrations stopped
	if accepted.Load() != ran.Load() {
		t.Fatalf("%d deferrals accepted, %d ran", accepted.Load(), ran.Load())
	}
}

// A publication made by a client's request carries its reader's batch:
// work deferred to it runs once the reader has handled the request; a
// publication made in process carries none.
func TestPublicationBatch(t *testing.T) {
	srv := startServer(t, Config{})
	valid := make(chan bool, 4)
	ran := make(chan string, 4)
	cancel := srv.Subscribe("/batch/*", SubscribeOptions{}, func(p *Publication) {
		b := p.Batch()
		valid <- b.Valid()
		path := p.Path
		if !b.Defer(func() { ran <- path }) && b.Valid() {
			t.Error("a batch being handled declined work")
		}
	})
	defer cancel()
	ctx := context.Background()
	c, err := client.New(ctx, client.Options{URL: "http://" + srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Set(ctx, "/batch/one", map[string]int{"v": 1}); err != nil {
		t.Fatal(err)
	}
	if !<-valid {
		t.Fatal("a client's publication has no batch")
	}
	if p := <-ran; p != "/batch/one" {
		t.Fatalf("deferred work for %s", p)
	}
	if _, err := srv.Publish(ctx, PublishRequest{Path: "/batch/two", Data: []byte(`{"v":2}`)}); err != nil {
		t.Fatal(err)
	}
	if <-valid {
		t.Fatal("an in-process publication has a batch")
	}
}
