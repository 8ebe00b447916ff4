package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
)

// Peer is another member this member is connected to in both directions.
type Peer struct {
	// Name is the member's name.
	Name string
	// MemberID is the member's id for this run.
	MemberID string
	// ServiceName is the service it provides.
	ServiceName string
	// URL is its internal url.
	URL string
	// Client is this member's connection to it (logged in with the cluster
	// credentials), for the layers above: remote calls and descriptions.
	Client *client.Client
}

// PeerEventType says whether a peer arrived or left.
type PeerEventType string

// Peer event types.
const (
	PeerAdded   PeerEventType = "peer/add"
	PeerRemoved PeerEventType = "peer/remove"
)

// PeerEvent reports a peer arriving (connected both ways and subscribed) or
// leaving.
type PeerEvent struct {
	Type PeerEventType
	Peer Peer
}

// peer is the state of the connection with one other member.
type peer struct {
	rec           Record
	client        *client.Client
	connecting    bool
	connectedTo   bool
	subscribedTo  bool
	connectedFrom int // inbound sessions from it
	announced     bool
	err           error
	seen          dedupe
	cancel        context.CancelFunc
}

func (p *peer) full() bool {
	return p.connectedTo && p.subscribedTo && p.connectedFrom > 0 && !p.connecting
}

func (p *peer) public() Peer {
	return Peer{Name: p.rec.Name, MemberID: p.rec.MemberID, ServiceName: p.rec.ServiceName, URL: p.rec.URL, Client: p.client}
}

func (p *peer) close() {
	if p.cancel != nil {
		p.cancel()
	}
	if p.client != nil {
		_ = p.client.Close()
	}
}

func (p *peer) missing() string {
	var w []string
	if p.connecting || !p.connectedTo {
		w = append(w, "connectedTo")
	}
	if !p.subscribedTo {
		w = append(w, "subscribedTo")
	}
	if p.connectedFrom == 0 {
		w = append(w, "connectedFrom")
	}
	if p.err != nil {
		w = append(w, "error: "+p.err.Error())
	}
	return p.rec.Name + " awaiting " + strings.Join(w, ",")
}

// OnPeer calls fn for every peer arriving or leaving, in order, until the
// returned function is called. fn runs with no lock held but must not block
// for long.
func (m *Member) OnPeer(fn func(PeerEvent)) (cancel func()) {
	m.mu.Lock()
	id := m.nextLis
	m.nextLis++
	m.listeners[id] = fn
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.listeners, id)
		m.mu.Unlock()
	}
}

// Peers returns the members connected both ways, by name.
func (m *Member) Peers() []Peer {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Peer
	for _, p := range m.peers {
		if p.announced {
			out = append(out, p.public())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// stableLocked: every known member is a full peer; m.mu held.
func (m *Member) stableLocked() bool {
	for _, p := range m.peers {
		if !p.full() {
			return false
		}
	}
	return true
}

func (m *Member) unstableLocked() string {
	var w []string
	for _, p := range m.peers {
		if !p.full() {
			w = append(w, p.missing())
		}
	}
	sort.Strings(w)
	return strings.Join(w, "; ")
}

// reconcile brings the peers in line with the registry: new members are
// connected to, restarted ones reconnected, and members gone from the
// registry dropped unless a live connection says they are still there.
func (m *Member) reconcile(fresh []Record) {
	var toClose []*peer
	var toConnect []*peer
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.fresh = fresh
	if !m.depsMet {
		// peers are created in this same critical section, so nobody
		// sees the dependencies met without the peers to wait for
		count := map[string]int{}
		for _, r := range fresh {
			count[r.ServiceName]++
		}
		met := true
		for svc, want := range m.mc.Dependencies {
			if count[svc] < want {
				met = false
			}
		}
		m.depsMet = met
	}
	now := time.Now()
	byName := map[string]Record{}
	for _, r := range fresh {
		if t, ok := m.departed[r.MemberID]; ok {
			if now.Sub(t) < m.mc.StaleMemberThreshold {
				continue
			}
			delete(m.departed, r.MemberID)
		}
		byName[r.Name] = r
	}
	for name, p := range m.peers {
		r, ok := byName[name]
		switch {
		case ok && r.MemberID != p.rec.MemberID && p.rec.MemberID != "":
			// restarted under the same name
			toClose = append(toClose, m.dropLocked(name))
		case !ok && !p.connectedTo && !p.connecting:
			toClose = append(toClose, m.dropLocked(name))
		case ok:
			p.rec = r
		}
	}
	for name, r := range byName {
		if _, ok := m.peers[name]; ok {
			continue
		}
		p := &peer{rec: r}
		for _, n := range m.inbound {
			if n == name {
				p.connectedFrom++
			}
		}
		m.peers[name] = p
		toConnect = append(toConnect, p)
	}
	events := m.stateUpdateLocked()
	m.mu.Unlock()
	m.emit(events)
	for _, p := range toClose {
		if p != nil {
			p.close()
		}
	}
	for _, p := range toConnect {
		m.connect(p)
	}
}

// dropLocked removes a peer and returns it for closing; m.mu held. A peer
// removed event is queued by the next stateUpdateLocked.
func (m *Member) dropLocked(name string) *peer {
	p := m.peers[name]
	delete(m.peers, name)
	if p != nil && p.announced {
		p.announced = false
		m.pendingRemoved = append(m.pendingRemoved, p.public())
	}
	return p
}

// stateUpdateLocked announces peers that became full or stopped being so,
// adjusts the status after startup and wakes waiters; m.mu held. The
// returned events are emitted by the caller without the lock.
func (m *Member) stateUpdateLocked() []PeerEvent {
	var events []PeerEvent
	for _, pp := range m.pendingRemoved {
		events = append(events, PeerEvent{Type: PeerRemoved, Peer: pp})
	}
	m.pendingRemoved = nil
	names := make([]string, 0, len(m.peers))
	for n := range m.peers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := m.peers[n]
		if f := p.full(); f && !p.announced {
			p.announced = true
			events = append(events, PeerEvent{Type: PeerAdded, Peer: p.public()})
			m.log.Info("cluster: peer arrived", "peer", n, "clusterSize", m.countAnnounced()+1)
		} else if !f && p.announced {
			p.announced = false
			events = append(events, PeerEvent{Type: PeerRemoved, Peer: p.public()})
			m.log.Info("cluster: peer departed", "peer", n, "clusterSize", m.countAnnounced()+1)
		}
	}
	if m.status == StatusStable || m.status == StatusUnstable {
		m.setStatusLocked(m.stateStatusLocked())
	}
	m.notifyLocked()
	return events
}

func (m *Member) countAnnounced() int {
	n := 0
	for _, p := range m.peers {
		if p.announced {
			n++
		}
	}
	return n
}

// emit calls the peer listeners, in order, under the emit lock only.
func (m *Member) emit(events []PeerEvent) {
	if len(events) == 0 {
		return
	}
	m.emitMu.Lock()
	defer m.emitMu.Unlock()
	m.mu.Lock()
	ids := make([]int, 0, len(m.listeners))
	for id := range m.listeners {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	fns := make([]func(PeerEvent), 0, len(ids))
	for _, id := range ids {
		fns = append(fns, m.listeners[id])
	}
	m.mu.Unlock()
	for _, ev := range events {
		for _, fn := range fns {
			fn(ev)
		}
	}
}

// update runs fn on the peer called name (if it is still the same peer)
// under the lock, then announces what changed.
func (m *Member) update(name string, p *peer, fn func(p *peer)) {
	m.mu.Lock()
	if m.peers[name] != p {
		m.mu.Unlock()
		return
	}
	fn(p)
	events := m.stateUpdateLocked()
	m.mu.Unlock()
	m.emit(events)
}

// connect logs into the peer and subscribes to the replication paths, in
// the background.
func (m *Member) connect(p *peer) {
	ctx, cancel := context.WithCancel(m.ctx)
	m.mu.Lock()
	name := p.rec.Name // p.rec is updated by scans under m.mu
	if m.stopped {
		m.mu.Unlock()
		cancel()
		return
	}
	p.connecting = true
	p.cancel = cancel
	rec := p.rec
	// added under the lock: Stop sets stopped under it before it waits
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		cl, err := m.dial(ctx, name, p, rec)
		if err != nil {
			m.connectFailed(name, p, rec, err)
			return
		}
		m.update(name, p, func(p *peer) { p.client = cl; p.connectedTo = true })
		if err := m.subscribePeer(ctx, name, p, cl); err != nil {
			m.log.Warn("cluster: subscribing on peer failed", "peer", name, "err", err)
			m.connectFailed(name, p, rec, err)
			_ = cl.Close()
			return
		}
		m.update(name, p, func(p *peer) { p.subscribedTo = true; p.connecting = false; p.err = nil })
	}()
}

// dial opens the client connection to a peer.
func (m *Member) dial(ctx context.Context, name string, p *peer, rec Record) (*client.Client, error) {
	opts := client.Options{
		URL: rec.URL,
		Info: map[string]any{
			"name": m.self.Name, "clusterName": m.mc.ClusterName, "memberId": m.self.MemberID, "url": m.self.URL,
			"deploymentId": m.mc.DeploymentID,
		},
		ConnectTimeout: 5 * time.Second,
		CallTimeout:    m.cfg.Cluster.RequestTimeout,
		Reconnect:      client.Reconnect{Min: 100 * time.Millisecond, Max: 2 * time.Second},
		Logger:         m.log,
		OnConnectionEvent: func(ev client.ConnectionEvent) {
			m.onPeerConnection(name, p, ev)
		},
	}
	if m.secure || m.mc.ClusterPrivateKey != "" {
		opts.Username = m.mc.ClusterUsername
		if m.mc.ClusterPrivateKey != "" {
			opts.PrivateKey, opts.PublicKey = m.mc.ClusterPrivateKey, m.mc.ClusterPublicKey
		} else {
			opts.Password = m.mc.ClusterPassword
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cl, err := client.New(dctx, opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: connecting to %s at %s: %w", name, rec.URL, err)
	}
	return cl, nil
}

// peerLeft drops a peer that announced it is leaving; its record is kept
// out of the peers for StaleMemberThreshold in case a scan still reads it.
func (m *Member) peerLeft(name, memberID string) {
	m.changePeers(func() *peer {
		if m.stopped {
			return nil
		}
		m.departed[memberID] = time.Now()
		if p := m.peers[name]; p != nil && p.rec.MemberID == memberID {
			m.log.Info("cluster: peer is leaving", "peer", name)
			return m.dropLocked(name)
		}
		return nil
	})
}

// changePeers runs change with m.mu held, then, without the lock, announces
// the state it leaves and closes the peer it dropped (nil: none).
func (m *Member) changePeers(change func() (dropped *peer)) {
	m.mu.Lock()
	dropped := change()
	events := m.stateUpdateLocked()
	m.mu.Unlock()
	m.emit(events)
	if dropped != nil {
		go dropped.close()
	}
}

// connectFailed handles a failed login or subscription: a refused
// connection means the member has left; other errors are retried at the
// next scan.
func (m *Member) connectFailed(name string, p *peer, rec Record, err error) {
	if m.ctx.Err() != nil {
		return
	}
	m.changePeers(func() *peer {
		if m.peers[name] != p {
			return nil
		}
		if refused(err) {
			m.log.Warn("cluster: FAILED connection to departed member", "peer", name, "url", rec.URL)
			m.departed[rec.MemberID] = time.Now()
		} else {
			m.log.Error("cluster: could not login to member", "peer", name, "err", err)
		}
		return m.dropLocked(name)
	})
}

// refused reports a connection refused (or timed out) by the peer's host.
func refused(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "ECONNREFUSED") ||
		strings.Contains(s, "connection timed out")
}

// onPeerConnection follows the outbound connection: a dropped connection
// makes the peer incomplete (and, when its record is gone too, removes it);
// a successful reconnect (with its subscriptions restored) completes it.
func (m *Member) onPeerConnection(name string, p *peer, ev client.ConnectionEvent) {
	switch ev.Type {
	case client.EventConnectionEnded, client.EventReconnectScheduled, client.EventSessionEnded:
		m.changePeers(func() *peer {
			if m.peers[name] != p || p.client == nil {
				return nil
			}
			p.connectedTo = false
			stillListed := false
			for _, r := range m.fresh {
				if r.Name == name && r.MemberID == p.rec.MemberID {
					stillListed = true
				}
			}
			if !stillListed || ev.Type == client.EventSessionEnded {
				return m.dropLocked(name)
			}
			return nil
		})
	case client.EventReconnectSuccessful:
		m.update(name, p, func(p *peer) { p.connectedTo = true })
	}
}

// peerInfo is the login info a member sends.
type peerInfo struct {
	Name         string `json:"name"`
	ClusterName  string `json:"clusterName"`
	MemberID     string `json:"memberId"`
	URL          string `json:"url"`
	DeploymentID string `json:"deploymentId"`
}

// onSession follows other members' connections into this member.
func (m *Member) onSession(ev happn.SessionEvent) {
	if !ev.Peer {
		return
	}
	switch ev.Type {
	case happn.SessionAuthentic:
		var info peerInfo
		if json.Unmarshal(ev.Info, &info) != nil || info.Name == "" || info.Name == m.self.Name {
			return
		}
		if info.ClusterName != m.mc.ClusterName || (info.DeploymentID != "" && info.DeploymentID != m.mc.DeploymentID) {
			m.log.Warn("cluster: ignoring connection from another cluster", "from", info.Name, "cluster", info.ClusterName)
			return
		}
		if m.secure && ev.Username != m.mc.ClusterUsername {
			m.log.Warn("cluster: ignoring connection from member with the wrong user", "from", info.Name, "user", ev.Username)
			return
		}
		var connect *peer
		m.mu.Lock()
		if m.stopped {
			m.mu.Unlock()
			return
		}
		// A member that is not in the last scan has joined since: it found
		// this member in the registry, so its own record is there. Scanning
		// now, rather than at the next tick, lets members that start
		// together find each other as soon as the last of them has pulsed.
		known := false
		for _, r := range m.fresh {
			known = known || r.MemberID == info.MemberID
		}
		if !known {
			select {
			case m.rescan <- struct{}{}:
			default: // a scan is already asked for
			}
		}
		m.inbound[ev.ID] = info.Name
		p := m.peers[info.Name]
		if p != nil && info.MemberID != "" && p.rec.MemberID != info.MemberID && !p.connectedTo {
			// a restarted member: forget the old connection
			old := m.dropLocked(info.Name)
			go old.close()
			p = nil
		}
		if p == nil && info.URL != "" {
			// connect back at once, without waiting for the next scan
			p = &peer{rec: Record{MemberID: info.MemberID, Name: info.Name, URL: info.URL}}
			for _, n := range m.inbound {
				if n == info.Name {
					p.connectedFrom++
				}
			}
			p.connectedFrom--
			m.peers[info.Name] = p
			connect = p
		}
		if p != nil {
			p.connectedFrom++
		}
		events := m.stateUpdateLocked()
		m.mu.Unlock()
		m.emit(events)
		if connect != nil {
			m.connect(connect)
		}
	case happn.SessionDisconnected:
		m.mu.Lock()
		name, ok := m.inbound[ev.ID]
		if !ok {
			m.mu.Unlock()
			return
		}
		delete(m.inbound, ev.ID)
		if p := m.peers[name]; p != nil && p.connectedFrom > 0 {
			p.connectedFrom--
		}
		events := m.stateUpdateLocked()
		m.mu.Unlock()
		m.emit(events)
	}
}
