package happn

import (
	"context"
	"sync"
	"sync/atomic"
)

// batchEnd holds work deferred to the end of a connection reader's batch:
// the requests the reader handles one after another while more input is
// buffered, whose replies it writes together once it would block. Work a
// request starts elsewhere (a call sent on to another cluster member) can
// wait for the same moment, so that a batch of requests sends one write
// there too. Every end of a batch starts a new epoch; a handle of an ended
// epoch defers nothing, so deferred work never waits for a batch that may
// not come (an idle connection).
type batchEnd struct {
	epoch   atomic.Uint64
	waiting atomic.Int32 // registrations in progress or done this epoch
	mu      sync.Mutex
	fns     []func()
}

// add registers fn for the end of epoch e, reporting false when that
// batch has ended (the caller then does the work itself).
func (b *batchEnd) add(e uint64, fn func()) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	// counted before the epoch is read: either run sees the count and
	// takes fn, or this sees the new epoch and backs out
	b.waiting.Add(1)
	if b.epoch.Load() != e {
		b.waiting.Add(-1)
		return false
	}
	b.fns = append(b.fns, fn)
	return true
}

// run ends the batch: it starts a new epoch and runs the functions
// registered for the one that ended. It costs two atomic operations when
// nothing was registered.
func (b *batchEnd) run() {
	b.epoch.Add(1)
	if b.waiting.Load() == 0 {
		return
	}
	b.mu.Lock()
	fns := b.fns
	b.fns = nil
	b.waiting.Store(0)
	b.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// Batch is the batch of requests that a client connection's reader is
// handling, as an in-process subscriber sees it during a publication's
// delivery (see [Publication.Batch]). The zero Batch defers nothing.
type Batch struct {
	b     *batchEnd
	epoch uint64
}

// Defer asks that fn run when the reader ends this batch, on the reader,
// after the last request of the batch and before the batch's replies are
// written. It reports false, and does not keep fn, when there is no batch
// or it has ended: the caller then does the work at once. fn must not
// block.
func (b Batch) Defer(fn func()) bool {
	return b.b != nil && b.b.add(b.epoch, fn)
}

// Valid reports whether b belongs to a reader's batch (which may have
// ended since).
func (b Batch) Valid() bool { return b.b != nil }

type batchKey struct{}

// ContextWithBatch returns ctx carrying b, for work started on b's reader
// that may defer its writes to the end of the batch.
func ContextWithBatch(ctx context.Context, b Batch) context.Context {
	if !b.Valid() {
		return ctx
	}
	return context.WithValue(ctx, batchKey{}, b)
}

// BatchFromContext returns the batch ctx carries (the zero Batch when
// none).
func BatchFromContext(ctx context.Context) Batch {
	b, _ := ctx.Value(batchKey{}).(Batch)
	return b
}
