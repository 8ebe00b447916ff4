package cluster

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/logging"
	"github.com/happner-go/happner/metrics"
)

// Observability of a member: its part of /ready, the cluster gauges
// computed at scrape time, the outcome of remote calls, and the summary
// of its membership configuration in the log.

// readyMissing is what /ready shows while the member is not ready.
type readyMissing struct {
	// Status is the member's registry status.
	Status string `json:"status"`
	// Dependencies are the services that have fewer members than needed.
	Dependencies []ServiceCount `json:"dependencies,omitempty"`
	// Peers describes the members not yet connected both ways.
	Peers string `json:"peers,omitempty"`
	// ClientPort is "closed" until the client port opens.
	ClientPort string `json:"clientPort,omitempty"`
}

// ready is the member's readiness check: stable, its dependencies met,
// its client port open.
func (m *Member) ready() (bool, any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.status == StatusStable && m.clientAddr != "" {
		return true, nil
	}
	rm := readyMissing{Status: m.status.String(), Dependencies: m.unmetDepsLocked(), Peers: m.unstableLocked()}
	if m.clientAddr == "" {
		rm.ClientPort = "closed"
	}
	return false, rm
}

// state reports the cluster gauges when metrics are scraped: the members
// of the registry by status (this one included) and the peers.
func (m *Member) state() metrics.ClusterState {
	m.mu.Lock()
	defer m.mu.Unlock()
	members := make(map[string]int, len(statusNames))
	for _, n := range statusNames {
		members[n] = 0
	}
	members[m.status.String()]++
	for _, r := range m.fresh {
		members[r.Status.String()]++
	}
	return metrics.ClusterState{Members: members, Peers: m.countAnnounced()}
}

// remoteStatus classifies the outcome of a call sent to another member.
func remoteStatus(err error) metrics.Status {
	if err == nil {
		return metrics.StatusOK
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return metrics.StatusTimeout
	}
	var he *happner.Error
	if errors.As(err, &he) {
		switch {
		case strings.HasPrefix(he.Message, "Timeout awaiting response"):
			return metrics.StatusTimeout
		case he.Name == "AccessDenied":
			return metrics.StatusDenied
		}
	}
	var se *client.ServerError
	if errors.As(err, &se) && se.Name == "AccessDenied" {
		return metrics.StatusDenied
	}
	return metrics.StatusError
}

// memberSummary is the membership configuration as a member logs it.
type memberSummary struct {
	Name             string         `json:"name"`
	MemberID         string         `json:"memberId"`
	URL              string         `json:"url"`
	DeploymentID     string         `json:"deploymentId"`
	ClusterName      string         `json:"clusterName"`
	ServiceName      string         `json:"serviceName"`
	Dependencies     map[string]int `json:"dependencies,omitempty"`
	ReplicationPaths []string       `json:"replicationPaths"`
	ClusterUsername  string         `json:"clusterUsername"`
	ClusterPassword  string         `json:"clusterPassword,omitempty"`
	ClusterKeyPair   bool           `json:"clusterKeyPair,omitempty"`
	ProxyPort        int            `json:"proxyPort"`
	DiscoverTimeout  string         `json:"discoverTimeout"`
	StabiliseTimeout string         `json:"stabiliseTimeout"`
	PulseInterval    string         `json:"pulseInterval"`
	RequestTimeout   string         `json:"requestTimeout"`
	ResponseTimeout  string         `json:"responseTimeout"`
	DeferListen      bool           `json:"dependenciesSatisfiedDeferListen,omitempty"`
}

// logConfig logs the membership configuration when the member joins.
func (m *Member) logConfig() {
	if !m.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	s := memberSummary{
		Name: m.self.Name, MemberID: m.self.MemberID, URL: m.self.URL,
		DeploymentID: m.mc.DeploymentID, ClusterName: m.mc.ClusterName, ServiceName: m.mc.ServiceName,
		Dependencies: m.mc.Dependencies, ReplicationPaths: m.paths,
		ClusterUsername: m.mc.ClusterUsername, ClusterPassword: m.mc.ClusterPassword,
		ClusterKeyPair: m.mc.ClusterPrivateKey != "", ProxyPort: m.cfg.Proxy.Port,
		DiscoverTimeout: m.mc.DiscoverTimeout.String(), StabiliseTimeout: m.mc.StabiliseTimeout.String(),
		PulseInterval:  m.mc.PulseInterval.String(),
		RequestTimeout: m.cfg.Cluster.RequestTimeout.String(), ResponseTimeout: m.cfg.Cluster.ResponseTimeout.String(),
		DeferListen: m.cfg.Cluster.DependenciesSatisfiedDeferListen,
	}
	m.log.Info("cluster: configuration", "config", logging.Summary(s))
}
