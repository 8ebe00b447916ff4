// Package client is a Go client for happn servers (happn-3 and happner-go),
// speaking the happn_4 wire protocol over the /primus websocket exactly as
// the npm happn-3 client does: configure-session → describe → login, data
// requests (set, get, count, remove, on, off), publications routed by
// channel, the primus heartbeat, acknowledged publications, and automatic
// reconnection with re-login and re-subscription.
//
// A Client is safe for concurrent use. One goroutine reads the socket,
// writes are serialized, and subscription handlers and connection events
// run on their own goroutines (in order), so handlers may call the client.
//
// When a secure server announces a change of the security directory
// (security-data-changed), the client makes its subscriptions again: the
// server has dropped those the user lost the right to, and a refused one
// stays registered, dormant, until a later change gives the right back.
// Subscribing and unsubscribing wait while that refresh (or the
// re-subscription after a reconnect) runs, so that a subscription made
// meanwhile exists once on the server.
package client

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/happner-go/happner/internal/sockio"
)

type connStatus int

const (
	statusConnecting connStatus = iota
	statusActive
	statusDisconnected
)

// conn is one connection (a websocket, or an in-process transport).
type conn struct {
	t       Transport
	writeMu sync.Mutex
	// writes lets concurrent requests share one write.
	writes writeQueue
	done   chan struct{} // closed when the reader has exited
	// serverClose is set after "primus::server::close" or a
	// server-side-disconnect: the server does not want a reconnect.
	serverClose atomic.Bool
}

type pending struct {
	conn *conn
	ch   chan result
	// done, when set, receives the result instead of ch (a request whose
	// caller does not wait; see SetAsync).
	done func(*response, error)
}

// finish hands the request its result.
func (p *pending) finish(r result) {
	if p.done != nil {
		p.done(r.resp, r.err)
		return
	}
	p.ch <- r
}

type result struct {
	resp *response
	err  error
}

type ackHandler struct {
	fn    func(PublishResult, error)
	timer *time.Timer
}

// Client is a connection to a happn server. Create it with New.
type Client struct {
	// refreshing counts security changes waiting for a subscription
	// refresh (see refreshSubscriptions).
	refreshing atomic.Int32
	// subOps orders subscription changes against re-subscription: On, Off
	// and OffAll hold it shared for their round trip, a refresh after a
	// security change and the re-attachment after a reconnect hold it
	// exclusively, so that a subscription being made while the client
	// re-subscribes is made once, not twice.
	subOps sync.RWMutex

	opts       Options
	log        *slog.Logger
	socketURL  string
	privateKey *rsa.PrivateKey
	publicKey  string
	tlsConfig  *tls.Config

	eventID atomic.Int64

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	events     *serialQueue // publications, initial emits, publication-acks
	connEvents *serialQueue // ConnectionEvent callbacks

	supervisorDone chan struct{}

	mu          sync.Mutex
	conn        *conn
	status      connStatus
	closed      bool
	endErr      error
	session     *Session
	serverInfo  ServerInfo
	pending     map[int64]*pending
	ackHandlers map[string]*ackHandler
	subs        subState
}

// New connects to the server, runs configure-session, describe and login,
// and returns a ready client. ctx bounds the connection and the handshake
// only; the client lives until Close.
func New(ctx context.Context, opts Options) (*Client, error) {
	opts.withDefaults()
	su, err := socketURL(opts.URL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		opts:           opts,
		log:            opts.Logger,
		socketURL:      su,
		tlsConfig:      opts.TLSConfig,
		pending:        map[int64]*pending{},
		ackHandlers:    map[string]*ackHandler{},
		subs:           newSubState(),
		supervisorDone: make(chan struct{}),
	}
	if opts.PrivateKey != "" {
		if c.privateKey, err = parsePrivateKey(opts.PrivateKey); err != nil {
			return nil, err
		}
		c.publicKey = opts.PublicKey
		if c.publicKey == "" {
			c.publicKey = publicKeyPEM(c.privateKey)
		}
	} else if opts.PublicKey != "" {
		return nil, errors.New("happn client: PublicKey given without PrivateKey")
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.events = newSerialQueue()
	c.connEvents = newSerialQueue()

	cn, err := c.connect(ctx)
	if err != nil {
		c.cancel()
		c.events.close()
		c.connEvents.close()
		return nil, err
	}
	go c.supervise(cn)
	return c, nil
}

// socketURL turns the configured URL into ws[s]://host/primus?…&_primuscb=….
func socketURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("happn client: bad URL %q: %w", raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("happn client: bad URL %q: scheme must be http, https, ws or wss", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("happn client: bad URL %q: no host", raw)
	}
	u.Path = "/primus"
	u.RawPath = ""
	u.Fragment = ""
	return u.String(), nil
}

// dial opens a new websocket with a fresh cache-buster.
func (c *Client) dial(ctx context.Context) (*conn, error) {
	if c.opts.Dial != nil {
		t, err := c.opts.Dial(ctx)
		if err != nil {
			return nil, fmt.Errorf("happn client: connect: %w", err)
		}
		return &conn{t: t, done: make(chan struct{})}, nil
	}
	u, err := url.Parse(c.socketURL)
	if err != nil {
		return nil, fmt.Errorf("happn client: %w", err)
	}
	q := u.Query()
	q.Set("_primuscb", strconv.FormatInt(time.Now().UnixNano(), 36))
	u.RawQuery = q.Encode()
	var hc *holdConn
	d := websocket.Dialer{HandshakeTimeout: c.opts.ConnectTimeout, TLSClientConfig: c.tlsConfig,
		// the socket is read and written with raw system calls, which do
		// not wake the runtime's monitor thread on every frame
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var nd net.Dialer
			conn, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			hc = &holdConn{Conn: sockio.Wrap(conn)}
			return hc, nil
		}}
	ws, resp, err := d.DialContext(ctx, u.String(), nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("happn client: connect %s: %w", c.socketURL, err)
	}
	return &conn{t: &wsTransport{ws: ws, hc: hc, pingTimeout: c.opts.PingTimeout, callTimeout: c.opts.CallTimeout}, done: make(chan struct{})}, nil
}

// connect dials, logs in and makes the new connection the current one.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	cn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = cn.t.Close()
		return nil, ErrClosed
	}
	c.conn = cn
	c.status = statusConnecting
	c.mu.Unlock()
	go c.readLoop(cn)

	sess, info, err := c.handshake(ctx, cn)
	if err != nil {
		c.dropConn(cn)
		return nil, err
	}
	c.mu.Lock()
	if c.closed || c.conn != cn {
		c.mu.Unlock()
		c.dropConn(cn)
		if c.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, ErrConnectionLost
	}
	c.session = sess
	c.serverInfo = info
	c.status = statusActive
	c.mu.Unlock()
	return cn, nil
}

// dropConn closes a connection and waits for its reader to finish.
func (c *Client) dropConn(cn *conn) {
	_ = cn.t.Close()
	<-cn.done
}

// supervise waits for the current connection to end and reconnects unless
// the server or the user ended it on purpose.
func (c *Client) supervise(cn *conn) {
	defer close(c.supervisorDone)
	for {
		select {
		case <-cn.done:
		case <-c.ctx.Done():
			return
		}
		if c.ctx.Err() != nil {
			return // Close reports the end itself.
		}
		c.emit(ConnectionEvent{Type: EventConnectionEnded, SessionID: c.Session().ID})
		if cn.serverClose.Load() || c.opts.Reconnect.Disabled {
			c.mu.Lock()
			c.status = statusDisconnected
			if c.endErr == nil {
				if cn.serverClose.Load() {
					c.endErr = ErrSessionEnded
				} else {
					c.endErr = ErrConnectionLost
				}
			}
			c.mu.Unlock()
			return
		}
		next := c.reconnectLoop()
		if next == nil {
			return
		}
		cn = next
	}
}

// reconnectLoop retries with back-off until a connection is logged in and
// re-subscribed, or the client is closed (then it returns nil).
func (c *Client) reconnectLoop() *conn {
	for attempt := 1; ; attempt++ {
		delay := c.opts.Reconnect.backoff(attempt)
		c.emit(ConnectionEvent{Type: EventReconnectScheduled, Attempt: attempt, Delay: delay, SessionID: c.Session().ID})
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return nil
		}
		cn, err := c.reconnectOnce()
		if err == nil {
			c.emit(ConnectionEvent{Type: EventReconnectSuccessful, Attempt: attempt, SessionID: c.Session().ID})
			return cn
		}
		if c.ctx.Err() != nil {
			return nil
		}
		c.log.Warn("happn client: reconnect failed", "attempt", attempt, "err", err)
		c.emit(ConnectionEvent{Type: EventReconnectError, Attempt: attempt, Err: err})
	}
}

func (c *Client) reconnectOnce() (*conn, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.ConnectTimeout+2*c.opts.CallTimeout)
	defer cancel()
	cn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.reattach(ctx, cn); err != nil {
		c.dropConn(cn)
		return nil, err
	}
	return cn, nil
}

// readLoop is the only reader of cn.
func (c *Client) readLoop(cn *conn) {
	defer c.connLost(cn)
	cn.t.Alive()
	for {
		b, err := cn.t.ReadFrame()
		if err != nil {
			if c.ctx.Err() == nil && !cn.serverClose.Load() {
				c.log.Debug("happn client: socket read ended", "err", err)
			}
			return
		}
		in, err := decodeFrame(b)
		if err != nil {
			c.log.Warn("happn client: ignoring bad frame", "err", err)
			continue
		}
		switch in.kind {
		case frameControl:
			c.handleControl(cn, in.control)
		case frameResponse:
			c.deliver(in.resp)
		case framePublication:
			resp := in.resp
			if c.directChannel(resp) {
				c.dispatch(resp, true)
			} else {
				c.events.push(func() { c.dispatch(resp, false) })
			}
		case frameSystem:
			c.handleSystem(cn, in.resp)
		case frameAck:
			c.handleAck(in.resp)
		}
	}
}

func (c *Client) handleControl(cn *conn, s string) {
	const prefix = "primus::"
	if !strings.HasPrefix(s, prefix) {
		return
	}
	kind, value, _ := strings.Cut(s[len(prefix):], "::")
	switch kind {
	case "ping":
		cn.t.Alive()
		if err := c.write(cn, "primus::pong::"+value); err != nil {
			c.log.Debug("happn client: pong failed", "err", err)
		}
	case "server":
		if value == "close" {
			cn.serverClose.Store(true)
		}
	}
}

func (c *Client) handleSystem(cn *conn, r *response) {
	var key string
	_ = json.Unmarshal(r.top["eventKey"], &key)
	data := r.data
	if key == "server-side-disconnect" {
		cn.serverClose.Store(true)
		var d struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(data, &d)
		c.mu.Lock()
		c.endErr = fmt.Errorf("%w: %s", ErrSessionEnded, d.Reason)
		c.mu.Unlock()
		c.emit(ConnectionEvent{Type: EventSessionEnded, Reason: d.Reason, Data: data, SessionID: c.Session().ID, Key: key})
		return
	}
	if key == "security-data-changed" {
		go c.refreshSubscriptions()
	}
	c.emit(ConnectionEvent{Type: EventSystemMessage, Key: key, Data: data, SessionID: c.Session().ID})
}

// connLost runs when the reader of cn exits.
func (c *Client) connLost(cn *conn) {
	_ = cn.t.Close()
	c.mu.Lock()
	var lost []*pending
	for id, p := range c.pending {
		if p.conn == cn {
			delete(c.pending, id)
			lost = append(lost, p)
		}
	}
	if c.conn == cn {
		c.conn = nil
		if c.status == statusActive {
			c.status = statusConnecting
		}
	}
	c.mu.Unlock()
	for _, p := range lost {
		p.finish(result{err: ErrConnectionLost})
	}
	close(cn.done)
}

// deliver hands a reply to the request waiting for its eventId.
func (c *Client) deliver(r *response) {
	c.mu.Lock()
	p := c.pending[r.meta.EventID]
	delete(c.pending, r.meta.EventID)
	c.mu.Unlock()
	if p == nil {
		c.log.Debug("happn client: reply for unknown request", "eventId", r.meta.EventID)
		return
	}
	if r.meta.Status == "error" {
		p.finish(result{err: parseServerError(r.meta.Error)})
		return
	}
	p.finish(result{resp: r})
}

func (c *Client) emit(ev ConnectionEvent) {
	if fn := c.opts.OnConnectionEvent; fn != nil {
		c.connEvents.push(func() { fn(ev) })
	}
}

// write sends one JSON value as a text frame.
func (c *Client) write(cn *conn, v any) error { return c.writeOrQueue(cn, v, nil) }

// writeOrQueue writes v, or queues it for a flush that later schedules
// (see WriteLater) when later is set.
func (c *Client) writeOrQueue(cn *conn, v any, later func(flush func()) bool) error {
	var b []byte
	var err error
	if req, ok := v.(*request); ok {
		b, err = req.encode()
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return fmt.Errorf("happn client: encode message: %w", err)
	}
	if later != nil {
		cn.writes.sendLater(&cn.writeMu, cn.t, b, later)
		return nil
	}
	if err := cn.writes.send(&cn.writeMu, cn.t, b); err != nil {
		return fmt.Errorf("happn client: write: %w: %w", ErrConnectionLost, err)
	}
	return nil
}

func (c *Client) nextEventID() int64 { return c.eventID.Add(1) }

// roundTrip sends req on cn and waits for its reply.
func (c *Client) roundTrip(ctx context.Context, cn *conn, req *request) (*response, error) {
	if req.EventID == 0 {
		req.EventID = c.nextEventID()
	}
	p := &pending{conn: cn, ch: make(chan result, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.pending[req.EventID] = p
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, req.EventID)
		c.mu.Unlock()
	}
	if err := c.write(cn, req); err != nil {
		forget()
		return nil, err
	}
	timer := time.NewTimer(c.opts.CallTimeout)
	defer timer.Stop()
	select {
	case r := <-p.ch:
		if r.err != nil {
			return nil, opError(req.Action, req.Path, r.err)
		}
		return r.resp, nil
	case <-timer.C:
		forget()
		return nil, opError(req.Action, req.Path, ErrTimeout)
	case <-ctx.Done():
		forget()
		return nil, opError(req.Action, req.Path, ctx.Err())
	}
}

// sendAsync writes req on cn and returns; done (when not nil) later gets
// the reply or the error that ended the wait.
func (c *Client) sendAsync(cn *conn, req *request, done func(*response, error), later func(flush func()) bool) error {
	if req.EventID == 0 {
		req.EventID = c.nextEventID()
	}
	if done == nil {
		done = func(*response, error) {}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.pending[req.EventID] = &pending{conn: cn, done: done}
	c.mu.Unlock()
	if err := c.writeOrQueue(cn, req, later); err != nil {
		c.mu.Lock()
		delete(c.pending, req.EventID)
		c.mu.Unlock()
		return err
	}
	return nil
}

// opError wraps err with the action and path of the request that failed.
func opError(action, path string, err error) error {
	if path == "" {
		return fmt.Errorf("%s: %w", action, err)
	}
	return fmt.Errorf("%s %s: %w", action, path, err)
}

// activeConn returns the logged-in connection, or why there is none.
func (c *Client) activeConn() (*conn, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return nil, "", ErrClosed
	case c.status == statusActive && c.conn != nil:
		return c.conn, c.session.ID, nil
	case c.endErr != nil && c.status == statusDisconnected:
		return nil, "", c.endErr
	}
	return nil, "", ErrNotConnected
}

// dataRequest sends a data request (set, get, …) on the active connection.
// wire nil means no options at all (ack).
func (c *Client) dataRequest(ctx context.Context, action, path string, data any, wire map[string]any) (*response, error) {
	cn, sid, err := c.activeConn()
	if err != nil {
		return nil, opError(action, path, err)
	}
	return c.dataRequestOn(ctx, cn, sid, &request{Action: action, Path: path, Data: data}, wire)
}

func (c *Client) dataRequestOn(ctx context.Context, cn *conn, sid string, req *request, wire map[string]any) (*response, error) {
	req.SessionID = sid
	if wire != nil {
		if _, ok := wire["timeout"]; !ok {
			wire["timeout"] = c.opts.CallTimeout.Milliseconds()
		}
		req.Options = wire
	}
	return c.roundTrip(ctx, cn, req)
}

// Session returns the current session (zero value before login).
func (c *Client) Session() Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session == nil {
		return Session{}
	}
	return *c.session
}

// ServerInfo returns what the server reported in describe.
func (c *Client) ServerInfo() ServerInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.serverInfo
}

// Connected reports whether the client currently has a logged-in connection.
func (c *Client) Connected() bool {
	_, _, err := c.activeConn()
	return err == nil
}

// Close closes the connection without revoking the token. Reconnection
// stops, pending requests fail with ErrClosed and a connection-ended event
// is emitted. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.status = statusDisconnected
	cn := c.conn
	sid := ""
	if c.session != nil {
		sid = c.session.ID
	}
	var closed []*pending
	for id, p := range c.pending {
		delete(c.pending, id)
		closed = append(closed, p)
	}
	for id, h := range c.ackHandlers {
		h.timer.Stop()
		delete(c.ackHandlers, id)
	}
	c.mu.Unlock()
	for _, p := range closed {
		p.finish(result{err: ErrClosed})
	}
	c.cancel()
	if cn != nil {
		cn.writeMu.Lock()
		cn.t.CloseGracefully()
		cn.writeMu.Unlock()
		c.dropConn(cn)
	}
	<-c.supervisorDone
	c.emit(ConnectionEvent{Type: EventConnectionEnded, SessionID: sid})
	c.events.close()
	c.connEvents.close()
	return nil
}

// RevokeToken asks the server to revoke the session token. The server then
// ends every session holding it (reason "token-revoked"), this one included.
func (c *Client) RevokeToken(ctx context.Context) error {
	cn, sid, err := c.activeConn()
	if err != nil {
		return opError("revoke-token", "", err)
	}
	_, err = c.roundTrip(ctx, cn, &request{Action: "revoke-token", SessionID: sid})
	return err
}

// Logout revokes the session token (on a secure server) and closes the client.
func (c *Client) Logout(ctx context.Context) error {
	var err error
	if c.Session().Token != "" {
		err = c.RevokeToken(ctx)
	}
	cerr := c.Close()
	if err != nil {
		return err
	}
	return cerr
}
