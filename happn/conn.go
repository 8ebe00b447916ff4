package happn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is one client websocket. gorilla/websocket does the handshake and
// reads frames; outgoing frames are written by wsConn itself so that all
// frames queued while the previous write was in flight go out in a single
// writev system call (a syscall per message is what caps a websocket
// server first).
type wsConn struct {
	ws      *websocket.Conn
	netConn net.Conn

	mu      sync.Mutex
	queue   [][]byte // payloads waiting for the writer (text frames)
	ctrl    [][]byte // complete control frames waiting (pong, close)
	pending int      // bytes queued
	closing bool     // no more frames accepted; writer flushes and closes
	wake    chan struct{}
	done    chan struct{} // closed when the writer has finished

	maxPending   int
	writeTimeout time.Duration
}

func newWSConn(ws *websocket.Conn, maxPending int, writeTimeout time.Duration) *wsConn {
	c := &wsConn{
		ws:           ws,
		netConn:      ws.NetConn(),
		wake:         make(chan struct{}, 1),
		done:         make(chan struct{}),
		maxPending:   maxPending,
		writeTimeout: writeTimeout,
	}
	ws.SetPingHandler(func(data string) error {
		c.control(websocket.PongMessage, []byte(data))
		return nil
	})
	ws.SetCloseHandler(func(code int, text string) error {
		c.closeWith(websocket.CloseNormalClosure, "")
		return nil
	})
	go c.writeLoop()
	return c
}

// errSlowConsumer is why a connection whose client stopped reading is
// dropped: its queued frames exceeded the limit.
var errSlowConsumer = errors.New("happn: outgoing queue limit exceeded")

// send queues one text frame. It never blocks; a connection that falls too
// far behind is closed instead, so one slow client cannot stall others.
func (c *wsConn) send(payload []byte) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, payload)
	c.pending += len(payload)
	over := c.maxPending > 0 && c.pending > c.maxPending
	c.mu.Unlock()
	if over {
		c.closeWith(websocket.CloseTryAgainLater, errSlowConsumer.Error())
		return
	}
	c.signal()
}

func (c *wsConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// control queues a control frame (ping, pong).
func (c *wsConn) control(op int, payload []byte) {
	c.mu.Lock()
	if !c.closing {
		c.ctrl = append(c.ctrl, frame(op, payload))
	}
	c.mu.Unlock()
	c.signal()
}

// closeWith flushes what is queued, sends a close frame and closes the
// socket. Later sends are dropped.
func (c *wsConn) closeWith(code int, reason string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.ctrl = append(c.ctrl, frame(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason)))
	c.mu.Unlock()
	c.signal()
}

// abort closes the socket at once, without flushing (a dead peer).
func (c *wsConn) abort() {
	c.mu.Lock()
	c.closing = true
	c.queue, c.ctrl = nil, nil
	c.mu.Unlock()
	_ = c.netConn.Close()
	c.signal()
}

func (c *wsConn) writeLoop() {
	defer close(c.done)
	var (
		bufs    net.Buffers
		headers []byte
	)
	for range c.wake {
		c.mu.Lock()
		queue, ctrl, closing := c.queue, c.ctrl, c.closing
		c.queue, c.ctrl, c.pending = nil, nil, 0
		c.mu.Unlock()

		bufs = bufs[:0]
		headers = headers[:0]
		// headers are appended to one slice; remember offsets, since the
		// slice may move while it grows.
		offsets := make([]int, 0, len(queue)+1)
		for _, p := range queue {
			offsets = append(offsets, len(headers))
			headers = appendFrameHeader(headers, websocket.TextMessage, len(p))
		}
		offsets = append(offsets, len(headers))
		for i, p := range queue {
			bufs = append(bufs, headers[offsets[i]:offsets[i+1]], p)
		}
		bufs = append(bufs, ctrl...)
		if len(bufs) > 0 {
			if c.writeTimeout > 0 {
				_ = c.netConn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
			}
			if _, err := bufs.WriteTo(c.netConn); err != nil {
				_ = c.netConn.Close()
				c.mu.Lock()
				c.closing = true
				c.mu.Unlock()
				return
			}
		}
		if closing {
			// give the peer a moment to answer the close frame, then go
			time.AfterFunc(time.Second, func() { _ = c.netConn.Close() })
			return
		}
	}
}

// frame builds a complete unmasked server frame.
func frame(op int, payload []byte) []byte {
	b := appendFrameHeader(make([]byte, 0, len(payload)+10), op, len(payload))
	return append(b, payload...)
}

func appendFrameHeader(b []byte, op int, n int) []byte {
	b = append(b, 0x80|byte(op))
	switch {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, 0, 0)
		binary.BigEndian.PutUint16(b[len(b)-2:], uint16(n))
	default:
		b = append(b, 127, 0, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint64(b[len(b)-8:], uint64(n))
	}
	return b
}

// readMessage reads the next text message into buf (reused between calls).
// Binary messages are reported with binary=true and their content dropped.
func (c *wsConn) readMessage(buf *bytes.Buffer) (binaryFrame bool, err error) {
	mt, r, err := c.ws.NextReader()
	if err != nil {
		return false, err
	}
	if mt == websocket.BinaryMessage {
		_, err = io.Copy(io.Discard, r)
		return true, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(r)
	return false, err
}
