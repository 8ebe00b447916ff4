package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/configfile"
	"github.com/happner-go/happner/store"
)

// Defaults of the membership options (happner-cluster's database
// registry, as its README configures it).
const (
	DefaultClusterName             = "happn-cluster"
	DefaultServiceName             = "default-service"
	DefaultDiscoverTimeout         = 60 * time.Second
	DefaultPulseInterval           = time.Second
	DefaultMemberScanningInterval  = 3 * time.Second
	DefaultScanningErrorThreshold  = 3
	DefaultStaleMemberThreshold    = 5 * time.Second
	DefaultStabiliseTimeout        = 120 * time.Second
	DefaultSecurityReplicatePeriod = 3 * time.Second
	DefaultRequestTimeout          = 60 * time.Second
	DefaultResponseTimeout         = 120 * time.Second
	// DefaultClusterUsername is the user members log into each other as
	// when no clusterUsername is configured (happn's admin user).
	DefaultClusterUsername = "_ADMIN"
)

// Config configures one cluster member in the shape of a happner-cluster
// config: the mesh config (name, domain, happn, modules, components), the
// cluster section, the membership service config and the client port.
type Config struct {
	happner.Config

	// Cluster is happner-cluster's "cluster" section.
	Cluster Options
	// Membership is happn.services.membership.config.
	Membership MembershipConfig
	// Proxy is the client-facing port (happn.services.proxy.config): it
	// opens only once the member is stable and its components started.
	Proxy ProxyConfig
	// SharedStore is the store every member of the cluster shares. When
	// nil it is opened from Happn.Datastores (a "postgres" or "mongo"
	// provider for a real cluster); when those are empty too, a private in-memory store
	// is used, which makes a cluster of one. Several members in one
	// process share one store by passing the same value (the embedded
	// default). A store given here is not closed by Stop.
	SharedStore store.Store
}

// Options is happner-cluster's "cluster" config section.
type Options struct {
	// RequestTimeout and ResponseTimeout bound exchange calls to other
	// members (used by the remote-component layer).
	RequestTimeout  time.Duration
	ResponseTimeout time.Duration
	// DependenciesSatisfiedDeferListen keeps the client port closed until
	// brokered dependencies are satisfied (used by the broker layer).
	DependenciesSatisfiedDeferListen bool
}

// ProxyConfig is where the member accepts clients.
type ProxyConfig struct {
	// Host to listen on; default the happn host.
	Host string
	// Port to listen on; 0 picks a free port.
	Port int
}

// MembershipConfig is happn.services.membership.config: the membership
// registry kept in the shared store.
type MembershipConfig struct {
	// DeploymentID is the unique id of the deployment (required).
	DeploymentID string
	// ClusterName is the (sub-)cluster within the deployment; default
	// "happn-cluster".
	ClusterName string
	// ServiceName is the service this member provides; default
	// "default-service".
	ServiceName string
	// Host is the host other members reach this member at; default the
	// happn host. A wildcard (0.0.0.0, ::) is never advertised: it is
	// replaced by the happn host, else by AdvertiseHost, else by the
	// host's first non-loopback address (127.0.0.1 when there is none).
	Host string
	// AdvertiseHost is the address other members reach this member at when
	// it listens on a wildcard address (membership.config.advertiseHost).
	AdvertiseHost string
	// DiscoverTimeout bounds the wait for Dependencies; default 60s.
	DiscoverTimeout time.Duration
	// PulseInterval is how often the member's record is written; default 1s.
	PulseInterval time.Duration
	// MemberScanningInterval is how often the registry is read; default 3s.
	MemberScanningInterval time.Duration
	// MemberScanningErrorThreshold is how many pulse or scan errors in a
	// row are tolerated before the member reports FAILED_PULSE; default 3.
	MemberScanningErrorThreshold int
	// StaleMemberThreshold: a record not pulsed for this long is dropped;
	// default 5s, and never less than three pulse intervals.
	StaleMemberThreshold time.Duration
	// StabiliseTimeout bounds the wait for every peer to be connected both
	// ways after discovery; default 120s.
	StabiliseTimeout time.Duration
	// Dependencies are the members (per service name, other than this
	// one) that must be present before the member proceeds.
	Dependencies map[string]int
	// ReplicationPaths are the event paths replicated between members.
	// nil means the mesh's component events (/_events/<domain>/**) only,
	// as in happner-cluster; a list adds those paths to its own ("*" for
	// every publication); an empty non-nil list (or false in a file)
	// turns event replication off (security changes are still
	// replicated).
	ReplicationPaths []string
	// SecurityChangeSetReplicateInterval is how often security changes
	// are sent to the other members; default 3s.
	SecurityChangeSetReplicateInterval time.Duration
	// ClusterUsername and ClusterPassword are the credentials members log
	// into each other with on secure clusters; default _ADMIN and the
	// happn admin password.
	ClusterUsername string
	ClusterPassword string
	// ClusterPrivateKey and ClusterPublicKey log in with a key pair instead.
	ClusterPrivateKey string
	ClusterPublicKey  string
}

// withDefaults returns c with the defaults applied.
func (c MembershipConfig) withDefaults() MembershipConfig {
	if c.ClusterName == "" {
		c.ClusterName = DefaultClusterName
	}
	if c.ServiceName == "" {
		c.ServiceName = DefaultServiceName
	}
	if c.DiscoverTimeout <= 0 {
		c.DiscoverTimeout = DefaultDiscoverTimeout
	}
	if c.PulseInterval <= 0 {
		c.PulseInterval = DefaultPulseInterval
	}
	if c.MemberScanningInterval <= 0 {
		c.MemberScanningInterval = DefaultMemberScanningInterval
	}
	if c.MemberScanningErrorThreshold <= 0 {
		c.MemberScanningErrorThreshold = DefaultScanningErrorThreshold
	}
	if c.StaleMemberThreshold <= 0 {
		c.StaleMemberThreshold = DefaultStaleMemberThreshold
	}
	if c.StaleMemberThreshold < 3*c.PulseInterval {
		c.StaleMemberThreshold = 3 * c.PulseInterval
	}
	if c.StabiliseTimeout <= 0 {
		c.StabiliseTimeout = DefaultStabiliseTimeout
	}
	if c.SecurityChangeSetReplicateInterval <= 0 {
		c.SecurityChangeSetReplicateInterval = DefaultSecurityReplicatePeriod
	}
	if c.ClusterUsername == "" {
		c.ClusterUsername = DefaultClusterUsername
	}
	return c
}

// validate checks what the registry paths are built from.
func (c MembershipConfig) validate() error {
	if c.DeploymentID == "" {
		return errors.New("cluster: services.membership.config.deploymentId not set")
	}
	for k, v := range map[string]string{"deploymentId": c.DeploymentID, "clusterName": c.ClusterName, "serviceName": c.ServiceName} {
		if strings.ContainsAny(v, "/*") {
			return fmt.Errorf("cluster: services.membership.config.%s %q may not contain '/' or '*'", k, v)
		}
	}
	for svc, n := range c.Dependencies {
		if n < 0 {
			return fmt.Errorf("cluster: services.membership.config.dependencies.%s must not be negative", svc)
		}
	}
	return nil
}

// fileConfig is the cluster-specific part of a config file; its json tags
// are the keys a happner-cluster config has besides the mesh's.
type fileConfig struct {
	Cluster struct {
		RequestTimeout                   *int64 `json:"requestTimeout"`
		ResponseTimeout                  *int64 `json:"responseTimeout"`
		DependenciesSatisfiedDeferListen bool   `json:"dependenciesSatisfiedDeferListen"`
	} `json:"cluster"`
	Happn struct {
		Services struct {
			Membership struct {
				Config fileMembership `json:"config"`
			} `json:"membership"`
			Proxy struct {
				Config struct {
					Host string `json:"host"`
					Port *int   `json:"port"`
				} `json:"config"`
			} `json:"proxy"`
			Orchestrator configfile.Unsupported `json:"orchestrator" unsupported:"happn-cluster's orchestrator is not used: members find each other in the shared database (membership.config.deploymentId) and wait for membership.config.dependencies"`
		} `json:"services"`
	} `json:"happn"`
}

type fileMembership struct {
	DeploymentID                       string          `json:"deploymentId"`
	ClusterName                        string          `json:"clusterName"`
	ServiceName                        string          `json:"serviceName"`
	Host                               string          `json:"host"`
	AdvertiseHost                      string          `json:"advertiseHost"`
	DiscoverTimeoutMs                  int64           `json:"discoverTimeoutMs"`
	PulseIntervalMs                    int64           `json:"pulseIntervalMs"`
	MemberScanningIntervalMs           int64           `json:"memberScanningIntervalMs"`
	MemberScanningErrorThreshold       int             `json:"memberScanningErrorThreshold"`
	StaleMemberThresholdMs             int64           `json:"staleMemberThresholdMs"`
	StabiliseTimeoutMs                 int64           `json:"stabiliseTimeoutMs"`
	Dependencies                       map[string]int  `json:"dependencies"`
	ReplicationPaths                   json.RawMessage `json:"replicationPaths"`
	SecurityChangeSetReplicateInterval int64           `json:"securityChangeSetReplicateInterval"`
	SecurityChangesetReplicateInterval int64           `json:"securityChangesetReplicateInterval"`
	ClusterUsername                    string          `json:"clusterUsername"`
	ClusterPassword                    string          `json:"clusterPassword"`
	ClusterPrivateKey                  string          `json:"clusterPrivateKey"`
	ClusterPublicKey                   string          `json:"clusterPublicKey"`

	swimKeys `unsupported:"happn-cluster's SWIM (UDP) membership is not used: members find each other in the shared database"`
}

// swimKeys are the keys of happn-cluster's SWIM membership.
type swimKeys struct {
	Seed             configfile.Unsupported `json:"seed"`
	SeedWait         configfile.Unsupported `json:"seedWait"`
	RandomWait       configfile.Unsupported `json:"randomWait"`
	IsSeed           configfile.Unsupported `json:"isSeed"`
	JoinType         configfile.Unsupported `json:"joinType"`
	Hosts            configfile.Unsupported `json:"hosts"`
	JoinTimeout      configfile.Unsupported `json:"joinTimeout"`
	Port             configfile.Unsupported `json:"port"`
	PingInterval     configfile.Unsupported `json:"pingInterval"`
	PingTimeout      configfile.Unsupported `json:"pingTimeout"`
	PingReqTimeout   configfile.Unsupported `json:"pingReqTimeout"`
	PingReqGroupSize configfile.Unsupported `json:"pingReqGroupSize"`
	UDP              configfile.Unsupported `json:"udp"`
	Dissemination    configfile.Unsupported `json:"disseminationFactor"`
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

// ParseConfig reads a member config in the seed README's shape from JSON,
// or YAML when format is "yaml"/"yml" or the data does not start with '{'.
// The happn port defaults to 0 (any free port), as in the seed README.
// Keys it does not use are logged as warnings on slog's default logger;
// read the file with [configfile] and [DecodeConfig] to handle them
// yourself.
func ParseConfig(data []byte, format string) (Config, error) {
	return configfile.ParseWith(data, format, DecodeConfig)
}

// LoadConfigFile reads a JSON or YAML member config file (by extension),
// with ${NAME} references replaced from the environment.
func LoadConfigFile(path string) (Config, error) {
	return configfile.LoadWith(path, DecodeConfig)
}

// DecodeConfig reads a member config in the seed README's shape from
// section s of a config file (normally the whole file): the mesh config
// with [happner.DecodeConfig], then the cluster section, the membership
// and the proxy. The happn port defaults to 0 (any free port).
func DecodeConfig(s configfile.Section) (Config, error) {
	mc, err := happner.DecodeConfig(s)
	if err != nil {
		return Config{}, fmt.Errorf("cluster: %w", err)
	}
	var fc fileConfig
	if err := s.Decode(&fc); err != nil {
		return Config{}, fmt.Errorf("cluster: reading config: %w", err)
	}
	if !s.Child("happn").Has("port") {
		mc.Happn.Port = 0
	}
	// keys a mesh reads that a member sets itself
	hs := s.Child("happn")
	const ownStore = "a member keeps its data in the shared datastores (happn.services.data.config.datastores)"
	hs.Child("filename").Unused(ownStore)
	hs.Child("services").Child("data").Child("config").Child("filename").Unused(ownStore)
	hs.Child("services").Child("data").Child("config").Child("dbfile").Unused(ownStore)
	s.Child("listenFirst").Unused("a member listens on its internal port first and opens its client port once stable")
	s.Child("deferListen").Unused("a member opens its client port once stable (see cluster.dependenciesSatisfiedDeferListen)")
	cfg := Config{Config: mc}
	if fc.Cluster.RequestTimeout != nil {
		cfg.Cluster.RequestTimeout = ms(*fc.Cluster.RequestTimeout)
	}
	if fc.Cluster.ResponseTimeout != nil {
		cfg.Cluster.ResponseTimeout = ms(*fc.Cluster.ResponseTimeout)
	}
	cfg.Cluster.DependenciesSatisfiedDeferListen = fc.Cluster.DependenciesSatisfiedDeferListen
	p := fc.Happn.Services.Proxy.Config
	cfg.Proxy.Host = p.Host
	if p.Port != nil {
		cfg.Proxy.Port = *p.Port
	}
	f := fc.Happn.Services.Membership.Config
	m := MembershipConfig{
		DeploymentID: f.DeploymentID, ClusterName: f.ClusterName, ServiceName: f.ServiceName, Host: f.Host,
		AdvertiseHost:   f.AdvertiseHost,
		DiscoverTimeout: ms(f.DiscoverTimeoutMs), PulseInterval: ms(f.PulseIntervalMs),
		MemberScanningInterval: ms(f.MemberScanningIntervalMs), MemberScanningErrorThreshold: f.MemberScanningErrorThreshold,
		StaleMemberThreshold: ms(f.StaleMemberThresholdMs), StabiliseTimeout: ms(f.StabiliseTimeoutMs),
		Dependencies:                       f.Dependencies,
		SecurityChangeSetReplicateInterval: ms(f.SecurityChangeSetReplicateInterval),
		ClusterUsername:                    f.ClusterUsername, ClusterPassword: f.ClusterPassword,
		ClusterPrivateKey: f.ClusterPrivateKey, ClusterPublicKey: f.ClusterPublicKey,
	}
	if m.SecurityChangeSetReplicateInterval == 0 {
		m.SecurityChangeSetReplicateInterval = ms(f.SecurityChangesetReplicateInterval)
	}
	paths, err := parseReplicationPaths(f.ReplicationPaths)
	if err != nil {
		return Config{}, err
	}
	m.ReplicationPaths = paths
	cfg.Membership = m
	return cfg, nil
}

// parseReplicationPaths reads replicationPaths: absent/null = nil (all),
// false = [] (none), a string or an array of strings.
func parseReplicationPaths(raw json.RawMessage) ([]string, error) {
	s := strings.TrimSpace(string(raw))
	switch s {
	case "", "null":
		return nil, nil
	case "false":
		return []string{}, nil
	case "true":
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New("cluster: services.membership.config.replicationPaths must be an array of paths or false")
	}
	if list == nil {
		list = []string{}
	}
	return list, nil
}
