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
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/happner-go/happner/internal/sockio"
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
	closePolicyViolation = 1008
	closeTooBig          = 1009
	closeTryAgainLater   = 1013
)

const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

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

// readLimits bound what one connection's reader may hold, and for how long
// a message may stall once it has started.
type readLimits struct {
	// maxLength is the largest message accepted, in bytes.
	maxLength int64
	// frameTimeout is the longest a client may pause inside a message
	// (between its first byte and its last); 0 means no limit.
	frameTimeout time.Duration
	// budget is shared by every connection of the server: the bytes held
	// in messages that have not arrived completely.
	budget *byteBudget
	// buffers lends the connections of a server their read buffers (nil:
	// each connection has its own).
	buffers *readBuffers
}

// byteBudget bounds the memory all connections of a server hold in
// unfinished messages, so that many clients announcing large frames and
// then stalling cannot exhaust the server.
type byteBudget struct {
	limit int64
	used  atomic.Int64
}

// reserve takes n bytes from the budget and reports whether they fitted.
func (b *byteBudget) reserve(n int) bool {
	if b == nil || b.limit <= 0 || n <= 0 {
		return true
	}
	if b.used.Add(int64(n)) > b.limit {
		b.used.Add(-int64(n))
		return false
	}
	return true
}

// release gives n bytes back.
func (b *byteBudget) release(n int) {
	if b != nil && b.limit > 0 && n > 0 {
		b.used.Add(-int64(n))
	}
}

// inUse returns the bytes currently reserved.
func (b *byteBudget) inUse() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// freeAllowance is the buffer capacity each connection may hold without
// drawing on the shared budget: ordinary frames never touch it.
const freeAllowance = 64 << 10

// minBuffer is the smallest message buffer allocated.
const minBuffer = 512

// closeError ends a connection with a websocket close code.
type closeError struct {
	code   int
	reason string
}

func (e *closeError) Error() string { return "happn: websocket " + e.reason }

var (
	errTooBig      = &closeError{closeTooBig, "message too big"}
	errProtocol    = &closeError{closeProtocolError, "protocol error"}
	errBinaryFrame = &closeError{closeUnsupportedData, "binary frames are not supported"}
	errBadUTF8     = &closeError{closeInvalidPayload, "invalid UTF-8"}
	errBusy        = &closeError{closeTryAgainLater, "server busy: too many unfinished messages"}
	errStalled     = &closeError{closePolicyViolation, "message not completed in time"}
	// errPeerClosed is returned once the peer's close frame is answered.
	errPeerClosed   = errors.New("happn: peer closed the websocket")
	errSlowConsumer = errors.New("happn: outgoing queue limit exceeded")
)

// wsConn is one server-side websocket.
type wsConn struct {
	conn net.Conn
	br   byteReader
	sock *sockio.IO // raw socket I/O for plain TCP; nil means conn's own methods
	lim  readLimits

	// reader-only state
	armed   bool   // a read deadline is set for the message in progress
	charged int    // bytes of the shared budget held by the message in progress
	unread  uint64 // payload bytes of the current frame not read yet
	// onPing, when set, is called for every websocket ping: a sign of
	// life, like a primus pong.
	onPing func()
	// batch holds work deferred to the end of the reader's batch.
	batch batchEnd

	mu         sync.Mutex
	queue      [][]byte // text payloads waiting to be written
	pong       []byte   // the latest pong frame waiting; older ones are dropped
	closeFrame []byte   // the close frame waiting, once closing
	pending    int      // bytes queued (payloads, pong, close frame)
	holding    bool     // the reader is processing input: it flushes afterwards
	flushing   bool     // a goroutine is writing
	closing    bool     // no more frames accepted; close after the flush
	closed     bool
	closeNow   bool          // close the socket as soon as the close frame is out
	closeSent  chan struct{} // closed once the close frame is written (or the socket broke)

	maxPending   int
	writeTimeout time.Duration
	// onSlowConsumer, when set, is called once when the connection is
	// closed for exceeding maxPending.
	onSlowConsumer func()
}

func newWSConn(conn net.Conn, br *bufio.Reader, lim readLimits, maxPending int, writeTimeout time.Duration) *wsConn {
	c := &wsConn{conn: conn, br: br, lim: lim, maxPending: maxPending, writeTimeout: writeTimeout,
		closeSent: make(chan struct{})}
	if c.sock = sockio.New(conn); c.sock != nil {
		// read the socket directly, after what the handshake's reader
		// already holds, into buffers borrowed only while there is input
		var held []byte
		if n := br.Buffered(); n > 0 {
			held, _ = br.Peek(n)
		}
		buffers := lim.buffers
		if buffers == nil {
			buffers = &readBuffers{}
		}
		c.br = newSockReader(c.sock, buffers, held)
	}
	return c
}

// writeBuffers writes frames to the socket.
func (c *wsConn) writeBuffers(bufs net.Buffers) error {
	if c.sock != nil {
		return c.sock.Writev(bufs)
	}
	_, err := bufs.WriteTo(c.conn)
	return err
}

// overLimitLocked reports whether the queued bytes exceed maxPending.
func (c *wsConn) overLimitLocked() bool { return c.maxPending > 0 && c.pending > c.maxPending }

// dropSlowLocked empties the queue of a client that fell too far behind
// and closes its connection; it unlocks c.mu.
func (c *wsConn) dropSlowLocked() {
	c.queue, c.pong, c.pending = nil, nil, 0
	c.mu.Unlock()
	if c.onSlowConsumer != nil {
		c.onSlowConsumer()
	}
	c.closeWith(closeTryAgainLater, errSlowConsumer.Error())
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
	if c.overLimitLocked() {
		c.dropSlowLocked()
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
	if c.overLimitLocked() {
		c.dropSlowLocked()
		return
	}
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

// queuePong answers a ping. Only the latest pong waits to be written (RFC
// 6455 §5.5.3 allows answering only the most recent ping), and it counts
// against maxPending like any frame, so a client that pings and never
// reads cannot grow the queue.
func (c *wsConn) queuePong(payload []byte) {
	frame := appendFrame(make([]byte, 0, 2+len(payload)), opPong, payload)
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.pending += len(frame) - len(c.pong)
	c.pong = frame
	if c.overLimitLocked() {
		c.dropSlowLocked()
		return
	}
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
	if c.flushing || (len(c.queue) == 0 && c.pong == nil && c.closeFrame == nil && !c.closing) {
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
		queue, pong, closeFrame := c.queue, c.pong, c.closeFrame
		c.queue, c.pong, c.closeFrame, c.pending = nil, nil, nil, 0
		if len(queue) == 0 && pong == nil && closeFrame == nil {
			c.flushing = false
			done := c.closing && !c.closed
			if done {
				c.closed = true
			}
			now := c.closeNow
			c.mu.Unlock()
			if done {
				if now {
					_ = c.conn.Close()
				} else {
					// the close frame is out: give the peer a moment
					// to answer it, then drop the connection
					time.AfterFunc(time.Second, func() { _ = c.conn.Close() })
				}
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
		if pong != nil {
			// a control frame may go between any two frames: answer the
			// ping before what was queued meanwhile
			bufs = append(bufs, pong)
		}
		for i, p := range queue {
			bufs = append(bufs, headers[offsets[i]:offsets[i+1]], p)
		}
		if closeFrame != nil {
			bufs = append(bufs, closeFrame)
		}
		if c.writeTimeout > 0 {
			_ = c.conn.SetWriteDeadline(time.Now().Add(c.writeTimeout))
		}
		err := c.writeBuffers(bufs)
		if closeFrame != nil || err != nil {
			c.signalCloseSent()
		}
		if err != nil {
			_ = c.conn.Close()
			c.mu.Lock()
			c.closing, c.closed, c.flushing = true, true, false
			c.queue, c.pong, c.closeFrame, c.pending = nil, nil, nil, 0
			c.mu.Unlock()
			return
		}
	}
}

// signalCloseSent tells awaitPeerClose that nothing more will be written.
func (c *wsConn) signalCloseSent() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closeSent:
	default:
		close(c.closeSent)
	}
}

// closeWith flushes what is queued, sends a close frame and closes the
// socket. Later sends are dropped.
func (c *wsConn) closeWith(code int, reason string) {
	payload := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(payload, uint16(code))
	payload = append(payload, reason...)
	c.closeFramed(payload, false)
}

// closeFramed queues a close frame with payload; now closes the socket as
// soon as it is written (the answer to the peer's close).
func (c *wsConn) closeFramed(payload []byte, now bool) {
	c.mu.Lock()
	if c.closing {
		if now {
			// the peer answered our close frame: the closing handshake
			// is complete, the socket closes as soon as ours is out
			c.closeNow = true
			if c.closed {
				c.mu.Unlock()
				_ = c.conn.Close()
				return
			}
		}
		c.mu.Unlock()
		return
	}
	c.closeFrame = appendFrame(nil, opClose, payload)
	c.pending += len(c.closeFrame)
	c.closing, c.closeNow = true, now
	c.kickLocked()
}

// abort closes the socket at once, without flushing (a dead peer).
func (c *wsConn) abort() {
	c.mu.Lock()
	c.closing, c.closed = true, true
	c.queue, c.pong, c.closeFrame, c.pending = nil, nil, nil, 0
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

// frameHeader is a decoded client frame header.
type frameHeader struct {
	fin    bool
	rsv    byte // the three reserved bits
	op     byte
	masked bool
	length uint64
	mask   [4]byte
}

// readHeader reads a frame header; the first byte has already been read.
func (c *wsConn) readHeader(first byte) (frameHeader, error) {
	var h [8]byte
	if err := c.readFull(h[:1]); err != nil {
		return frameHeader{}, err
	}
	f := frameHeader{fin: first&0x80 != 0, rsv: first & 0x70 >> 4, op: first & 0x0f, masked: h[0]&0x80 != 0}
	f.length = uint64(h[0] & 0x7f)
	switch f.length {
	case 126:
		if err := c.readFull(h[:2]); err != nil {
			return f, err
		}
		f.length = uint64(binary.BigEndian.Uint16(h[:2]))
	case 127:
		if err := c.readFull(h[:8]); err != nil {
			return f, err
		}
		f.length = binary.BigEndian.Uint64(h[:8])
	}
	if f.masked {
		if err := c.readFull(f.mask[:]); err != nil {
			return f, err
		}
	}
	return f, nil
}

// readMessage reads the next complete text message into *buf (reused),
// answering pings and the peer's close on the way.
//
// The wait for a message's first byte has no deadline (the heartbeat ends
// dead connections); from then on the client may not pause for longer than
// frameTimeout. The message buffer grows only as bytes arrive, and the
// capacity beyond freeAllowance is drawn from the server's shared budget:
// a client that announces a large frame and stalls holds next to nothing.
func (c *wsConn) readMessage(buf *[]byte) error {
	msg := (*buf)[:0]
	defer c.endMessage()
	started := false
	for {
		var first byte
		if started {
			var b [1]byte
			if err := c.readFull(b[:]); err != nil {
				return err
			}
			first = b[0]
		} else {
			c.disarm() // between messages: wait as long as the connection lives
			var err error
			if first, err = c.br.ReadByte(); err != nil {
				return err
			}
		}
		f, err := c.readHeader(first)
		if err != nil {
			return err
		}
		c.unread = f.length // until the payload is read
		switch {
		case f.rsv != 0:
			return errProtocol // no extension was negotiated
		case !f.masked:
			return errProtocol // client frames must be masked
		case f.length>>63 != 0:
			return errProtocol // the most significant bit must be 0
		}
		if f.op >= opClose {
			// control frame: at most 125 bytes, never fragmented
			if f.length > 125 || !f.fin {
				return errProtocol
			}
			var p [125]byte
			payload := p[:f.length]
			if err := c.readFull(payload); err != nil {
				return err
			}
			c.unread = 0
			unmask(payload, f.mask)
			switch f.op {
			case opPing:
				if c.onPing != nil {
					c.onPing()
				}
				c.queuePong(payload)
			case opPong:
				// unsolicited pongs are allowed and ignored
			case opClose:
				return c.answerClose(payload)
			default:
				return errProtocol // reserved control opcode
			}
			continue
		}
		switch {
		case f.op == opBinary && !started:
			return errBinaryFrame
		case f.op == opText && !started:
			started = true
		case f.op == opContinuation && started:
		default:
			return errProtocol // reserved opcode, or a fragment out of place
		}
		if f.length > uint64(c.lim.maxLength-int64(len(msg))) {
			return errTooBig
		}
		start := len(msg)
		if msg, err = c.readPayload(msg, int(f.length)); err != nil {
			c.unread = f.length - uint64(len(msg)-start)
			return err
		}
		c.unread = 0
		unmask(msg[start:], f.mask)
		if f.fin {
			*buf = msg
			return nil
		}
	}
}

// readFull reads exactly len(p) bytes. Each time it has to wait for the
// network it gives the client frameTimeout more to deliver them.
func (c *wsConn) readFull(p []byte) error {
	for len(p) > 0 {
		if c.br.Buffered() == 0 {
			c.arm()
		}
		n, err := c.br.Read(p)
		p = p[n:]
		if err != nil && len(p) > 0 {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return errStalled
			}
			return err
		}
	}
	return nil
}

// readPayload appends n more bytes of payload to b, growing it only as
// the bytes arrive (at most doubling what has been received).
func (c *wsConn) readPayload(b []byte, n int) ([]byte, error) {
	end := len(b) + n
	for len(b) < end {
		if len(b) == cap(b) {
			// doubling, whatever the fragments' sizes: a message sent in
			// many small fragments costs linear copying, and the buffer is
			// never more than twice what has arrived (nor over maxLength)
			size := max(2*cap(b), minBuffer)
			if limit := int(c.lim.maxLength); limit > 0 && size > limit {
				size = max(limit, end)
			}
			if err := c.charge(size); err != nil {
				return b, err
			}
			grown := make([]byte, len(b), size)
			copy(grown, b)
			b = grown
		}
		k := len(b)
		b = b[:min(cap(b), end)]
		if err := c.readFull(b[k:]); err != nil {
			return b[:k], err
		}
	}
	return b, nil
}

// charge draws a message buffer's capacity beyond freeAllowance from the
// shared budget.
func (c *wsConn) charge(capacity int) error {
	want := capacity - freeAllowance
	if want <= c.charged {
		return nil
	}
	if !c.lim.budget.reserve(want - c.charged) {
		return errBusy
	}
	c.charged = want
	return nil
}

// arm gives the message in progress frameTimeout more.
func (c *wsConn) arm() {
	if c.lim.frameTimeout > 0 {
		_ = c.conn.SetReadDeadline(time.Now().Add(c.lim.frameTimeout))
		c.armed = true
	}
}

// disarm clears the read deadline.
func (c *wsConn) disarm() {
	if c.armed {
		_ = c.conn.SetReadDeadline(time.Time{})
		c.armed = false
	}
}

// endMessage gives back what the message drew from the shared budget.
func (c *wsConn) endMessage() {
	c.lim.budget.release(c.charged)
	c.charged = 0
}

// answerClose answers the peer's close frame (RFC 6455 §5.5.1, §7.4): the
// status code is echoed when it is valid, a malformed close is answered
// with 1002 (or 1007 for a reason that is not UTF-8), and the socket is
// closed as soon as the answer is out.
func (c *wsConn) answerClose(payload []byte) error {
	switch {
	case len(payload) == 0:
		c.closeFramed(nil, true)
	case len(payload) == 1 || !validCloseCode(int(binary.BigEndian.Uint16(payload))):
		c.closeFramed(closePayload(closeProtocolError), true)
	case !utf8.Valid(payload[2:]):
		c.closeFramed(closePayload(closeInvalidPayload), true)
	default:
		c.closeFramed(append([]byte(nil), payload[:2]...), true)
	}
	return errPeerClosed
}

// awaitPeerClose is called after the server's close frame: it discards
// what the peer still sends (the rest of the frame the reader stopped in,
// then whole frames) until the peer's close frame arrives, the stream
// breaks or wait passes, and then closes the socket once the server's
// close frame is out, so that the server closes the TCP connection first
// (RFC 6455 §7.1.1) and the peer is not reset while it is still sending.
func (c *wsConn) awaitPeerClose(wait time.Duration) {
	deadline := time.Now().Add(wait)
	defer func() {
		select {
		case <-c.closeSent:
		case <-time.After(time.Until(deadline)):
		}
		_ = c.conn.Close()
	}()
	_ = c.conn.SetReadDeadline(deadline)
	skip := c.unread
	for {
		if skip > uint64(c.lim.maxLength)+4 {
			return
		}
		if _, err := io.CopyN(io.Discard, c.br, int64(skip)); err != nil {
			return
		}
		first, err := c.br.ReadByte()
		if err != nil {
			return
		}
		f, err := c.readHeader(first)
		if err != nil || f.op == opClose {
			return
		}
		skip = f.length
	}
}

func closePayload(code int) []byte {
	return binary.BigEndian.AppendUint16(nil, uint16(code))
}

// validCloseCode reports whether a peer may send code in a close frame:
// the codes defined for use in frames (1000-1003, 1007-1014) and the
// registered and private ranges (3000-4999).
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
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
