package client

import (
	"net"
	"runtime"
	"sync"
	"time"
)

// holdConn is the websocket's network connection with a holding mode: while
// held, writes (whole websocket frames, from the websocket library) are
// copied into one buffer, and release sends that buffer with one write, so
// that frames queued together cost one system call.
type holdConn struct {
	net.Conn
	mu      sync.Mutex
	holding bool
	buf     []byte
}

// Write sends p, or keeps it while held.
func (c *holdConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holding {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// hold starts keeping writes.
func (c *holdConn) hold() {
	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
}

// release sends what was kept since hold, with one write.
func (c *holdConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = false
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > 1<<20 {
		c.buf = nil // a burst of large frames does not pin its buffer
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// frameBatcher is a Transport that can send several frames with one write.
type frameBatcher interface {
	WriteFrames(frames [][]byte) error
}

// WriteFrames sends frames in order, with one write when the connection
// can hold them.
func (t *wsTransport) WriteFrames(frames [][]byte) error {
	if t.hc == nil {
		return writeEach(t, frames)
	}
	t.hc.hold()
	err := writeEach(t, frames)
	if rerr := t.hc.release(); err == nil {
		err = rerr
	}
	return err
}

// writeEach sends frames in order, one WriteFrame each.
func writeEach(t Transport, frames [][]byte) error {
	for _, f := range frames {
		if err := t.WriteFrame(f); err != nil {
			return err
		}
	}
	return nil
}

// writeQueue lets the requests of several goroutines share a write: the
// first writer sends its frame at once and then, before it returns, the
// frames others queued meanwhile, together (group commit). A request that
// arrives alone costs exactly one write, as before. Frames may also be
// queued for a flush the caller schedules (sendLater): a writer that
// comes first sends them ahead of its own.
type writeQueue struct {
	mu        sync.Mutex
	writing   bool
	scheduled bool // a flush of queued frames is scheduled (sendLater)
	frames    [][]byte
	// last is when the previous write began (Unix nanoseconds).
	last int64
}

// burstGap is how close to the previous write a request must come for the
// writer to let other goroutines queue theirs first: requests that come
// this close together are a burst (pipelined calls), while a request that
// arrives alone finds the previous write long done and is written at once.
const burstGap = 50 * time.Microsecond

// send writes frame on t (serialised by writeMu), or queues it for the
// writer in progress and returns at once. A failed write of queued frames
// closes t, so that their requests fail with the lost connection.
func (q *writeQueue) send(writeMu *sync.Mutex, t Transport, frame []byte) error {
	q.mu.Lock()
	if q.writing {
		q.frames = append(q.frames, frame)
		q.mu.Unlock()
		return nil
	}
	q.writing = true
	// frames queued for a later flush (sendLater) go first, in order
	early := q.frames
	q.frames = nil
	now := time.Now().UnixNano()
	burst := now-q.last < int64(burstGap)
	q.last = now
	q.mu.Unlock()
	if burst {
		runtime.Gosched() // let the burst's other requests join this write
	}

	writeMu.Lock()
	defer writeMu.Unlock()
	var err error
	if len(early) == 0 {
		err = t.WriteFrame(frame)
	} else if err = writeBatch(t, append(early, frame)); err != nil {
		_ = t.Close() // the queued frames' requests fail with the connection
	}
	q.drain(t)
	return err
}

// sendLater queues frame and has schedule arrange a flush of the queue;
// when schedule declines (reports false), the flush happens at once. Only
// the first frame queued since the last write schedules one.
func (q *writeQueue) sendLater(writeMu *sync.Mutex, t Transport, frame []byte, schedule func(flush func()) bool) {
	q.mu.Lock()
	q.frames = append(q.frames, frame)
	if q.writing || q.scheduled {
		q.mu.Unlock() // the writer in progress, or the scheduled flush, sends it
		return
	}
	q.scheduled = true
	q.mu.Unlock()
	flush := func() { q.flush(writeMu, t) }
	if !schedule(flush) {
		flush()
	}
}

// flush writes the queued frames, unless a writer in progress does.
func (q *writeQueue) flush(writeMu *sync.Mutex, t Transport) {
	q.mu.Lock()
	q.scheduled = false
	if q.writing || len(q.frames) == 0 {
		q.mu.Unlock()
		return
	}
	q.writing = true
	q.mu.Unlock()
	writeMu.Lock()
	defer writeMu.Unlock()
	q.drain(t)
}

// drain writes the queued frames, batch after batch, until the queue is
// empty, and ends the writer's turn. writeMu is held. A failed write
// closes t, so that the queued requests fail with the lost connection.
func (q *writeQueue) drain(t Transport) {
	for {
		q.mu.Lock()
		batch := q.frames
		q.frames = nil
		if len(batch) == 0 {
			q.writing = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		if err := writeBatch(t, batch); err != nil {
			_ = t.Close()
		}
	}
}

// writeBatch sends frames in order, with one write when t can batch them.
func writeBatch(t Transport, frames [][]byte) error {
	if fb, ok := t.(frameBatcher); ok && len(frames) > 1 {
		return fb.WriteFrames(frames)
	}
	return writeEach(t, frames)
}
