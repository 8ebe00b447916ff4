// Package wire is a deliberately small happn_4 websocket client used only by
// the benchmark harness. It performs the configure-session → describe → login
// handshake, answers primus heartbeats and lets callers pipeline requests with
// completion callbacks. It does not reconnect and does not re-subscribe: a
// benchmark that loses its socket is a failed benchmark.
package wire

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ProtocolVersion is the protocol name sent in configure-session.
const ProtocolVersion = "happn_4"

// clientVersion is what the npm client reports as its own version.
const clientVersion = "13.12.1"

// ErrClosed is returned for requests on a client whose socket has gone.
var ErrClosed = errors.New("wire: connection closed")

// Options configures Dial.
type Options struct {
	// Username and Password are sent on login; both empty means an
	// unauthenticated login, which only an unsecured server accepts.
	Username string
	Password string
	// HandshakeTimeout bounds the websocket upgrade plus the three
	// handshake requests. Zero means 30 seconds.
	HandshakeTimeout time.Duration
	// ReadBufferSize and WriteBufferSize size the websocket buffers
	// (zero: gorilla's default of 4096). Idle-connection runs use small ones.
	ReadBufferSize  int
	WriteBufferSize int
	// ManualFlush makes Send leave requests in the client's write buffer
	// until Flush is called (or the 64 KiB buffer fills), so a pipelining
	// caller can put many requests in one write system call. Replies to
	// the handshake, pongs and Close are always flushed at once.
	ManualFlush bool
	// OnEvent, if set, receives every publication (`_meta.type == "data"`).
	// It runs on the client's read goroutine and must not block; the Event
	// and its Data are only valid during the call.
	OnEvent func(Event)
}

// Reply is the server's answer to one request.
type Reply struct {
	// EventID echoes the request's eventId.
	EventID int64
	// Data is the raw `data` member (nil for the noDataResponse form and
	// for array replies, whose items are in Items). Only valid inside a
	// callback unless it was obtained through Call.
	Data json.RawMessage
	// Items holds the items of an array reply, without the trailing meta.
	Items []json.RawMessage
	// Err is non-nil for `_meta.status == "error"` replies (a *ServerError)
	// and when the connection closed before the reply arrived.
	Err error
}

// Event is one publication delivered to a subscription.
type Event struct {
	// Channel is the subscriber's channel, e.g. "/ALL@/bench/ev/*".
	Channel string
	// Path is the path that was set or removed.
	Path string
	// Data is the raw published `data` member.
	Data json.RawMessage
}

// ServerError is an error reply from the server (`_meta.error`).
type ServerError struct {
	Name    string `json:"name"`
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Error implements error.
func (e *ServerError) Error() string {
	return fmt.Sprintf("happn %s (%d): %s", e.Name, e.Code, e.Message)
}

// Callback receives a Reply. It runs on the read goroutine and must not block.
type Callback func(Reply)

// Client is one happn_4 session over one websocket.
type Client struct {
	ws          *websocket.Conn
	bc          *bufConn
	onEvent     func(Event)
	manualFlush bool

	wmu  sync.Mutex // guards wbuf and every write to ws and bc
	wbuf []byte

	nextID atomic.Int64

	// calls holds the callbacks of requests awaiting a reply; closing it
	// marks the client closed.
	calls Calls[Reply]

	done chan struct{}

	// SessionID is the id from the login reply.
	SessionID string
	// ServerName and Secure come from the describe reply.
	ServerName string
	Secure     bool
}

// Dial connects to ws://addr/primus and logs in.
func Dial(ctx context.Context, addr string, opts Options) (*Client, error) {
	timeout := opts.HandshakeTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var bc *bufConn
	d := websocket.Dialer{
		HandshakeTimeout: timeout,
		ReadBufferSize:   opts.ReadBufferSize,
		WriteBufferSize:  opts.WriteBufferSize,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var nd net.Dialer
			conn, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			bc = &bufConn{Conn: conn}
			return bc, nil
		},
	}
	u := url.URL{Scheme: "ws", Host: addr, Path: "/primus",
		RawQuery: "_primuscb=" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	ws, resp, err := d.DialContext(ctx, u.String(), nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("wire: dial %s: %w", u.String(), err)
	}
	if bc == nil {
		_ = ws.Close()
		return nil, fmt.Errorf("wire: dial %s: connection was not made by the client's dialer", addr)
	}
	size := opts.WriteBufferSize
	if size <= 0 {
		size = 64 << 10
	}
	bc.w = bufio.NewWriterSize(bc.Conn, size)
	c := &Client{
		ws:          ws,
		bc:          bc,
		manualFlush: opts.ManualFlush,
		onEvent:     opts.OnEvent,
		done:        make(chan struct{}),
	}
	// gorilla answers close and ping frames from the read goroutine; route
	// those writes through wmu and the write buffer too.
	ws.SetCloseHandler(func(code int, _ string) error {
		c.writeControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""))
		return nil
	})
	ws.SetPingHandler(func(data string) error {
		c.writeControl(websocket.PongMessage, []byte(data))
		return nil
	})
	go c.readLoop()

	if err := c.handshake(ctx, opts); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) handshake(ctx context.Context, opts Options) error {
	cfg := []byte(`{"protocol":"` + ProtocolVersion + `","version":"` + clientVersion + `","browser":false}`)
	if _, err := c.call(ctx, "configure-session", "", cfg, nil, false); err != nil {
		return fmt.Errorf("wire: configure-session: %w", err)
	}
	r, err := c.call(ctx, "describe", "", []byte("null"), nil, false)
	if err != nil {
		return fmt.Errorf("wire: describe: %w", err)
	}
	var desc struct {
		Name   string `json:"name"`
		Secure bool   `json:"secure"`
	}
	if err := json.Unmarshal(r.Data, &desc); err != nil {
		return fmt.Errorf("wire: describe reply %q: %w", r.Data, err)
	}
	c.ServerName, c.Secure = desc.Name, desc.Secure

	login := map[string]any{
		"info":     map[string]any{"_browser": false, "_local": false},
		"protocol": ProtocolVersion,
	}
	if opts.Username != "" {
		login["username"] = opts.Username
	}
	if opts.Password != "" {
		login["password"] = opts.Password
	}
	ld, err := json.Marshal(login)
	if err != nil {
		return fmt.Errorf("wire: encode login: %w", err)
	}
	r, err = c.call(ctx, "login", "", ld, []byte(`{"timeout":60000}`), false)
	if err != nil {
		return fmt.Errorf("wire: login: %w", err)
	}
	var sess struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.Data, &sess); err != nil || sess.ID == "" {
		return fmt.Errorf("wire: login reply has no session id: %q", r.Data)
	}
	c.SessionID = sess.ID
	return nil
}

// Send writes one data request (set, get, on, off, count, remove) and
// arranges for cb to be called with the reply. data and options must be
// valid JSON or nil (nil data is sent as null; nil options as
// {"timeout":60000}, like the npm client). It returns the request's eventId.
func (c *Client) Send(action, path string, data, options []byte, cb Callback) (int64, error) {
	return c.send(action, path, data, options, true, cb)
}

// Call is Send that waits for the reply; it always flushes. The returned
// Reply owns its Data.
func (c *Client) Call(ctx context.Context, action, path string, data, options []byte) (Reply, error) {
	return c.call(ctx, action, path, data, options, true)
}

func (c *Client) call(ctx context.Context, action, path string, data, options []byte, dataRequest bool) (Reply, error) {
	ch := make(chan Reply, 1)
	_, err := c.write(action, path, data, options, dataRequest, false, func(r Reply) {
		r.Data = append(json.RawMessage(nil), r.Data...)
		items := make([]json.RawMessage, len(r.Items))
		for i, it := range r.Items {
			items[i] = append(json.RawMessage(nil), it...)
		}
		r.Items = items
		ch <- r
	})
	if err != nil {
		return Reply{}, err
	}
	select {
	case r := <-ch:
		return r, r.Err
	case <-ctx.Done():
		return Reply{}, fmt.Errorf("wire: %s: %w", action, ctx.Err())
	}
}

func (c *Client) send(action, path string, data, options []byte, dataRequest bool, cb Callback) (int64, error) {
	return c.write(action, path, data, options, dataRequest, c.manualFlush && dataRequest, cb)
}

// write sends one request; with buffered set the frame may stay in the
// write buffer until Flush.
func (c *Client) write(action, path string, data, options []byte, dataRequest, buffered bool, cb Callback) (int64, error) {
	id := c.nextID.Add(1)
	if err := c.calls.Add(id, cb); err != nil {
		return 0, err
	}

	c.wmu.Lock()
	b := c.wbuf[:0]
	b = append(b, `{"action":`...)
	b = appendString(b, action)
	b = append(b, `,"eventId":`...)
	b = strconv.AppendInt(b, id, 10)
	if dataRequest {
		b = append(b, `,"path":`...)
		b = appendString(b, path)
	}
	b = append(b, `,"data":`...)
	if data == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, data...)
	}
	if c.SessionID != "" {
		b = append(b, `,"sessionId":`...)
		b = appendString(b, c.SessionID)
	}
	if options != nil {
		b = append(b, `,"options":`...)
		b = append(b, options...)
	} else if dataRequest {
		b = append(b, `,"options":{"timeout":60000}`...)
	}
	b = append(b, '}')
	c.wbuf = b
	err := c.ws.WriteMessage(websocket.TextMessage, b)
	if err == nil && !buffered {
		err = c.bc.w.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		c.calls.Remove(id)
		c.fail(fmt.Errorf("wire: write: %w", err))
		return 0, fmt.Errorf("wire: write %s: %w", action, err)
	}
	return id, nil
}

// appendString appends s as a JSON string literal.
func appendString(b []byte, s string) []byte {
	simple := true
	for i := 0; i < len(s); i++ {
		if ch := s[i]; ch < 0x20 || ch == '"' || ch == '\\' || ch >= 0x7f {
			simple = false
			break
		}
	}
	if simple {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	enc, _ := json.Marshal(s) // a string always marshals
	return append(b, enc...)
}

// writeControl writes and flushes one control frame; errors surface on the
// next read.
func (c *Client) writeControl(kind int, data []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteControl(kind, data, time.Now().Add(time.Second)); err == nil {
		_ = c.bc.w.Flush()
	}
}

// Flush writes every buffered request to the socket.
func (c *Client) Flush() error {
	c.wmu.Lock()
	err := c.bc.w.Flush()
	c.wmu.Unlock()
	if err != nil {
		c.fail(fmt.Errorf("wire: write: %w", err))
		return fmt.Errorf("wire: flush: %w", err)
	}
	return nil
}

// bufConn buffers the writes of an established websocket so that several
// frames can leave in one system call. Until w is set (during the HTTP
// upgrade) writes go straight through. Writes and Flush happen under the
// owning Client's wmu.
type bufConn struct {
	net.Conn
	w *bufio.Writer
}

// Write implements net.Conn.
func (b *bufConn) Write(p []byte) (int, error) {
	if b.w == nil {
		return b.Conn.Write(p)
	}
	return b.w.Write(p)
}

// Done is closed when the connection is gone.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection closed (nil while open).
func (c *Client) Err() error { return c.calls.Err() }

// Pending reports how many requests await a reply.
func (c *Client) Pending() int { return c.calls.Len() }

// Close sends a close frame and closes the websocket; pending requests fail
// with ErrClosed. It must not be called from a Callback or OnEvent.
func (c *Client) Close() error {
	c.writeControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	c.fail(ErrClosed) // closes the socket unless the read loop already did
	<-c.done
	return nil
}

// fail marks the client closed and fails every pending request once.
func (c *Client) fail(err error) {
	pending, ok := c.calls.Close(err)
	if !ok {
		return
	}
	_ = c.ws.Close()
	for id, cb := range pending {
		cb(Reply{EventID: id, Err: err})
	}
}

func (c *Client) readLoop() {
	defer close(c.done)
	var buf bytes.Buffer
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			c.fail(fmt.Errorf("%w: %w", ErrClosed, err))
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			c.fail(fmt.Errorf("%w: read: %w", ErrClosed, err))
			return
		}
		if err := c.dispatch(buf.Bytes()); err != nil {
			c.fail(err)
			return
		}
	}
}

// frameMeta is the part of `_meta` the client routes on.
type frameMeta struct {
	Type    string          `json:"type"`
	Status  string          `json:"status"`
	EventID int64           `json:"eventId"`
	Channel string          `json:"channel"`
	Path    string          `json:"path"`
	Error   json.RawMessage `json:"error"`
}

type objectFrame struct {
	Meta     *frameMeta      `json:"_meta"`
	Data     json.RawMessage `json:"data"`
	EventKey string          `json:"eventKey"`
}

// dispatch routes one frame; a non-nil error is a protocol violation that
// ends the connection.
func (c *Client) dispatch(frame []byte) error {
	frame = bytes.TrimLeft(frame, " \t\r\n")
	if len(frame) == 0 {
		return fmt.Errorf("wire: empty frame")
	}
	switch frame[0] {
	case '"':
		var s string
		if err := json.Unmarshal(frame, &s); err != nil {
			return fmt.Errorf("wire: bad primus frame %q: %w", frame, err)
		}
		return c.primus(s)
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(frame, &items); err != nil || len(items) == 0 {
			return fmt.Errorf("wire: bad array reply %.200q", frame)
		}
		var meta frameMeta
		if err := json.Unmarshal(items[len(items)-1], &meta); err != nil {
			return fmt.Errorf("wire: bad array reply meta: %w", err)
		}
		c.calls.Complete(meta.EventID, Reply{EventID: meta.EventID, Items: items[:len(items)-1]})
		return nil
	case '{':
		var f objectFrame
		if err := json.Unmarshal(frame, &f); err != nil {
			return fmt.Errorf("wire: bad frame %.200q: %w", frame, err)
		}
		if f.Meta == nil {
			return fmt.Errorf("wire: frame without _meta: %.200q", frame)
		}
		switch f.Meta.Type {
		case "data":
			if c.onEvent != nil {
				c.onEvent(Event{Channel: f.Meta.Channel, Path: f.Meta.Path, Data: f.Data})
			}
			return nil
		case "system", "ack":
			if f.EventKey == "server-side-disconnect" {
				return fmt.Errorf("%w: server-side-disconnect %s", ErrClosed, f.Data)
			}
			return nil
		}
		rep := Reply{EventID: f.Meta.EventID, Data: f.Data}
		if f.Meta.Status == "error" {
			se := &ServerError{}
			if err := json.Unmarshal(f.Meta.Error, se); err != nil {
				se.Message = string(f.Meta.Error)
			}
			rep.Err = se
		}
		c.calls.Complete(f.Meta.EventID, rep)
		return nil
	}
	return fmt.Errorf("wire: unexpected frame %.200q", frame)
}

// primus handles a primus control string.
func (c *Client) primus(s string) error {
	const ping = "primus::ping::"
	switch {
	case len(s) > len(ping) && s[:len(ping)] == ping:
		pong, _ := json.Marshal("primus::pong::" + s[len(ping):])
		c.wmu.Lock()
		err := c.ws.WriteMessage(websocket.TextMessage, pong)
		if err == nil {
			err = c.bc.w.Flush()
		}
		c.wmu.Unlock()
		if err != nil {
			return fmt.Errorf("wire: write pong: %w", err)
		}
	case s == "primus::server::close":
		return fmt.Errorf("%w: primus::server::close", ErrClosed)
	}
	return nil
}
