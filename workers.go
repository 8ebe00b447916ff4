package happner

import "sync/atomic"

// task is one piece of work for a worker.
type task interface{ run() }

// funcTask runs a function as a task.
type funcTask func()

func (f funcTask) run() { f() }

// workers runs the mesh's calls on goroutines that outlive one call, so
// that a call does not start on a fresh stack that has to grow again (a
// visible cost of a goroutine per request). It never queues: when no worker
// is idle, a new goroutine takes the task, so a slow method cannot hold up
// others. Up to maxIdle workers wait for more work; the others end when
// their task is done. An idle worker has no timer (a timer per call would
// wake the network poller of an otherwise idle process), so the idle ones
// stay until the mesh stops: at most maxIdle small goroutines.
type workers struct {
	tasks   chan task
	done    chan struct{}
	idle    atomic.Int32
	maxIdle int32
	started atomic.Int64 // tasks handed to workers
}

func newWorkers(maxIdle int) *workers {
	return &workers{tasks: make(chan task), done: make(chan struct{}), maxIdle: int32(maxIdle)}
}

// run runs t on an idle worker, or on a new one.
func (w *workers) run(t task) {
	w.started.Add(1)
	select {
	case w.tasks <- t: // an idle worker was waiting
	default:
		go w.loop(t)
	}
}

func (w *workers) loop(t task) {
	for {
		t.run()
		if w.idle.Add(1) > w.maxIdle {
			w.idle.Add(-1)
			return
		}
		select {
		case t = <-w.tasks:
			w.idle.Add(-1)
		case <-w.done:
			w.idle.Add(-1)
			return
		}
	}
}

// close ends the idle workers; tasks still running finish. It is called
// once.
func (w *workers) close() { close(w.done) }
