package wire

import "sync"

// Calls is a table of callbacks awaiting their answer, keyed by request
// id. Each callback runs at most once. Once closed, the table takes no
// more callbacks. The zero value is an open, empty table.
type Calls[T any] struct {
	mu      sync.Mutex
	pending map[int64]func(T)
	closed  bool
	err     error
}

// Add registers cb for id; once the table is closed it returns the error
// given to Close instead.
func (t *Calls[T]) Add(id int64, cb func(T)) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return t.err
	}
	if t.pending == nil {
		t.pending = make(map[int64]func(T))
	}
	t.pending[id] = cb
	return nil
}

// Remove forgets id's callback without calling it.
func (t *Calls[T]) Remove(id int64) {
	t.mu.Lock()
	delete(t.pending, id)
	t.mu.Unlock()
}

// Complete calls id's callback with v, outside the lock, and forgets it. It
// reports false when no callback waits for id.
func (t *Calls[T]) Complete(id int64, v T) bool {
	t.mu.Lock()
	cb, ok := t.pending[id]
	if ok {
		delete(t.pending, id)
	}
	t.mu.Unlock()
	if ok {
		cb(v)
	}
	return ok
}

// Len reports how many callbacks wait.
func (t *Calls[T]) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}

// Close closes the table with err, which must not be nil, and hands back the callbacks that were
// waiting, for the caller to fail. Only the first Close reports ok; later
// ones return nothing.
func (t *Calls[T]) Close(err error) (waiting map[int64]func(T), ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, false
	}
	t.closed, t.err = true, err
	waiting, t.pending = t.pending, nil
	return waiting, true
}

// Err returns the error given to Close, or nil while the table is open.
func (t *Calls[T]) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}
