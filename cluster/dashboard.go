package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/happner-go/happner/dashboard"
	"github.com/happner-go/happner/happn/client"
)

// The member's part of the dashboard: its view of the cluster in its
// snapshots, and its peers' snapshots relayed to the pages connected to
// it (package dashboard).

// dashboardView is the member's view of its cluster for its snapshot.
func (m *Member) dashboardView() dashboard.Cluster {
	h, _, _ := m.healthSnapshot()
	c := dashboard.Cluster{
		Name: h.ClusterName, Service: h.ServiceName, Status: h.Status.String(),
		URL: h.URL, ClientAddr: h.ClientAddr, Stale: m.mc.StaleMemberThreshold,
		Members: make([]dashboard.MemberInfo, 0, len(h.Cluster)),
	}
	for _, v := range h.Cluster {
		c.Members = append(c.Members, dashboard.MemberInfo{
			Name: v.Name, Service: v.ServiceName, Status: v.Status.String(), URL: v.URL, Connected: v.Connected, Self: v.Self,
		})
	}
	m.mu.Lock()
	for _, sc := range m.unmetDepsLocked() {
		c.Missing = append(c.Missing, fmt.Sprintf("needs %d member(s) of service %s, has %d", sc.Need, sc.Service, sc.Have))
	}
	m.mu.Unlock()
	c.Missing = append(c.Missing, m.missingComponents()...)
	return c
}

// missingComponents describes the dependencies of this member's
// components that no member, this one included, implements now.
func (m *Member) missingComponents() []string {
	if m.mesh == nil || m.remote == nil {
		return nil
	}
	var out []string
	for name := range m.mesh.Describe().Components {
		deps, ok := m.mesh.Dependencies(name)
		if !ok {
			continue
		}
		for _, set := range []map[string]Dependency{deps.Components, deps.Brokered} {
			for _, d := range set {
				if !m.dependenciesMet(map[string]Dependency{d.Component: d}) {
					out = append(out, fmt.Sprintf("%s needs %s %s: no member has it", name, d.Component, displayRange(d.Version)))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// relayIdleIntervals is how many dashboard intervals a relay is kept
// after the last page watching it went (a page being reloaded).
const relayIdleIntervals = 3

// relay is this member's subscription to one peer's snapshots.
type relay struct {
	cl      *client.Client // the peer connection it was made on
	handle  int
	refused bool // the peer refused it (no permission): not asked again on this connection
	idle    int  // checks without a page watching
}

// relayDashboards relays peers' snapshots to the pages connected to this
// member, only while a page watches: dashboard.WatchChecks times per
// interval it subscribes to the snapshots of each peer a page here
// subscribes to (the peer publishes as soon as it sees the subscription),
// and drops the subscriptions no page has wanted for relayIdleIntervals. A
// cluster with no page open sends no snapshots between members (relaying
// every snapshot to every member costs each member in proportion to the
// cluster's size, every interval). Runs until the member stops.
func (m *Member) relayDashboards() {
	defer m.wg.Done()
	d := m.mesh.Dashboard()
	if d == nil {
		return
	}
	t := time.NewTicker(max(d.Interval()/dashboard.WatchChecks, time.Millisecond))
	defer t.Stop()
	relays := map[string]*relay{}
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		m.updateRelays(d, relays)
	}
}

// updateRelays subscribes to the snapshots of the peers a page watches
// and unsubscribes from those no page has watched for a while.
func (m *Member) updateRelays(d *dashboard.Publisher, relays map[string]*relay) {
	peers := map[string]*client.Client{}
	m.mu.Lock()
	for name, p := range m.peers {
		if p.client != nil && p.subscribedTo {
			peers[name] = p.client
		}
	}
	m.mu.Unlock()
	for name, r := range relays {
		if peers[name] != r.cl {
			delete(relays, name) // the peer left, or came back on a new connection
		}
	}
	for name, cl := range peers {
		watched := m.srv.Watched(dashboard.NodePath(name), false)
		r := relays[name]
		switch {
		case watched && r == nil:
			if r := m.startRelay(d, name, cl); r != nil {
				relays[name] = r
			}
		case r == nil || r.refused:
		case watched:
			r.idle = 0
		default:
			if r.idle++; r.idle >= relayIdleIntervals*dashboard.WatchChecks {
				delete(relays, name)
				ctx, cancel := context.WithTimeout(m.ctx, d.Interval())
				_ = cl.Off(ctx, r.handle)
				cancel()
			}
		}
	}
}

// startRelay subscribes on cl to peer name's snapshots, relayed through
// d. A refusal (a cluster user without the permission on the dashboard's
// paths) gives a refused relay, which costs the pages that member's
// figures, not the peer connection; any other failure (a timeout, a lost
// connection) gives nil, to be tried again at the next check.
func (m *Member) startRelay(d *dashboard.Publisher, name string, cl *client.Client) *relay {
	ctx, cancel := context.WithTimeout(m.ctx, d.Interval())
	defer cancel()
	relayTo := func(ev client.Event) { _ = d.Relay(m.ctx, name, ev.Data) }
	h, err := cl.On(ctx, dashboard.NodePath(name), client.OnOptions{EventType: "set"}, relayTo)
	var refusal *client.ServerError
	switch {
	case err == nil:
		return &relay{cl: cl, handle: h}
	case errors.As(err, &refusal):
		m.log.Warn("cluster: the dashboard will not show this peer's figures", "peer", name, "err", err)
		return &relay{cl: cl, refused: true}
	default:
		if m.ctx.Err() == nil {
			m.log.Debug("cluster: subscribing to a peer's dashboard snapshots failed", "peer", name, "err", err)
		}
		return nil
	}
}
