package happner

import (
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWorkersRunEverythingWithoutQueueing(t *testing.T) {
	w := newWorkers(2)
	var done sync.WaitGroup
	block := make(chan struct{})
	var ran atomic.Int32
	// more blocked tasks than idle workers: each still starts at once
	for range 5 {
		done.Add(1)
		w.run(funcTask(func() { defer done.Done(); ran.Add(1); <-block }))
	}
	deadline := time.Now().Add(2 * time.Second)
	for ran.Load() < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 5 tasks started", ran.Load())
		}
		time.Sleep(time.Millisecond)
	}
	close(block)
	done.Wait()
	// maxIdle workers stay for more work, the others leave; close ends
	// the idle ones
	deadline = time.Now().Add(2 * time.Second)
	for w.idle.Load() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle workers, want 2", w.idle.Load())
		}
		time.Sleep(time.Millisecond)
	}
	var again sync.WaitGroup
	again.Add(1)
	w.run(funcTask(again.Done)) // an idle worker takes it
	again.Wait()
	w.close()
	deadline = time.Now().Add(2 * time.Second)
	for w.idle.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle workers after close, want 0", w.idle.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDecodeScalar(t *testing.T) {
	var f float64
	var i int
	var s string
	var b bool
	cases := []struct {
		raw  string
		dst  any
		ok   bool
		want any
	}{
		{`1.5`, &f, true, 1.5},
		{`42`, &i, true, 42},
		{`4.2`, &i, false, 0},
		{`"plain"`, &s, true, "plain"},
		{`"esc\"aped"`, &s, false, ""},
		{`true`, &b, true, true},
		{`"x"`, &f, false, 0.0},
	}
	for _, c := range cases {
		v := reflect.ValueOf(c.dst).Elem()
		v.Set(reflect.Zero(v.Type()))
		if got := decodeScalar([]byte(c.raw), v); got != c.ok {
			t.Errorf("%s into %s: ok=%v", c.raw, v.Type(), got)
			continue
		}
		if c.ok && v.Interface() != c.want {
			t.Errorf("%s into %s = %v, want %v", c.raw, v.Type(), v.Interface(), c.want)
		}
	}
}
