package client

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// Defaults used when the corresponding Options field is zero.
const (
	DefaultURL            = "http://127.0.0.1:55000"
	DefaultCallTimeout    = 60 * time.Second
	DefaultPingTimeout    = 45 * time.Second
	DefaultConnectTimeout = 30 * time.Second
	DefaultReconnectMin   = 500 * time.Millisecond
	DefaultReconnectMax   = 180 * time.Second
	DefaultReconnectMult  = 2.0
	DefaultPublishTimeout = 60 * time.Second
	// DefaultVariableDepth is the depth sent for a trailing "/**" subscription
	// when OnOptions.Depth is zero.
	DefaultVariableDepth = 5
	// ProtocolVersion is the wire protocol this client speaks.
	ProtocolVersion = "happn_4"
	// ClientVersion is the happn-3 version this client reports in configure-session.
	ClientVersion = "13.12.1"
)

// Reconnect is the back-off used after an unexpected disconnect.
type Reconnect struct {
	// Min is the first delay (default 500ms).
	Min time.Duration
	// Factor multiplies the delay after every failed attempt (default 2).
	Factor float64
	// Max caps the delay (default 180s).
	Max time.Duration
	// Disabled turns reconnection off: the client stays disconnected.
	Disabled bool
}

// Options configure a Client.
type Options struct {
	// URL of the server: "http://host:port", "https://…", "ws://…" or "wss://…".
	// The path is always /primus. Default DefaultURL.
	URL string
	// Username and Password for a password login.
	Username string
	// Password for a password login.
	Password string
	// Token logs in with an existing session token.
	Token string
	// PublicKey and PrivateKey (RSA, PEM) log in with a signed nonce
	// (loginType "digest") when no password or token is given. PublicKey is
	// derived from PrivateKey when empty.
	PublicKey string
	// PrivateKey is the RSA private key in PEM (PKCS#1 or PKCS#8).
	PrivateKey string
	// AuthType selects a named auth provider on the server (optional).
	AuthType string
	// Info is sent with the login and echoed in the session.
	Info map[string]any
	// CallTimeout bounds every request (default 60s).
	CallTimeout time.Duration
	// PingTimeout: the connection is treated as dead when no server ping
	// arrives for this long (default 45s).
	PingTimeout time.Duration
	// ConnectTimeout bounds the websocket handshake (default 30s).
	ConnectTimeout time.Duration
	// Reconnect is the back-off after an unexpected disconnect.
	Reconnect Reconnect
	// Dial, when set, opens the connection instead of a websocket to URL:
	// for example an in-process connection to a server in the same program.
	Dial DialFunc
	// TLSConfig is used for https/wss URLs (nil: system defaults).
	TLSConfig *tls.Config
	// OnConnectionEvent receives connection events in order, from a
	// goroutine of the client. It may call client methods.
	OnConnectionEvent func(ConnectionEvent)
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}

func (o *Options) withDefaults() {
	if o.URL == "" {
		o.URL = DefaultURL
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = DefaultPingTimeout
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.Reconnect.Min <= 0 {
		o.Reconnect.Min = DefaultReconnectMin
	}
	if o.Reconnect.Max <= 0 {
		o.Reconnect.Max = DefaultReconnectMax
	}
	if o.Reconnect.Factor < 1 {
		o.Reconnect.Factor = DefaultReconnectMult
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// backoff returns the delay before reconnect attempt n (1-based).
func (r Reconnect) backoff(n int) time.Duration {
	d := float64(r.Min)
	for i := 1; i < n && d < float64(r.Max); i++ {
		d *= r.Factor
	}
	if d > float64(r.Max) {
		d = float64(r.Max)
	}
	return time.Duration(d)
}

// Consistency levels of a set (options.consistency).
const (
	// Deferred replies at once and sends a publication-ack when published.
	Deferred = 1
	// Transactional publishes before replying (the default).
	Transactional = 2
	// Acknowledged replies at once; every recipient acks, then a
	// publication-ack reports the count.
	Acknowledged = 3
)

// reqOptions accumulates the options of one request.
type reqOptions struct {
	wire           map[string]any
	onPublished    func(PublishResult, error)
	publishTimeout time.Duration
	later          func(flush func()) bool
}

// Option is an option of Set, Publish, Increment, Get, Count or Remove.
// Each function documents which calls it applies to.
type Option func(*reqOptions)

func (r *reqOptions) set(k string, v any) {
	if r.wire == nil {
		r.wire = map[string]any{}
	}
	r.wire[k] = v
}

// Merge makes a Set shallow-merge data into the stored document.
func Merge() Option { return func(r *reqOptions) { r.set("merge", true) } }

// NoPublish stores without notifying subscribers (Set).
func NoPublish() Option { return func(r *reqOptions) { r.set("noPublish", true) } }

// NoStore publishes without storing (Set).
func NoStore() Option { return func(r *reqOptions) { r.set("noStore", true) } }

// NoDataResponse asks for the minimal reply (Set).
func NoDataResponse() Option { return func(r *reqOptions) { r.set("noDataResponse", true) } }

// Meta adds custom keys to the publication _meta (Set, Publish).
func Meta(m map[string]any) Option { return func(r *reqOptions) { r.set("meta", m) } }

// TargetClients publishes only to the given session ids (Set, Publish).
func TargetClients(sessionIDs ...string) Option {
	return func(r *reqOptions) { r.set("targetClients", sessionIDs) }
}

// Consistency sets the publication consistency (Deferred, Transactional,
// Acknowledged) of a Set or Publish.
func Consistency(level int) Option { return func(r *reqOptions) { r.set("consistency", level) } }

// OnPublished receives the publication-ack of a Deferred or Acknowledged
// Set, or an error when none arrives within timeout (0 means 60s).
func OnPublished(fn func(PublishResult, error), timeout time.Duration) Option {
	return func(r *reqOptions) { r.onPublished, r.publishTimeout = fn, timeout }
}

// Criteria filters a Get, Count or Remove with a mongo-style query on the
// stored documents (e.g. {"data.q": 1}).
func Criteria(c any) Option { return func(r *reqOptions) { r.set("criteria", c) } }

func (r *reqOptions) inner(k string, v any) {
	in, _ := r.wire["options"].(map[string]any)
	if in == nil {
		in = map[string]any{}
		r.set("options", in)
	}
	in[k] = v
}

// Sort orders a Get, e.g. map[string]int{"path": 1}.
func Sort(s any) Option { return func(r *reqOptions) { r.inner("sort", s) } }

// Limit caps the number of items a Get returns.
func Limit(n int) Option { return func(r *reqOptions) { r.inner("limit", n) } }

// Skip skips the first n items of a Get.
func Skip(n int) Option { return func(r *reqOptions) { r.inner("skip", n) } }

// Fields projects the fields a Get returns.
func Fields(f any) Option { return func(r *reqOptions) { r.inner("fields", f) } }

// WriteLater lets SetAsync queue its request instead of writing it: defer
// is given a function that writes what is queued, to run at a moment of
// the caller's choosing soon after (the end of a batch of work), so that
// the requests of the batch leave in one write. When defer reports false
// the request is written at once. Requests written meanwhile by other
// calls go out after the queued ones, in order. The function passed to
// defer must be run: until it is (or another write goes out), the queued
// request waits. Other calls ignore this option.
func WriteLater(deferWrite func(flush func()) bool) Option {
	return func(r *reqOptions) { r.later = deferWrite }
}

// With sets any other request option by its wire name (for example
// "noCluster" or "onBehalfOf").
func With(name string, value any) Option { return func(r *reqOptions) { r.set(name, value) } }

func buildOptions(opts []Option) *reqOptions {
	r := &reqOptions{wire: map[string]any{}}
	for _, o := range opts {
		if o != nil {
			o(r)
		}
	}
	return r
}

// OnOptions configure a subscription.
type OnOptions struct {
	// EventType is "all" (default, also "*"), "set" or "remove".
	EventType string
	// Count removes the subscription after that many events (0 = unlimited).
	Count int
	// Depth is the variable depth of a trailing "/**" (default 5).
	Depth int
	// Meta is stored with the subscription on the server.
	Meta map[string]any
	// Merge asks for only the delta of merge-sets.
	Merge bool
	// InitialEmit calls the handler once per current value before On returns.
	InitialEmit bool
	// InitialCallback, when set, receives the current values before On returns.
	InitialCallback func([]Item)
	// OnBehalfOf subscribes as that user (the caller must be _ADMIN or in
	// the delegate group); events still arrive on this connection.
	OnBehalfOf string
	// Direct runs the handler on the goroutine that reads the connection,
	// as soon as the event is read, instead of on the client's event
	// goroutine: no hand-off, but the handler must return at once and
	// never wait for the server (nothing else is read meanwhile). Events
	// of a channel with a direct listener are all delivered that way.
	Direct bool
}
