package metrics

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// ServerState is what a happn server reports when metrics are scraped:
// gauges computed from its live state rather than updated per event.
type ServerState struct {
	// Connections are the open client connections: HTTP connections and
	// websockets.
	Connections int
	// WebsocketSessions and LocalSessions are the sessions by kind.
	WebsocketSessions int
	LocalSessions     int
	// PendingBytes are the bytes queued to be written, on all connections.
	PendingBytes int64
}

// ClusterState is what a cluster member reports when metrics are scraped.
type ClusterState struct {
	// Members counts the members of the registry this member sees,
	// itself included, by status name; every status should be present
	// (with 0) so that the series do not come and go.
	Members map[string]int
	// Peers is the number of members connected both ways.
	Peers int
}

// ReportServer makes fn's state part of every scrape; the states of
// several servers are added up. The returned function stops it.
func (m *Metrics) ReportServer(fn func() ServerState) (stop func()) {
	if m == nil {
		return func() {}
	}
	m.mu.Lock()
	id := m.nextSrv
	m.nextSrv++
	m.servers[id] = fn
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.servers, id)
		m.mu.Unlock()
	}
}

// ReportCluster makes fn's state part of every scrape (one member per
// node). The returned function stops it.
func (m *Metrics) ReportCluster(fn func() ClusterState) (stop func()) {
	if m == nil {
		return func() {}
	}
	m.mu.Lock()
	m.cluster = fn
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		m.cluster = nil
		m.mu.Unlock()
	}
}

var (
	connectionsDesc = prometheus.NewDesc("happner_connections",
		"Open client connections: HTTP connections and websockets.", nil, nil)
	sessionsDesc = prometheus.NewDesc("happner_sessions",
		"happn sessions by kind: ws (websocket clients) and local (in-process clients).", []string{"kind"}, nil)
	pendingDesc = prometheus.NewDesc("happner_pending_bytes",
		"Bytes queued to be written to clients, on all connections.", nil, nil)
	membersDesc = prometheus.NewDesc("happner_cluster_members",
		"Members of the cluster registry seen by this member, itself included, by status.", []string{"status"}, nil)
	peersDesc = prometheus.NewDesc("happner_cluster_peers",
		"Other members connected to this one in both directions.", nil, nil)
)

// stateCollector computes the gauges of the reported states at scrape
// time, so that nothing is counted per frame or per session.
type stateCollector struct{ m *Metrics }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{connectionsDesc, sessionsDesc, pendingDesc, membersDesc, peersDesc} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	servers := make([]func() ServerState, 0, len(c.m.servers))
	for _, fn := range c.m.servers {
		servers = append(servers, fn)
	}
	cluster := c.m.cluster
	c.m.mu.Unlock()

	var total ServerState
	for _, fn := range servers {
		s := fn()
		total.Connections += s.Connections
		total.WebsocketSessions += s.WebsocketSessions
		total.LocalSessions += s.LocalSessions
		total.PendingBytes += s.PendingBytes
	}
	ch <- prometheus.MustNewConstMetric(connectionsDesc, prometheus.GaugeValue, float64(total.Connections))
	ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(total.WebsocketSessions), "ws")
	ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(total.LocalSessions), "local")
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(total.PendingBytes))

	if cluster == nil {
		return
	}
	cs := cluster()
	statuses := make([]string, 0, len(cs.Members))
	for s := range cs.Members {
		statuses = append(statuses, s)
	}
	sort.Strings(statuses)
	for _, s := range statuses {
		ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(cs.Members[s]), s)
	}
	ch <- prometheus.MustNewConstMetric(peersDesc, prometheus.GaugeValue, float64(cs.Peers))
}
