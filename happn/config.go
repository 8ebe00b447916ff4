package happn

import (
	"log/slog"
	"os"
	"time"

	"github.com/happner-go/happner/gctune"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/logging"
	"github.com/happner-go/happner/metrics"
	"github.com/happner-go/happner/store"
)

// Config configures a happn [Server]. The zero value is a usable insecure
// server on an ephemeral loopback-or-any port with an in-memory store;
// [Config.withDefaults] fills in happn-3's defaults.
type Config struct {
	// Name is the server's name (describe, session.happn.name). When empty
	// the name stored at /_SYSTEM/_NETWORK/_SETTINGS/NAME is used, or a new
	// one is generated and stored.
	Name string `json:"name" yaml:"name"`
	// Host is the address to listen on; default "0.0.0.0".
	Host string `json:"host" yaml:"host"`
	// Port to listen on; 0 picks a free port (happn's default is 55000,
	// which the command line applies).
	Port int `json:"port" yaml:"port"`
	// Secure turns on users, permissions and credential logins.
	Secure bool `json:"secure" yaml:"secure"`
	// AdminPassword is the password of _ADMIN when it is first created
	// (happn: services.security.config.adminUser.password, default "happn").
	AdminPassword string `json:"adminPassword" yaml:"adminPassword"`
	// Security configures users, tokens, profiles and lockout
	// (happn: services.security.config).
	Security security.Config `json:"security" yaml:"security"`
	// Store is the data store. When nil, one is built from Datastores.
	Store store.Store `json:"-" yaml:"-"`
	// Datastores routes paths to datastores, in happn's
	// services.data.config.datastores shape; empty means one in-memory
	// store (or a bolt file when Filename is set).
	Datastores []store.DatastoreConfig `json:"datastores" yaml:"datastores"`
	// Filename, when set and Datastores is empty, keeps data in this
	// embedded database file so it survives restarts.
	Filename string `json:"filename" yaml:"filename"`
	// PingInterval is how often sessions on protocol happn_4 are sent
	// "primus::ping::<ms>"; default 30s. A session that missed a pong is
	// given one more interval, then closed without "primus::server::close",
	// so its client reconnects.
	PingInterval time.Duration `json:"pingInterval" yaml:"pingInterval"`
	// LegacyPingTimeout closes sessions of older protocols that have sent
	// no "primus::ping::" for this long; default 125s.
	LegacyPingTimeout time.Duration `json:"legacyPingTimeout" yaml:"legacyPingTimeout"`
	// MaxLength is the largest frame accepted, in bytes; default 10 MiB.
	// A larger frame closes that socket (code 1009).
	MaxLength int64 `json:"maxLength" yaml:"maxLength"`
	// MaxPending is how many bytes may wait to be written to one client
	// before it is disconnected as a slow consumer; default 64 MiB.
	MaxPending int `json:"maxPending" yaml:"maxPending"`
	// MaxUnfinished bounds the bytes all connections together may hold in
	// messages that have not arrived completely; default 64 MiB. Each
	// connection holds up to 64 KiB of its own without counting against
	// it. A connection whose message would exceed it is closed (code 1013)
	// and the others keep being served. Negative means no bound.
	MaxUnfinished int64 `json:"maxUnfinished" yaml:"maxUnfinished"`
	// FrameTimeout is how long a client may pause in the middle of a
	// websocket message before it is disconnected (code 1008); default
	// 30s. The wait for a message's first byte has no deadline (the
	// heartbeat ends dead connections). Negative means no deadline.
	FrameTimeout time.Duration `json:"frameTimeout" yaml:"frameTimeout"`
	// HandshakeTimeout bounds reading an HTTP request's headers, the
	// websocket upgrade's included, and a TLS handshake; default 10s.
	HandshakeTimeout time.Duration `json:"handshakeTimeout" yaml:"handshakeTimeout"`
	// AllowedOrigins are the browser origins ("https://app.example.com",
	// or "*") allowed to open a websocket that carries the session cookie.
	// By default a websocket handshake with the cookie must come from a
	// page of the same host name; one without the cookie (any Node
	// client, or a page of another host whose browser holds no cookie of
	// this node) may come from anywhere. A browser sends the cookie with
	// every handshake to this node's host, so pages of other hosts whose
	// users also use pages served by this node must be listed here.
	AllowedOrigins []string `json:"allowedOrigins" yaml:"allowedOrigins"`
	// TrustedProxies are the reverse proxies (IP addresses, or CIDR
	// ranges such as "10.0.0.0/8") whose X-Forwarded-For header is
	// believed. A client's address (for sourceIPWhitelist policies, the
	// session's address, logs) is the socket peer's address; when that
	// peer is a trusted proxy it is the rightmost X-Forwarded-For entry
	// that is not itself a trusted proxy. Empty (the default): the header
	// is ignored. An entry that is neither an address nor a range makes
	// [New] fail.
	TrustedProxies []string `json:"trustedProxies" yaml:"trustedProxies"`
	// AcknowledgeTimeout bounds the wait for acks of an ACKNOWLEDGED
	// publication; default 60s.
	AcknowledgeTimeout time.Duration `json:"acknowledgeTimeout" yaml:"acknowledgeTimeout"`
	// AllowNestedPermissions lets a get or subscription on a path ending in
	// "/**" succeed when the user has permissions somewhere below it: it
	// then returns and delivers only what is permitted (happn's
	// allowNestedPermissions).
	AllowNestedPermissions bool `json:"allowNestedPermissions" yaml:"allowNestedPermissions"`
	// HTTPExclusions are URL paths (globs; "/" only matches "/") that need
	// no token on a secure server
	// (happn: services.connect.config.middleware.security.exclusions).
	HTTPExclusions []string `json:"httpExclusions" yaml:"httpExclusions"`
	// Transport selects http (default) or https.
	Transport TransportConfig `json:"transport" yaml:"transport"`
	// Clock returns the current time for record timestamps; default
	// time.Now. Tests use it to make times deterministic.
	Clock func() time.Time `json:"-" yaml:"-"`
	// Logger receives the server's logs; default slog.Default(), or a
	// logger built from Log when that is set.
	Logger *slog.Logger `json:"-" yaml:"-"`
	// Log holds the "log" settings of a config file: format (text or
	// json) and level (debug, info, warn or error). Command lines build
	// their logger from it with [logging.New]; when Logger is nil and Log
	// is set, New builds one that writes to standard error.
	Log logging.Options `json:"log" yaml:"log"`
	// Metrics collects the node's Prometheus metrics, served at /metrics.
	// When nil and MetricsOptions does not turn metrics off, New creates
	// one; the layers above (the mesh, the cluster) create it themselves
	// and pass it down, so that a node has one registry for all its
	// layers.
	Metrics *metrics.Metrics `json:"-" yaml:"-"`
	// MetricsOptions are the "metrics" settings of a config file:
	// enabled (default true; false makes a node with no metrics, which
	// costs nothing) and addr, a separate listener that serves /metrics,
	// /health and /ready without authentication.
	MetricsOptions metrics.Options `json:"metrics" yaml:"metrics"`
	// GC holds the "gc" settings of a config file (percent, memoryLimit):
	// the garbage collector's settings of the process. The server does not
	// use them; the command line applies them with [gctune.Apply] (a Go
	// program of your own may too).
	GC gctune.Options `json:"gc" yaml:"gc"`
}

// TransportConfig configures the listener (happn services.transport.config).
type TransportConfig struct {
	// Mode is "http" (default) or "https".
	Mode string `json:"mode" yaml:"mode"`
	// Cert and Key are an inline PEM certificate and key.
	Cert string `json:"cert" yaml:"cert"`
	Key  string `json:"key" yaml:"key"`
	// CertPath and KeyPath name PEM files, used when Cert/Key are empty.
	CertPath string `json:"certPath" yaml:"certPath"`
	KeyPath  string `json:"keyPath" yaml:"keyPath"`
}

func (c Config) withDefaults() Config {
	if c.Host == "" {
		c.Host = "0.0.0.0"
	}
	if c.AdminPassword == "" {
		c.AdminPassword = "happn"
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.LegacyPingTimeout <= 0 {
		c.LegacyPingTimeout = 125 * time.Second
	}
	if c.MaxLength <= 0 {
		c.MaxLength = 10 << 20
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 64 << 20
	}
	if c.MaxUnfinished == 0 {
		c.MaxUnfinished = 64 << 20
	}
	if c.FrameTimeout == 0 {
		c.FrameTimeout = 30 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.AcknowledgeTimeout <= 0 {
		c.AcknowledgeTimeout = 60 * time.Second
	}
	if c.Transport.Mode == "" {
		c.Transport.Mode = "http"
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
		if c.Log != (logging.Options{}) {
			if l, err := logging.New(os.Stderr, c.Log); err == nil {
				c.Logger = l
			}
		}
	}
	return c
}
