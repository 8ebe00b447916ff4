// Package meshclient is a Go MeshClient: it logs in to a happner mesh (Go
// or npm happner-2) over the happn protocol, builds its API from the mesh
// description, calls component methods over the exchange and subscribes to
// component events, exactly as the npm happner-2 MeshClient does on the
// wire.
package meshclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn/client"
)

// Options configure a Client.
type Options struct {
	// URL of the mesh, "http://host:port" (default http://127.0.0.1:55000).
	URL string
	// Username, Password or Token log in to a secure mesh.
	Username string
	// Password is the user's password.
	Password string
	// Token logs in with an existing session token.
	Token string
	// Dial, when set, opens the connection instead of a websocket.
	Dial client.DialFunc
	// Reconnect is the back-off after an unexpected disconnect.
	Reconnect client.Reconnect
	// SchemaRetry is how often the description is fetched again while the
	// mesh is initializing (default 1s).
	SchemaRetry time.Duration
	// OnComponents is told about components created and destroyed on the
	// mesh after login (and, at login, about every component as created).
	OnComponents func(created, destroyed []*happner.ComponentDescription)
	// OnConnectionEvent receives the happn connection events.
	OnConnectionEvent func(client.ConnectionEvent)
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

// ErrConnectionEnded fails calls in flight when the connection ends.
var ErrConnectionEnded = happner.NewError("Error", "connection-ended")

// Client is a logged-in MeshClient.
type Client struct {
	opts Options
	hc   *client.Client
	log  *slog.Logger

	mu        sync.Mutex
	desc      *happner.Description
	config    happner.MeshConfigRecord
	sessionID string
	username  string
	seq       uint64
	pending   map[string]*pendingCall
	masks     map[string]bool
	closed    bool
}

type pendingCall struct {
	done  chan reply
	timer *time.Timer
}

type reply struct {
	results []json.RawMessage
	err     error
}

// Login connects and logs in, waits for the mesh description and returns
// a ready client.
func Login(ctx context.Context, opts Options) (*Client, error) {
	if opts.SchemaRetry <= 0 {
		opts.SchemaRetry = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{opts: opts, log: opts.Logger, pending: map[string]*pendingCall{}, masks: map[string]bool{}}
	hc, err := client.New(ctx, client.Options{
		URL: opts.URL, Username: opts.Username, Password: opts.Password, Token: opts.Token,
		Dial: opts.Dial, Reconnect: opts.Reconnect, Logger: opts.Logger,
		OnConnectionEvent: c.onConnectionEvent,
	})
	if err != nil {
		return nil, fmt.Errorf("meshclient: login: %w", err)
	}
	c.hc = hc
	s := hc.Session()
	c.sessionID = s.ID
	if s.User != nil {
		c.username = s.User.Username
	}
	if err := c.loadSchema(ctx); err != nil {
		_ = hc.Close()
		return nil, err
	}
	if _, err := hc.On(ctx, happner.DescriptionPath, client.OnOptions{}, c.onDescription); err != nil {
		_ = hc.Close()
		return nil, fmt.Errorf("meshclient: subscribing to the description: %w", err)
	}
	if fn := opts.OnComponents; fn != nil {
		fn(componentList(c.Description()), nil)
	}
	return c, nil
}

// loadSchema reads /mesh/schema/* until both records exist and the mesh
// is no longer initializing.
func (c *Client) loadSchema(ctx context.Context) error {
	for {
		res, err := c.hc.Get(ctx, "/mesh/schema/*")
		if err != nil {
			return fmt.Errorf("meshclient: reading the mesh schema: %w", err)
		}
		var desc *happner.Description
		var cfg *happner.MeshConfigRecord
		for _, it := range res.Items {
			switch it.Meta.Path {
			case happner.DescriptionPath:
				desc = new(happner.Description)
				if err := it.Decode(desc); err != nil {
					return err
				}
			case happner.ConfigPath:
				cfg = new(happner.MeshConfigRecord)
				if err := it.Decode(cfg); err != nil {
					return err
				}
			}
		}
		if desc != nil && cfg != nil && desc.Name != "" && cfg.Name != "" && !desc.Initializing {
			c.mu.Lock()
			c.desc, c.config = desc, *cfg
			c.mu.Unlock()
			return nil
		}
		c.log.Warn("meshclient: awaiting schema")
		select {
		case <-ctx.Done():
			return fmt.Errorf("meshclient: awaiting schema: %w", ctx.Err())
		case <-time.After(c.opts.SchemaRetry):
		}
	}
}

// Description returns the mesh description the client's API is built
// from (kept current as the mesh publishes new ones). Treat it as
// read-only.
func (c *Client) Description() *happner.Description {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.desc
}

// Domain returns the mesh's domain (the description's name).
func (c *Client) Domain() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.desc.Name
}

// Secure reports whether the mesh is secure.
func (c *Client) Secure() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.config.Happn.Secure
}

// Token returns the session token of the login (secure meshes; "" on
// insecure ones), usable for REST calls and token logins.
func (c *Client) Token() string { return c.hc.Session().Token }

// Username returns the logged-in user ("" on insecure meshes).
func (c *Client) Username() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.username
}

// Data returns the underlying happn client (raw data access).
func (c *Client) Data() *client.Client { return c.hc }

// Close disconnects; calls in flight fail with ErrConnectionEnded.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.failAll(ErrConnectionEnded)
	return c.hc.Close()
}

func componentList(d *happner.Description) []*happner.ComponentDescription {
	if d == nil {
		return nil
	}
	names := make([]string, 0, len(d.Components))
	for n := range d.Components {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*happner.ComponentDescription, 0, len(names))
	for _, n := range names {
		out = append(out, d.Components[n])
	}
	return out
}

// onDescription follows the mesh's published descriptions and reports
// created and destroyed components.
func (c *Client) onDescription(ev client.Event) {
	var d happner.Description
	if err := ev.Decode(&d); err != nil || d.Name == "" || d.Initializing {
		return
	}
	c.mu.Lock()
	prev := c.desc
	c.desc = &d
	c.mu.Unlock()
	var created, destroyed []*happner.ComponentDescription
	for _, cd := range componentList(&d) {
		if prev == nil || prev.Components[cd.Name] == nil {
			created = append(created, cd)
		}
	}
	for _, cd := range componentList(prev) {
		if d.Components[cd.Name] == nil {
			destroyed = append(destroyed, cd)
		}
	}
	if fn := c.opts.OnComponents; fn != nil && (len(created) > 0 || len(destroyed) > 0) {
		fn(created, destroyed)
	}
}

// onConnectionEvent fails calls in flight when the connection ends and
// takes the new session id after a reconnect.
func (c *Client) onConnectionEvent(ev client.ConnectionEvent) {
	switch ev.Type {
	case client.EventConnectionEnded:
		c.failAll(ErrConnectionEnded)
	case client.EventReconnectSuccessful:
		s := c.hc.Session()
		c.mu.Lock()
		old := c.sessionID
		c.sessionID = s.ID
		var stale []string
		for mask := range c.masks {
			if strings.Contains(mask, old) {
				stale = append(stale, mask)
				delete(c.masks, mask)
			}
		}
		c.mu.Unlock()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, mask := range stale {
				_ = c.hc.OffPath(ctx, mask)
			}
		}()
	}
	if fn := c.opts.OnConnectionEvent; fn != nil {
		fn(ev)
	}
}

func (c *Client) failAll(err error) {
	c.mu.Lock()
	p := c.pending
	c.pending = map[string]*pendingCall{}
	c.mu.Unlock()
	for _, pc := range p {
		pc.timer.Stop()
		select {
		case pc.done <- reply{err: err}:
		default:
		}
	}
}

// Call calls component.method on the mesh with args and stores the
// results, in order, into the pointers in out. A method's error arrives as
// a *happner.Error with its name, message and fields.
func (c *Client) Call(ctx context.Context, component, method string, args []any, out ...any) error {
	return c.Do(ctx, happner.CallOptions{Component: component, Method: method, Arguments: args}, out...)
}

// Results calls component.method and returns the raw JSON results.
func (c *Client) Results(ctx context.Context, component, method string, args ...any) ([]json.RawMessage, error) {
	return c.call(ctx, happner.CallOptions{Component: component, Method: method, Arguments: args})
}

// Do performs a declarative call (exchange.$call); As asks the mesh to run
// the call as that user (onBehalfOf, secure meshes).
func (c *Client) Do(ctx context.Context, o happner.CallOptions, out ...any) error {
	results, err := c.call(ctx, o)
	if err != nil {
		return err
	}
	for i, dst := range out {
		if i >= len(results) || dst == nil {
			break
		}
		if err := json.Unmarshal(results[i], dst); err != nil {
			return fmt.Errorf("meshclient: decode result %d of %s.%s: %w", i, o.Component, o.Method, err)
		}
	}
	return nil
}

func (c *Client) call(ctx context.Context, o happner.CallOptions) ([]json.RawMessage, error) {
	c.mu.Lock()
	d := c.desc
	secure := c.config.Happn.Secure
	sid := c.sessionID
	username := c.username
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrConnectionEnded
	}
	if o.Mesh != "" && o.Mesh != d.Name {
		return nil, happner.NewError("Error", fmt.Sprintf("invalid endpoint options: [%s] mesh does not exist on the api", o.Mesh))
	}
	cd := d.Components[o.Component]
	if cd == nil {
		return nil, happner.NewError("Error", fmt.Sprintf("invalid endpoint options: [%s] component does not exist on the api", o.Component))
	}
	md := methodOf(cd, o.Method)
	if md == nil {
		return nil, happner.NewError("Error", fmt.Sprintf("invalid endpoint options: [%s.%s] method does not exist on the api", o.Component, o.Method))
	}
	for i, p := range md.Parameters {
		if p.Required && (i >= len(o.Arguments) || o.Arguments[i] == nil) {
			return nil, happner.NewError("MeshError", "schema validation failed").With("data", []map[string]any{{"parameterDefinition": p, "message": "Required parameter not found"}})
		}
	}
	args := o.Arguments
	if n := countArgs(md); len(args) > n {
		args = args[:n] // MeshClients send only described parameters
	}
	if args == nil {
		args = []any{}
	}
	c.mu.Lock()
	seq := c.seq
	c.seq++
	c.mu.Unlock()
	var address, mask string
	if secure {
		address = "/_exchange/responses/" + d.Name + "/" + o.Component + "/" + o.Method + "/" + sid + "/" + strconv.FormatUint(seq, 10)
		mask = "/_exchange/responses/" + d.Name + "/" + o.Component + "/" + o.Method + "/" + sid + "/*"
	} else {
		address = "/_exchange/responses/" + sid + "/" + d.Name + "/" + o.Component + "/" + o.Method + "/" + strconv.FormatUint(seq, 10)
		mask = "/_exchange/responses/" + sid + "/*/*/*/*"
	}
	if err := c.ensureMask(ctx, mask); err != nil {
		return nil, wireError(err)
	}
	timeout := time.Duration(d.SetOptions.Timeout) * time.Millisecond
	if timeout <= 0 {
		timeout = happner.DefaultTimeout
	}
	pc := &pendingCall{done: make(chan reply, 1)}
	c.mu.Lock()
	c.pending[address] = pc
	pc.timer = time.AfterFunc(timeout, func() { c.resolve(address, reply{err: happner.NewError("Error", "Request timed out")}) })
	c.mu.Unlock()
	origin := map[string]any{"id": sid}
	if secure && username != "" {
		origin["username"] = username
	}
	msg := map[string]any{"callbackAddress": address, "args": args, "origin": origin}
	opts := []client.Option{client.With("timeout", d.SetOptions.Timeout), client.Consistency(client.Transactional)}
	if o.As != "" {
		opts = append(opts, client.With("onBehalfOf", o.As))
	}
	if err := c.hc.Publish(ctx, "/_exchange/requests/"+d.Name+"/"+o.Component+"/"+o.Method, msg, opts...); err != nil {
		c.resolve(address, reply{err: wireError(err)})
	}
	select {
	case r := <-pc.done:
		return r.results, r.err
	case <-ctx.Done():
		c.resolve(address, reply{err: ctx.Err()})
		r := <-pc.done
		return r.results, r.err
	}
}

// wireError turns a happn error reply (a denied subscription or request)
// into the *happner.Error the npm MeshClient would give (name
// "AccessDenied", message "unauthorized", its code); other errors are
// returned as they are.
func wireError(err error) error {
	var se *client.ServerError
	if !errors.As(err, &se) {
		return err
	}
	e := happner.NewError(se.Name, se.Message)
	for k, v := range se.Fields {
		if k != "name" && k != "message" && k != "stack" {
			e.With(k, v)
		}
	}
	return e
}

// resolve completes the pending call at address, once.
func (c *Client) resolve(address string, r reply) {
	c.mu.Lock()
	pc := c.pending[address]
	delete(c.pending, address)
	c.mu.Unlock()
	if pc == nil {
		return
	}
	pc.timer.Stop()
	pc.done <- r
}

func methodOf(cd *happner.ComponentDescription, name string) *happner.MethodDescription {
	if md := cd.Methods[name]; md != nil {
		return md
	}
	for _, md := range cd.Methods {
		if md.Alias == name {
			return md
		}
	}
	return nil
}

// countArgs is the number of non-callback parameters of a method.
func countArgs(md *happner.MethodDescription) int {
	n := 0
	for _, p := range md.Parameters {
		if p.Type != "callback" && p.Name != "callback" {
			n++
		}
	}
	return n
}

// ensureMask subscribes to a response mask once per session.
func (c *Client) ensureMask(ctx context.Context, mask string) error {
	c.mu.Lock()
	if c.masks[mask] {
		c.mu.Unlock()
		return nil
	}
	c.masks[mask] = true
	c.mu.Unlock()
	if _, err := c.hc.On(ctx, mask, client.OnOptions{EventType: "set"}, c.onResponse); err != nil {
		c.mu.Lock()
		delete(c.masks, mask)
		c.mu.Unlock()
		return err
	}
	return nil
}

// onResponse matches a reply to its call by path.
func (c *Client) onResponse(ev client.Event) {
	var p struct {
		Status string            `json:"status"`
		Args   []json.RawMessage `json:"args"`
	}
	if err := ev.Decode(&p); err != nil {
		c.resolve(ev.Meta.Path, reply{err: fmt.Errorf("meshclient: bad reply: %w", err)})
		return
	}
	if p.Status == "ok" {
		var results []json.RawMessage
		if len(p.Args) > 1 {
			results = p.Args[1:]
		}
		c.resolve(ev.Meta.Path, reply{results: results})
		return
	}
	e := &happner.Error{Name: "Error"}
	if len(p.Args) > 0 {
		_ = json.Unmarshal(p.Args[0], e)
	}
	c.resolve(ev.Meta.Path, reply{err: e})
}

// On subscribes handler to component's events whose key matches key
// ('*' matches any key at any depth) and returns a handle for Off.
func (c *Client) On(ctx context.Context, component, key string, handler func(happner.Event)) (int, error) {
	return c.OnWith(ctx, component, key, client.OnOptions{}, handler)
}

// Once is On for a single event.
func (c *Client) Once(ctx context.Context, component, key string, handler func(happner.Event)) (int, error) {
	return c.OnWith(ctx, component, key, client.OnOptions{Count: 1}, handler)
}

// OnWith is On with happn subscription options.
func (c *Client) OnWith(ctx context.Context, component, key string, opts client.OnOptions, handler func(happner.Event)) (int, error) {
	if component == "" {
		return 0, errors.New("meshclient: on: empty component name")
	}
	opts.EventType = "set"
	id, err := c.hc.On(ctx, c.eventPath(component, key), opts, handler)
	if err != nil {
		return 0, fmt.Errorf("meshclient: on %s/%s: %w", component, key, err)
	}
	return id, nil
}

// Off removes the subscription with handle id.
func (c *Client) Off(ctx context.Context, id int) error { return c.hc.Off(ctx, id) }

// OffPath removes every subscription to component's key.
func (c *Client) OffPath(ctx context.Context, component, key string) error {
	return c.hc.OffPath(ctx, c.eventPath(component, key))
}

func (c *Client) eventPath(component, key string) string {
	if key == "*" || key == "" {
		key = "**"
	}
	return "/_events/" + c.Domain() + "/" + component + "/" + strings.TrimPrefix(key, "/")
}
