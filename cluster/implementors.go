package cluster

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn/client"
)

// descriptionRetry is how often a peer's description is read again while
// it is missing or still initializing.
const descriptionRetry = time.Second

// systemComponents are never used from other members.
var systemComponents = map[string]bool{"security": true, "system": true, "rest": true, "api": true, "data": true}

// implementor is one peer's instance of a component.
type implementor struct {
	peer    string
	version string
	client  *client.Client
}

// peerDescription is what is known of one peer's components.
type peerDescription struct {
	peer     Peer
	desc     *happner.Description // nil until fetched
	brokered bool
	subID    int
	subbed   bool
	cancel   context.CancelFunc
}

// implementors tracks the components every peer implements, from the
// peers' mesh descriptions, and picks the member to call
// (§6.5): the highest matching version, round-robin among equals.
type implementors struct {
	m   *Member
	ctx context.Context // ends when the member stops
	wg  sync.WaitGroup

	mu      sync.Mutex
	stopped bool
	peers   map[string]*peerDescription // by peer name
	rr      map[string]uint64
	known   map[string]map[string]bool // every component and method ever discovered
	semver  satisfiesCache
	changed chan struct{} // closed and replaced on every change
}

func newImplementors(m *Member) *implementors {
	return &implementors{m: m, ctx: m.ctx, peers: map[string]*peerDescription{}, rr: map[string]uint64{}, known: map[string]map[string]bool{}, changed: make(chan struct{})}
}

// notifyLocked wakes waiters; i.mu held.
func (i *implementors) notifyLocked() {
	close(i.changed)
	i.changed = make(chan struct{})
}

// peerAdded starts following a peer's description: it is read now (again
// every second while missing or initializing) and on every publication.
func (i *implementors) peerAdded(p Peer) {
	if p.Client == nil {
		return
	}
	i.mu.Lock()
	if i.stopped {
		i.mu.Unlock()
		return
	}
	if old := i.peers[p.Name]; old != nil && old.peer.MemberID == p.MemberID && old.peer.Client == p.Client {
		i.mu.Unlock()
		return
	}
	if old := i.peers[p.Name]; old != nil {
		i.dropLocked(old)
	}
	ctx, cancel := context.WithCancel(i.ctx)
	pd := &peerDescription{peer: p, cancel: cancel}
	i.peers[p.Name] = pd
	i.wg.Add(1) // under the lock: stop sets stopped under it before waiting
	i.mu.Unlock()
	go func() {
		defer i.wg.Done()
		i.follow(ctx, pd)
	}()
}

// stop forgets every peer and waits for the description readers.
func (i *implementors) stop() {
	i.mu.Lock()
	i.stopped = true
	for _, pd := range i.peers {
		pd.cancel()
	}
	i.peers = map[string]*peerDescription{}
	i.notifyLocked()
	i.mu.Unlock()
	i.wg.Wait()
}

// peerRemoved forgets a peer's components.
func (i *implementors) peerRemoved(p Peer) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if pd := i.peers[p.Name]; pd != nil && (p.MemberID == "" || pd.peer.MemberID == p.MemberID) {
		i.dropLocked(pd)
	}
}

func (i *implementors) dropLocked(pd *peerDescription) {
	delete(i.peers, pd.peer.Name)
	pd.cancel()
	if pd.subbed {
		id, cl := pd.subID, pd.peer.Client
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = cl.Off(ctx, id)
		}()
	}
	i.notifyLocked()
}

// follow subscribes to the peer's description and reads it until it is
// complete.
func (i *implementors) follow(ctx context.Context, pd *peerDescription) {
	cl := pd.peer.Client
	id, err := cl.On(ctx, happner.DescriptionPath, client.OnOptions{EventType: "set"}, func(ev client.Event) {
		i.setDescription(pd, ev.Data)
	})
	if err == nil {
		i.mu.Lock()
		if i.peers[pd.peer.Name] == pd {
			pd.subID, pd.subbed = id, true
		} else {
			go func() { _ = cl.Off(context.Background(), id) }()
		}
		i.mu.Unlock()
	} else if ctx.Err() == nil {
		i.m.log.Warn("cluster: subscribing to a peer's description failed", "peer", pd.peer.Name, "err", err)
	}
	for {
		res, err := cl.Get(ctx, happner.DescriptionPath)
		if err == nil && res != nil && len(res.Items) > 0 && i.setDescription(pd, res.Items[0].Data) {
			return
		}
		if err != nil && ctx.Err() == nil {
			i.m.log.Debug("cluster: reading a peer's description failed", "peer", pd.peer.Name, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(descriptionRetry):
		}
		i.mu.Lock()
		done := pd.desc != nil
		i.mu.Unlock()
		if done {
			return
		}
	}
}

// setDescription records a complete description of pd; it reports whether
// data was one (not initializing).
func (i *implementors) setDescription(pd *peerDescription, data json.RawMessage) bool {
	d, ok := decodeDescription(data)
	if !ok {
		return false
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.peers[pd.peer.Name] != pd {
		return true
	}
	if d.Brokered && !pd.brokered {
		i.m.log.Debug("ignoring brokered description for peer: " + pd.peer.Name)
	}
	pd.brokered = d.Brokered
	pd.desc = d
	if !d.Brokered {
		// discovered methods stay on the api: calls fail
		// with Not implemented while no member has them
		for n, cd := range d.Components {
			if systemComponents[n] || cd == nil {
				continue
			}
			ms := i.known[n]
			if ms == nil {
				ms = map[string]bool{}
				i.known[n] = ms
			}
			for mn := range cd.Methods {
				ms[mn] = true
			}
		}
	}
	i.notifyLocked()
	return true
}

// descriptionJSON is a peer's description with its components left as
// JSON, so that only those other members may use are decoded.
type descriptionJSON struct {
	Initializing bool                       `json:"initializing"`
	Brokered     bool                       `json:"brokered"`
	Components   map[string]json.RawMessage `json:"components"`
}

// decodeDescription reads a peer's description, without its system
// components (never used from other members; the security component alone
// describes dozens of methods, and every member reads the description of
// every other). ok is false for a description that is not complete
// (initializing, or no components) or not valid.
func decodeDescription(data json.RawMessage) (d *happner.Description, ok bool) {
	var dj descriptionJSON
	if err := json.Unmarshal(data, &dj); err != nil || dj.Initializing || dj.Components == nil {
		return nil, false
	}
	d = &happner.Description{Brokered: dj.Brokered, Components: make(map[string]*happner.ComponentDescription, len(dj.Components))}
	for name, raw := range dj.Components {
		if systemComponents[name] {
			continue
		}
		var cd *happner.ComponentDescription
		if err := json.Unmarshal(raw, &cd); err != nil {
			return nil, false
		}
		d.Components[name] = cd
	}
	return d, true
}

// candidatesLocked returns the implementors of component whose version
// satisfies rng and that have method (any method when empty), on peers
// whose descriptions are known, sorted by peer name.
func (i *implementors) candidatesLocked(component, rng, method string) []implementor {
	var out []implementor
	for _, pd := range i.peers {
		if pd.desc == nil || pd.brokered {
			continue
		}
		cd := pd.desc.Components[component]
		if cd == nil || systemComponents[component] {
			continue
		}
		if method != "" && cd.Methods[method] == nil {
			continue
		}
		if !i.semver.satisfies(cd.Version, rng) {
			continue
		}
		out = append(out, implementor{peer: pd.peer.Name, version: cd.Version, client: pd.peer.Client})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].peer < out[b].peer })
	return out
}

// next picks the member to call component.method on: the highest version
// satisfying rng, round-robin among the members that have it.
func (i *implementors) next(component, rng, method string) (implementor, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	cands := i.candidatesLocked(component, rng, method)
	if len(cands) == 0 {
		return implementor{}, false
	}
	if len(cands) == 1 {
		return cands[0], true
	}
	best := cands[0].version
	for _, c := range cands[1:] {
		if compareVersions(c.version, best) > 0 {
			best = c.version
		}
	}
	top := cands[:0:0]
	for _, c := range cands {
		if compareVersions(c.version, best) == 0 {
			top = append(top, c)
		}
	}
	key := component + "\x00" + rng + "\x00" + method
	n := i.rr[key]
	i.rr[key] = n + 1
	return top[n%uint64(len(top))], true
}

// has reports whether some peer implements component in a version
// satisfying rng.
func (i *implementors) has(component, rng string) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return len(i.candidatesLocked(component, rng, "")) > 0
}

// discovered reports whether component was ever discovered, and whether
// it had method.
func (i *implementors) discovered(component, method string) (comp, meth bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	ms, ok := i.known[component]
	return ok, ms[method]
}

// versions returns the components a peer's description lists, with their
// versions; nil while the description is unknown.
func (i *implementors) versions(peer string) map[string]string {
	i.mu.Lock()
	defer i.mu.Unlock()
	pd := i.peers[peer]
	if pd == nil {
		return nil
	}
	return componentVersions(pd.desc)
}
