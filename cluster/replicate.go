package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/metrics"
)

// ReplicatePath is the channel that carries the cluster's own messages
// (security change batches) between members; it is never stored.
const ReplicatePath = "/__REPLICATE"

// securityTopic is the topic of a security change batch.
const securityTopic = "/security/dataChanged"

// leavingTopic is a member's notice, sent on ReplicatePath as it stops,
// that it is leaving: its peers drop it at once instead of seeing its
// connection end, counting themselves UNSTABLE and trying to reconnect
// until their next scan finds its record gone. The payload is a
// leavingNotice.
const leavingTopic = "/cluster/leaving"

// leavingNotice is the payload of a leaving notice.
type leavingNotice struct {
	MemberID string `json:"memberId"`
}

// notReplicated are path prefixes whose publications never cross members:
// exchange traffic goes point to point, descriptions are per member, and
// the cluster's own channel is handled apart.
var notReplicated = []string{"/_exchange/", "/mesh/schema/", ReplicatePath, "/_SYSTEM/"}

// reservedMeta are publication meta keys that describe the original
// publication and are not carried over to the local re-publication.
var reservedMeta = map[string]bool{
	"created": true, "modified": true, "path": true, "type": true, "status": true, "published": true,
	"eventId": true, "sessionId": true, "action": true, "channel": true, "consistency": true,
	"publicationId": true, "depth": true, "eventOrigin": true,
}

// dedupe remembers the last publication ids seen from one peer, so that a
// publication matching several replicated paths is re-published once.
type dedupe struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string
	next int
}

const dedupeSize = 4096

// first reports whether id is seen for the first time.
func (d *dedupe) first(id string) bool {
	if id == "" {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ids == nil {
		d.ids = make(map[string]struct{}, dedupeSize)
		d.ring = make([]string, dedupeSize)
	}
	if _, ok := d.ids[id]; ok {
		return false
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.ids, old)
	}
	d.ring[d.next] = id
	d.next = (d.next + 1) % dedupeSize
	d.ids[id] = struct{}{}
	return true
}

// subscribePeer subscribes on a peer to the replicated paths and to the
// cluster channel.
func (m *Member) subscribePeer(ctx context.Context, name string, p *peer, cl *client.Client) error {
	for _, path := range m.paths {
		opts := client.OnOptions{}
		if strings.HasPrefix(path, "/_events/") && strings.HasSuffix(path, "/**") {
			opts.Depth = 7 // component plus up to six key segments
		}
		if _, err := cl.On(ctx, path, opts, func(ev client.Event) { m.republish(name, p, ev) }); err != nil {
			return fmt.Errorf("cluster: subscribing to %s on %s: %w", path, name, err)
		}
	}
	if _, err := cl.On(ctx, ReplicatePath, client.OnOptions{EventType: "set"}, func(ev client.Event) { m.onReplicate(name, ev) }); err != nil {
		return fmt.Errorf("cluster: subscribing to %s on %s: %w", ReplicatePath, name, err)
	}
	return nil
}

// republish publishes an event received from a peer to this member's
// subscribers, with noCluster so that it goes no further (one hop).
func (m *Member) republish(name string, p *peer, ev client.Event) {
	path := ev.Meta.Path
	for _, pre := range notReplicated {
		if strings.HasPrefix(path, pre) {
			return
		}
	}
	if !p.seen.first(ev.Meta.PublicationID) {
		return
	}
	var meta map[string]any
	for k, v := range ev.Meta.Fields {
		if reservedMeta[k] {
			continue
		}
		if meta == nil {
			meta = map[string]any{}
		}
		meta[k] = v
	}
	var metaJSON json.RawMessage
	if meta != nil {
		metaJSON, _ = json.Marshal(meta)
	}
	req := happn.PublishRequest{
		Action:    "set",
		Path:      path,
		Data:      ev.Data,
		Created:   ev.Meta.Created,
		Modified:  ev.Meta.Modified,
		Meta:      metaJSON,
		NoCluster: true, // one hop: peers of this member do not get it again
		SessionID: ev.Meta.SessionID,
	}
	if strings.HasPrefix(ev.Meta.Action, "/REMOVE@") {
		req.Action = "remove"
	} else if len(req.Data) == 0 || string(req.Data) == "null" {
		req.Data = json.RawMessage("{}")
	}
	if o := ev.Meta.EventOrigin; o != nil {
		req.Origin = &happn.Origin{Username: o.Username, ID: o.ID}
	}
	if _, err := m.mesh.Server().Publish(m.ctx, req); err != nil {
		if m.ctx.Err() == nil {
			m.log.Error("cluster: error republishing, cannot replicate", "peer", name, "path", path, "err", err)
		}
		return
	}
	m.met.Replicated(metrics.In, 1)
}

// replicateMessage is what travels on ReplicatePath.
type replicateMessage struct {
	Topic   string          `json:"topic"`
	Origin  string          `json:"origin"`
	Payload json.RawMessage `json:"payload"`
}

// securityBatch is the payload of a security change batch.
type securityBatch struct {
	Changes []security.Change `json:"changes"`
}

// secSync batches local security changes and suppresses the echo of
// changes applied from other members.
type secSync struct {
	mu    sync.Mutex
	queue []security.Change
	echo  map[string]int
}

func fingerprint(c security.Change) string {
	return c.Event + "\x00" + string(c.Data) + "\x00" + strings.Join(c.Users, ",")
}

// onSecurityChange queues a change made on this member.
func (m *Member) onSecurityChange(c security.Change) {
	fp := fingerprint(c)
	s := &m.sec
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.echo[fp] > 0 {
		s.echo[fp]--
		if s.echo[fp] == 0 {
			delete(s.echo, fp)
		}
		return
	}
	for _, q := range s.queue {
		if fingerprint(q) == fp {
			return
		}
	}
	s.queue = append(s.queue, c)
}

// runSecurity sends the queued changes every interval.
func (m *Member) runSecurity() {
	defer m.wg.Done()
	t := time.NewTicker(m.mc.SecurityChangeSetReplicateInterval)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
			m.flushSecurity(m.ctx)
		}
	}
}

// flushSecurity publishes the queued changes to the peers.
func (m *Member) flushSecurity(ctx context.Context) {
	s := &m.sec
	s.mu.Lock()
	batch := s.queue
	s.queue = nil
	s.mu.Unlock()
	if len(batch) == 0 || m.local == nil {
		return
	}
	payload, err := json.Marshal(securityBatch{Changes: batch})
	if err != nil {
		m.log.Error("cluster: encoding security changes", "err", err)
		return
	}
	msg := replicateMessage{Topic: securityTopic, Origin: m.self.Name, Payload: payload}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := m.local.Set(ctx, ReplicatePath, msg, client.NoStore()); err != nil {
		m.log.Error("cluster: replicating security changes", "err", err, "changes", len(batch))
		return
	}
	m.met.SecurityChanges(metrics.Out, len(batch))
}

// onReplicate applies a security batch received from a peer.
func (m *Member) onReplicate(from string, ev client.Event) {
	var msg replicateMessage
	if err := json.Unmarshal(ev.Data, &msg); err != nil {
		m.log.Error("cluster: unexpected replication message", "peer", from, "err", err)
		return
	}
	if msg.Origin == m.self.Name {
		return
	}
	switch msg.Topic {
	case securityTopic:
	case leavingTopic:
		var n leavingNotice
		if err := json.Unmarshal(msg.Payload, &n); err != nil || n.MemberID == "" {
			m.log.Error("cluster: unexpected leaving notice", "peer", from, "err", err)
			return
		}
		m.peerLeft(msg.Origin, n.MemberID)
		return
	default:
		return
	}
	var b securityBatch
	if err := json.Unmarshal(msg.Payload, &b); err != nil {
		m.log.Error("cluster: unexpected security batch", "peer", from, "err", err)
		return
	}
	sec := m.srv.Security()
	for _, c := range b.Changes {
		m.sec.mu.Lock()
		if m.sec.echo == nil {
			m.sec.echo = map[string]int{}
		}
		m.sec.echo[fingerprint(c)]++
		m.sec.mu.Unlock()
		sec.ApplyRemoteChange(m.ctx, c)
	}
	m.met.SecurityChanges(metrics.In, len(b.Changes))
}

// leavingGrace bounds how long a stopping member waits for its peers to
// act on its leaving notice.
const leavingGrace = time.Second

// announceLeaving tells the peers that this member is leaving, before its
// connections close, and waits (at most leavingGrace) for them to drop it:
// a peer that acts on the notice closes its connection into this member.
// Closing this member's own connections first could reach a peer before
// the notice does, and make it count itself UNSTABLE for a moment.
func (m *Member) announceLeaving(ctx context.Context) {
	if m.local == nil {
		return
	}
	m.mu.Lock()
	peersIn := len(m.inbound)
	m.mu.Unlock()
	if peersIn == 0 {
		return
	}
	payload, err := json.Marshal(leavingNotice{MemberID: m.self.MemberID})
	if err != nil {
		return
	}
	msg := replicateMessage{Topic: leavingTopic, Origin: m.self.Name, Payload: payload}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := m.local.Set(ctx, ReplicatePath, msg, client.NoStore()); err != nil {
		m.log.Debug("cluster: announcing the departure", "err", err)
		return
	}
	timer := time.NewTimer(leavingGrace)
	defer timer.Stop()
	for {
		m.mu.Lock()
		left, changed := len(m.inbound) == 0, m.changed
		m.mu.Unlock()
		if left {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
