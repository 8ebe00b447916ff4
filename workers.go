package happner

import (
	"sync/atomic"
	"time"
)

// workers runs the mesh's calls on goroutines that outlive one call, so
// that a call does not start on a fresh stack that has to grow again (a
// visible cost of a goroutine per request). It never queues: when no worker
// is idle, a new goroutine takes the task, so a slow method cannot hold up
// others. Up to maxIdle workers wait for more work, each for idleFor.
type workers struct {
	tasks   chan func()
	idle    atomic.Int32
	maxIdle int32
	idleFor time.Duration
}

func newWorkers(maxIdle int, idleFor time.Duration) *workers {
	return &workers{tasks: make(chan func()), maxIdle: int32(maxIdle), idleFor: idleFor}
}

// run runs f on an idle worker, or on a new one.
func (w *workers) run(f func()) {
	select {
	case w.tasks <- f: // an idle worker was waiting
	default:
		go w.loop(f)
	}
}

func (w *workers) loop(f func()) {
	var timer *time.Timer
	for {
		f()
		if w.idle.Add(1) > w.maxIdle {
			w.idle.Add(-1)
			return
		}
		if timer == nil {
			timer = time.NewTimer(w.idleFor)
		} else {
			timer.Reset(w.idleFor)
		}
		select {
		case f = <-w.tasks:
			w.idle.Add(-1)
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
			w.idle.Add(-1)
			return
		}
	}
}
