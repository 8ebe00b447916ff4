package client

import "sync"

// serialQueue runs functions one at a time, in the order they were pushed,
// on its own goroutine. Pushing never blocks, so the socket reader can hand
// work to user callbacks without being held up by them.
type serialQueue struct {
	mu     sync.Mutex
	items  []func()
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

func newSerialQueue() *serialQueue {
	q := &serialQueue{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go q.run()
	return q
}

// push queues f; it is dropped once the queue is closed.
func (q *serialQueue) push(f func()) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.items = append(q.items, f)
	q.mu.Unlock()
	q.signal()
}

func (q *serialQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close stops accepting work; what is queued still runs, then the
// goroutine exits. It does not wait (it may be called from a queued function).
func (q *serialQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *serialQueue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			closed := q.closed
			q.mu.Unlock()
			if closed {
				return
			}
			<-q.wake
			continue
		}
		f := q.items[0]
		q.items[0] = nil
		q.items = q.items[1:]
		q.mu.Unlock()
		f()
	}
}
