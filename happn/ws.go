package happn

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"
)

// The server speaks RFC 6455 itself: it answers the upgrade, reads client
// frames from a buffered reader and writes server frames with writev.
// Owning both directions lets one goroutine per connection do all the
// work: it reads every frame already buffered, processes them, and only
// then flushes the replies in one system call. Frames for other
// connections (publications) are queued on them; a connection whose reader
// is idle gets a short-lived goroutine to flush them.

// Websocket opcodes and close codes.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA

	closeNormal          = 1000
	closeGoingAway       = 1001
	closeProtocolError   = 1002
	closeUnsupportedData = 1003
	closeInvalidPayload  = 1007
	closeTooBig          = 1009
	closeTryAgainLater   = 1013
)

const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

var (
	errTooBig       = errors.New("happn: frame over maxLength")
	errProtocol     = errors.New("happn: websocket protocol error")
	errBinaryFrame  = errors.New("happn: binary frames are not supported")
	errPeerClosed   = errors.New("happn: peer closed the websocket")
	errSlowConsumer = errors.New("happn: outgoing queue limit exceeded")
)

// isUpgrade reports whether r asks for a websocket.
func isUpgrade(r *http.Request) bool {
	return headerHas(r.Header, "Connection", "upgrade") && headerHas(r.Header, "Upgrade", "websocket")
}

func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// upgrade answers a websocket handshake (declining every extension, so no
// compression) and takes over the connection.
func upgrade(w http.ResponseWriter, r *http.Request) (net.Conn, *bufio.Reader, error) {
	if r.Method != http.MethodGet {
		http.Error(w, "websocket upgrade needs GET", http.StatusMethodNotAllowed)
		return nil, nil, errProtocol
	}
	if r.Header.Get("Sec-Websocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "unsupported websocket version", http.StatusBadRequest)
		return nil, nil, errProtocol
	}
	key := r.Header.Get("Sec-Websocket-Key")
	if key == "" {
		http.Error(w, "missing Sec-WebSocket-Key", http.StatusBadRequest)
		return nil, nil, errProtocol
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "websocket upgrade not supported", http.StatusInternalServerError)
		return nil, nil, errProtocol
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	sum := sha1.Sum([]byte(key + websocketGUID))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	_ = conn.SetDeadline(time.Time{})
	if _, err := conn.Write([]byte(resp)); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, brw.Reader, nil
}

// wsConn is one server-side websocket.
type wsConn struct {
	conn net.Conn
	br   *bufio.Reader

	mu       sync.Mutex
	queue    [][]byte // text payloads waiting to be written
	ctrl     [][]byte // complete control frames waiting (pong, close)
	pending  int      // bytes queued
	holding  bool     // the reader is processing input: it flushes afterwards
	flushing bool     // a goroutine is writing
	closing  bool     // no more frames accepted; close after the flush
	closed   bool
	// peerClosed: the peer's close frame has arrived, so once ours is out
	// the closing handshake is complete and the socket closes at once
	peerClosed bool

	maxPending   int
	writeTimeout time.Duration
}

func newWSConn(conn net.Conn, br *bufio.Reader, maxPending int, writeTimeout time.Duration) *wsConn {
	return &wsConn{conn: conn, br: br, maxPending: maxPending, writeTimeout: writeTimeout}
}

// send queues one text frame. It never blocks on the network; a client
// that falls too far behind is disconnected instead, so one slow client
// cannot stall others.
func (c *wsConn) send(payload []byte) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, payload)
	c.pending += len(payload)
	if c.maxPending > 0 && c.pending > c.maxPending {
		c.queue, c.pending = nil, 0
		c.mu.Unlock()
		c.closeWith(closeTryAgainLater, errSlowConsumer.Error())
		return
	}
	c.kickLocked()
}

// sendNow queues a frame and, unless a write is under way or the reader
// will flush, writes the queue in the calling goroutine.
func (c *wsConn) sendNow(payload []byte) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, payload)
	c.pending += len(payload)
	if c.holding || c.flushing {
		c.mu.Unlock()
		return
	}
	c.flushing = true
	c.mu.Unlock()
	c.flush(false)
}

// kickLocked starts a flush unless one is running or the reader will
// flush; it unlocks c.mu.
func (c *wsConn) kickLocked() {
	if c.holding || c.flushing {
		c.mu.Unlock()
		return
	}
	c.flushing = true
	c.mu.Unlock()
	go c.flush(true)
}

// control queues a control frame (pong, close).
func (c *wsConn) control(op byte, payload []byte) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.ctrl = append(c.ctrl, appendFrame(nil, op, payload))
	c.kickLocked()
}

// hold marks the start of a batch of input: frames sent to this connection
// meanwhile wait for release.
func (c *wsConn) hold() {
	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
}

// flushThreshold is how many reply bytes the reader holds back while more
// input is buffered before it writes them anyway.
const flushThreshold = 64 << 10

// heldBytes returns the bytes queued and not yet written.
func (c *wsConn) heldBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending
}

// release ends a batch of input and writes what it produced, in the
// calling goroutine.
func (c *wsConn) release() {
	c.mu.Lock()
	c.holding = false
	if c.flushing || (len(c.queue) == 0 && len(c.ctrl) == 0 && !c.closing) {
		c.mu.Unlock()
		return
	}
	c.flushing = true
	c.mu.Unlock()
	c.flush(false)
}

// flush writes queued frames until the queue is empty. A flusher started
// for frames from other goroutines (yield) first lets the goroutines
// producing frames for this connection right now (a burst of replies or
// publications) queue them, so that one writev carries them all.
func (c *wsConn) flush(yield bool) {
	var (
		bufs    net.Buffers
		headers []byte
		offsets []int
	)
	if yield {
		runtime.Gosched()
	}
	for {
		c.mu.Lock()
		queue, ctrl, closing := c.queue, c.ctrl, c.closing
		c.queue, c.ctrl, c.pending = nil, nil, 0
		if len(queue) == 0 && len(ctrl) == 0 {
			c.flushing = false
			done := closing && !c.closed
			if done {
				c.closed = true
			}
			answered := c.peerClosed
			c.mu.Unlock()
			switch {
			case done && answered:
				_ = c.conn.Close()
			case done:
				// the close frame is out: give the peer a moment to
				// answer it, then drop the connection
				time.AfterFunc(time.Second, func() { _ = c.conn.Close() })
			}
			return
		}
		c.mu.Unlock()

		headers, offsets, bufs = headers[:0], offsets[:0], bufs[:0]
		for _, p := range queue {
			offsets = append(offsets, len(headers))
			headers = appendFrameHeader(headers, opText, len(p))
		}
		offsets = append(offsets, len(headers))
		for i, p := range queue {
			bufs = append(bufs, headers[offsets[i]:offsets[i+1]], p)
		}
		bufs = append(bufs, ctrl...)
		if c.writeTimeout > 0 {
			_ = c.conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
		}
		if _, err := bufs.WriteTo(c.conn); err != nil {
			_ = c.conn.Close()
			c.mu.Lock()
			c.closing, c.closed, c.flushing = true, true, false
			c.queue, c.ctrl = nil, nil
			c.mu.Unlock()
			return
		}
	}
}

// closeWith flushes what is queued, sends a close frame and closes the
// socket. Later sends are dropped.
func (c *wsConn) closeWith(code int, reason string) {
	payload := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(payload, uint16(code))
	payload = append(payload, reason...)
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.ctrl = append(c.ctrl, appendFrame(nil, opClose, payload))
	c.closing = true
	c.kickLocked()
}

// abort closes the socket at once, without flushing (a dead peer).
func (c *wsConn) abort() {
	c.mu.Lock()
	c.closing, c.closed = true, true
	c.queue, c.ctrl = nil, nil
	c.mu.Unlock()
	_ = c.conn.Close()
}

func appendFrame(b []byte, op byte, payload []byte) []byte {
	b = appendFrameHeader(b, op, len(payload))
	return append(b, payload...)
}

// appendFrameHeader appends the header of an unmasked, final server frame.
func appendFrameHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127, 0, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint64(b[len(b)-8:], uint64(n))
	}
	return b
}

// readMessage reads the next complete text message into *buf (reused),
// answering pings and close frames on the way. maxLength bounds the whole
// message.
func (c *wsConn) readMessage(buf *[]byte, maxLength int64) error {
	msg := (*buf)[:0]
	started := false
	for {
		var h [14]byte
		if _, err := io.ReadFull(c.br, h[:2]); err != nil {
			return err
		}
		fin := h[0]&0x80 != 0
		if h[0]&0x70 != 0 {
			return errProtocol // no extension was negotiated
		}
		op := h[0] & 0x0f
		masked := h[1]&0x80 != 0
		if !masked {
			return errProtocol // client frames must be masked
		}
		n := int64(h[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(c.br, h[2:4]); err != nil {
				return err
			}
			n = int64(binary.BigEndian.Uint16(h[2:4]))
		case 127:
			if _, err := io.ReadFull(c.br, h[2:10]); err != nil {
				return err
			}
			u := binary.BigEndian.Uint64(h[2:10])
			if u > uint64(maxLength) {
				return errTooBig
			}
			n = int64(u)
		}
		var mask [4]byte
		if _, err := io.ReadFull(c.br, mask[:]); err != nil {
			return err
		}
		if op >= opClose {
			// control frame: at most 125 bytes, never fragmented
			if n > 125 || !fin {
				return errProtocol
			}
			var p [125]byte
			payload := p[:n]
			if _, err := io.ReadFull(c.br, payload); err != nil {
				return err
			}
			unmask(payload, mask)
			switch op {
			case opPing:
				c.control(opPong, append([]byte(nil), payload...))
			case opClose:
				c.mu.Lock()
				c.peerClosed = true
				ours := c.closed // our close frame is already out
				c.mu.Unlock()
				if ours {
					_ = c.conn.Close()
				} else {
					c.closeWith(closeNormal, "")
				}
				return errPeerClosed
			}
			continue
		}
		switch {
		case op == opBinary && !started:
			return errBinaryFrame
		case op == opText && !started:
			started = true
		case op == opContinuation && started:
		default:
			return errProtocol
		}
		if int64(len(msg))+n > maxLength {
			return errTooBig
		}
		start := len(msg)
		msg = append(msg, make([]byte, n)...)
		if _, err := io.ReadFull(c.br, msg[start:]); err != nil {
			return err
		}
		unmask(msg[start:], mask)
		if fin {
			*buf = msg
			return nil
		}
	}
}

func unmask(b []byte, mask [4]byte) {
	key := binary.LittleEndian.Uint32(mask[:])
	key64 := uint64(key) | uint64(key)<<32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		v := binary.LittleEndian.Uint64(b[i:])
		binary.LittleEndian.PutUint64(b[i:], v^key64)
	}
	for ; i < len(b); i++ {
		b[i] ^= mask[i&3]
	}
}
