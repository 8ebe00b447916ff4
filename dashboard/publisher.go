package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/happner-go/happner/metrics"
)

// Paths of the published snapshots. They are under /_SYSTEM, so that on a
// secure node only _ADMIN and users granted them receive snapshots, and
// cluster replication never carries them (members relay them instead).
const (
	// Prefix is the root of the dashboard's paths.
	Prefix = "/_SYSTEM/DASHBOARD"
	// NodesPath is the subscription path of every node's snapshot.
	NodesPath = Prefix + "/nodes/*"
)

// NodePath is the path a node's snapshot is published at.
func NodePath(name string) string { return Prefix + "/nodes/" + name }

// Config configures a [Publisher].
type Config struct {
	// Interval is how often a snapshot is published; 0 means
	// DefaultInterval.
	Interval time.Duration
	// Metrics is the node's registry; nil (metrics off) leaves the rates,
	// errors and latencies at zero.
	Metrics *metrics.Metrics
	// Node describes the node at the moment of each snapshot.
	Node func() Node
	// Publish delivers data (a JSON object) to the subscribers of path on
	// the node, without storing it. relayed marks another member's
	// snapshot, which must not be sent on to other members.
	Publish func(ctx context.Context, path string, data []byte, relayed bool) error
	// Watched reports whether anybody subscribes to path (a page, or a
	// member relaying this node's snapshots to its pages). When it is set
	// and says no, Run neither gathers the metrics nor builds, encodes or
	// publishes a snapshot; it only follows the cluster's membership for
	// the warnings (see [Builder.Observe]). A node nobody looks at sends
	// nothing. nil publishes every interval.
	Watched func(path string) bool
	// Logger receives publishing errors at debug level; default
	// slog.Default().
	Logger *slog.Logger
}

// Publisher publishes a node's snapshot every interval. Create it with
// [NewPublisher] and run it with [Publisher.Run].
type Publisher struct {
	cfg Config

	mu      sync.Mutex
	builder *Builder
	cluster func() Cluster
	name    string // the node's name at the last build

	published atomic.Int64 // publications made, relays included
}

// NewPublisher returns a publisher for a node that starts now.
func NewPublisher(cfg Config) *Publisher {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Publisher{cfg: cfg, builder: NewBuilder(time.Now(), 0)}
}

// Interval returns the publishing interval.
func (p *Publisher) Interval() time.Duration { return p.cfg.Interval }

// SetCluster adds a cluster member's view of its cluster to every
// snapshot from now on.
func (p *Publisher) SetCluster(fn func() Cluster) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cluster = fn
}

// Snapshot builds the node's snapshot now. Rates are measured since the
// previous snapshot, so calling it between the publisher's own builds
// shortens their interval.
func (p *Publisher) Snapshot() Snapshot {
	own := float64(p.published.Load()) // before the gather, which counts them
	// a failing collector leaves its families out; the others are kept
	fams, _ := p.cfg.Metrics.Families()
	node := p.cfg.Node()
	p.mu.Lock()
	defer p.mu.Unlock()
	var cl *Cluster
	if p.cluster != nil {
		c := p.cluster()
		cl = &c
	}
	p.name = node.Name
	s := p.builder.Build(time.Now(), Input{Node: node, Cluster: cl, Families: fams, OwnPublications: own})
	s.IntervalMs = p.cfg.Interval.Milliseconds()
	if s.StaleMs == 0 {
		s.StaleMs = 3 * s.IntervalMs
	}
	return s
}

// Publish builds a snapshot and publishes it at the node's path.
func (p *Publisher) Publish(ctx context.Context) error {
	s := p.Snapshot()
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("dashboard: encoding the snapshot: %w", err)
	}
	return p.publish(ctx, NodePath(s.Name), data, false)
}

// nodeName is the node's name at the last build, or now when there was
// none.
func (p *Publisher) nodeName() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.name == "" {
		p.name = p.cfg.Node().Name
	}
	return p.name
}

// observe follows the cluster's membership without a snapshot.
func (p *Publisher) observe() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cluster != nil {
		c := p.cluster()
		p.builder.Observe(time.Now(), &c)
	}
}

// Relay publishes the snapshot of another member, received from it, on
// this node, so that pages connected here see it. A snapshot named like
// this node is ignored.
func (p *Publisher) Relay(ctx context.Context, member string, data []byte) error {
	p.mu.Lock()
	self := p.name
	p.mu.Unlock()
	if member == "" || member == self {
		return nil
	}
	return p.publish(ctx, NodePath(member), data, true)
}

// publish hands a snapshot to the node and counts it.
func (p *Publisher) publish(ctx context.Context, path string, data []byte, relayed bool) error {
	p.published.Add(1)
	if err := p.cfg.Publish(ctx, path, data, relayed); err != nil {
		return fmt.Errorf("dashboard: publishing %s: %w", path, err)
	}
	return nil
}

// WatchChecks is how many times per interval Run asks Config.Watched,
// so that a page that starts watching gets a snapshot within a fraction
// of the interval instead of waiting for the next one.
const WatchChecks = 2

// Run publishes a snapshot at once and then every interval while
// somebody watches (see Config.Watched), and one as soon as somebody
// starts watching, until ctx ends; it returns ctx's error.
func (p *Publisher) Run(ctx context.Context) error {
	check := p.cfg.Interval
	if p.cfg.Watched != nil {
		check = max(p.cfg.Interval/WatchChecks, time.Millisecond)
	}
	t := time.NewTicker(check)
	defer t.Stop()
	var last time.Time // of the last snapshot built or membership observed
	wasWatched := false
	for {
		now := time.Now()
		watched := p.cfg.Watched == nil || p.cfg.Watched(NodePath(p.nodeName()))
		// due: an interval passed, give or take half a check
		due := last.IsZero() || now.Sub(last) >= p.cfg.Interval-check/2
		switch {
		case watched && (due || !wasWatched):
			last = now
			if err := p.Publish(ctx); err != nil && ctx.Err() == nil {
				p.cfg.Logger.Debug("dashboard: snapshot not published", "err", err)
			}
		case !watched && due:
			last = now
			p.observe()
		}
		wasWatched = watched
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
