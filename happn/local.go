package happn

import (
	"context"
	"errors"
	"sync"
)

// LocalConn is an in-process connection to a [Server]: the client writes
// request frames with Send and reads reply and publication frames with
// Recv, exactly as over a websocket but with no socket, no framing and no
// heartbeat. Sessions made this way report info._local true and address
// "intra-proc".
type LocalConn struct {
	server *Server
	sess   *Session

	mu     sync.Mutex
	queue  [][]byte
	wake   chan struct{}
	closed bool
}

// ErrClosed is returned by a closed [LocalConn].
var ErrClosed = errors.New("happn: connection closed")

// ConnectLocal opens an in-process connection.
func (s *Server) ConnectLocal() (*LocalConn, error) {
	c := &LocalConn{server: s, wake: make(chan struct{}, 1)}
	c.sess = s.newSession(c)
	c.sess.local = true
	c.sess.url = "intra-proc"
	if !s.register(c.sess) {
		return nil, ErrClosed
	}
	return c, nil
}

// SessionID returns the id of the connection's session.
func (c *LocalConn) SessionID() string { return c.sess.id }

// Send processes one request frame (a JSON text message) synchronously:
// when it returns, the replies and publications it caused are queued.
func (c *LocalConn) Send(frame []byte) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed || c.sess.closed.Load() {
		return ErrClosed
	}
	c.server.handleFrame(c.sess, frame)
	return nil
}

// Recv returns the next frame sent to this connection, waiting until one
// arrives, the connection closes (ErrClosed) or ctx ends.
func (c *LocalConn) Recv(ctx context.Context) ([]byte, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			f := c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
			c.mu.Unlock()
			return f, nil
		}
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		select {
		case <-c.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close ends the session and drops its subscriptions.
func (c *LocalConn) Close() error {
	c.sess.drop()
	c.closeWith(0, "")
	return nil
}

// send implements sink.
func (c *LocalConn) send(frame []byte) {
	c.mu.Lock()
	if !c.closed {
		c.queue = append(c.queue, frame)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// sendNow implements sink: in-process frames need no writing.
func (c *LocalConn) sendNow(frame []byte) { c.send(frame) }

// closeWith implements sink: frames already queued can still be read.
func (c *LocalConn) closeWith(int, string) {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// The methods below let a LocalConn serve as the transport of the Go client
// (package happn/client, Options.Dial), which then talks to this server
// in-process with the same API as over a websocket.

// ReadFrame returns the next frame for the client; it fails once the
// connection is closed and drained.
func (c *LocalConn) ReadFrame() ([]byte, error) { return c.Recv(context.Background()) }

// WriteFrame processes one request frame (see Send).
func (c *LocalConn) WriteFrame(frame []byte) error { return c.Send(frame) }

// Alive is a no-op: an in-process connection has no heartbeat.
func (c *LocalConn) Alive() {}

// CloseGracefully is a no-op; Close ends the session.
func (c *LocalConn) CloseGracefully() {}
