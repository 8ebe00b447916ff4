package dashboard

import (
	"math"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Node is what a node tells about itself for its snapshot.
type Node struct {
	// Name is the node (mesh, member) name; Domain its event domain.
	Name   string
	Domain string
	// Address is where clients connect ("127.0.0.1:55000"; "" while closed).
	Address string
	// Secure reports a node that requires a login.
	Secure bool
	// Components are the node's own components, system components left out.
	Components []ComponentInfo
}

// ComponentInfo is one component of a node.
type ComponentInfo struct {
	// Name and Version identify the component.
	Name    string
	Version string
	// Methods are the names of its exchange methods.
	Methods []string
}

// Cluster is a member's view of its cluster, added to its snapshot.
type Cluster struct {
	// Name is the cluster name; Service this member's service name.
	Name    string
	Service string
	// Status is this member's registry status ("STABLE").
	Status string
	// URL is where the other members reach this member; ClientAddr its
	// client port ("" while closed).
	URL        string
	ClientAddr string
	// Stale is the member stale threshold: a member not heard from for
	// this long is gone.
	Stale time.Duration
	// Members are the members in the registry, this one included.
	Members []MemberInfo
	// Missing describes dependencies with no member to serve them
	// ("orders needs pricing ^1.0.0"), as they are now.
	Missing []string
}

// MemberInfo is one member as the member giving the view sees it.
type MemberInfo struct {
	// Name and Service identify the member.
	Name    string `json:"name"`
	Service string `json:"service"`
	// Status is its registry status ("STABLE"; "GONE" once it left).
	Status string `json:"status"`
	// URL is where members reach it (its internal port).
	URL string `json:"url"`
	// Connected marks a member connected both ways to the one giving the
	// view; Self the member giving the view.
	Connected bool `json:"connected"`
	Self      bool `json:"self,omitempty"`
	// Gone marks a member that has left the registry; LeftAt is when this
	// member noticed (Unix milliseconds).
	Gone   bool  `json:"gone,omitempty"`
	LeftAt int64 `json:"leftAt,omitempty"`
}

// Snapshot is what a node publishes every interval; its JSON form is what
// the page reads.
type Snapshot struct {
	// Name and Domain are the node's; Service and Cluster a member's
	// service and cluster names ("" outside a cluster).
	Name    string `json:"name"`
	Domain  string `json:"domain"`
	Service string `json:"service,omitempty"`
	Cluster string `json:"cluster,omitempty"`
	// Status is a member's registry status, "STARTED" for a mesh.
	Status string `json:"status"`
	// Address is where clients connect; URL where members reach a member.
	Address string `json:"address"`
	URL     string `json:"url,omitempty"`
	// Secure reports a node that requires a login.
	Secure bool `json:"secure"`
	// Started and Time are Unix milliseconds; Uptime is in seconds.
	Started int64   `json:"started"`
	Time    int64   `json:"time"`
	Uptime  float64 `json:"uptime"`
	// IntervalMs is the publishing interval; StaleMs how long without a
	// snapshot a member counts as gone.
	IntervalMs int64 `json:"intervalMs"`
	StaleMs    int64 `json:"staleMs"`

	// Connections are the node's open client connections.
	Connections int `json:"connections"`
	// EventsPerSecond are the publications (sets, removes, component
	// events, replies) per second, the dashboard's own left out.
	EventsPerSecond float64 `json:"eventsPerSecond"`
	// Replication are the publications replicated between members;
	// SecuritySync the security changes exchanged with them.
	Replication  Traffic `json:"replication"`
	SecuritySync Traffic `json:"securitySync"`

	// Components are the node's components, by name.
	Components []ComponentStats `json:"components"`
	// Members are a member's view of its cluster: itself first, then the
	// others by name, members that left included (Gone).
	Members []MemberInfo `json:"members,omitempty"`
	// Warnings are the latest warnings, newest first.
	Warnings []Warning `json:"warnings"`
}

// Traffic counts messages both ways between members.
type Traffic struct {
	// In and Out are the totals since the node started.
	In  float64 `json:"in"`
	Out float64 `json:"out"`
	// InPerSecond and OutPerSecond are the rates over the last interval.
	InPerSecond  float64 `json:"inPerSecond"`
	OutPerSecond float64 `json:"outPerSecond"`
}

// CallStats are the calls of one method, or of a whole component.
type CallStats struct {
	// Calls is the total since the node started; CallsPerSecond the rate
	// over the last interval.
	Calls          float64 `json:"calls"`
	CallsPerSecond float64 `json:"callsPerSecond"`
	// Errors counts calls that failed or timed out; Denied those refused
	// by security.
	Errors float64 `json:"errors"`
	Denied float64 `json:"denied"`
	// P95Ms is the 95th percentile of the durations of the calls of the
	// recent window, in milliseconds; nil when there were none.
	P95Ms *float64 `json:"p95Ms"`
}

// MethodStats are one method's calls.
type MethodStats struct {
	// Name is the method's wire name.
	Name string `json:"name"`
	CallStats
}

// ComponentStats are one component and its methods' calls.
type ComponentStats struct {
	// Name and Version identify the component.
	Name    string `json:"name"`
	Version string `json:"version"`
	// CallStats add up its methods' (the p95 is over all their calls).
	CallStats
	// Methods are its methods, by name.
	Methods []MethodStats `json:"methods"`
}

// Warning is a notable event: a member left, a dependency missing.
type Warning struct {
	// Time is when it was noticed (Unix milliseconds).
	Time int64 `json:"time"`
	// Kind is "member-left", "member-joined" or "dependency-missing".
	Kind string `json:"kind"`
	// Message says what happened, for people.
	Message string `json:"message"`
}

// Metric names the builder reads.
const (
	metricCalls        = "happner_exchange_calls_total"
	metricCallDuration = "happner_exchange_call_duration_seconds"
	metricPublications = "happner_publications_total"
	metricConnections  = "happner_connections"
	metricReplicated   = "happner_cluster_replicated_events_total"
	metricSecurity     = "happner_cluster_security_changes_total"
)

// maxWarnings is how many warnings a snapshot keeps, newest first.
const maxWarnings = 20

// keepGone is how long a member that left stays in the snapshots.
const keepGone = 10 * time.Minute

// defaultWindow is how many builds the p95 latency covers.
const defaultWindow = 10

// methodKey names one exchange method.
type methodKey struct{ component, method string }

// histogram is a cumulative histogram read at one build: the upper
// bounds and the cumulative count of each bucket, then the total.
type histogram struct {
	bounds []float64
	counts []uint64
	total  uint64
}

// Builder turns a node's description and metrics into successive
// snapshots: rates are computed between consecutive builds, latency
// percentiles over the last builds (the window). It is not safe for
// concurrent use; a [Publisher] owns one.
type Builder struct {
	started time.Time
	window  int

	last     time.Time
	builds   int
	counters map[string]float64        // previous totals, by series
	hists    map[methodKey][]histogram // oldest first, at most window+1

	members  map[string]MemberInfo // every member seen, by name
	missing  map[string]bool       // conditions reported
	warnings []Warning             // newest first
}

// NewBuilder returns a builder for a node started at started; window is
// how many builds the p95 latencies cover (0: 10).
func NewBuilder(started time.Time, window int) *Builder {
	if window <= 0 {
		window = defaultWindow
	}
	return &Builder{
		started: started, window: window,
		counters: map[string]float64{}, hists: map[methodKey][]histogram{},
		members: map[string]MemberInfo{}, missing: map[string]bool{},
	}
}

// Input is what a snapshot is built from.
type Input struct {
	// Node describes the node.
	Node Node
	// Cluster is a member's view of its cluster; nil for a mesh outside
	// a cluster.
	Cluster *Cluster
	// Families are a gather of the node's metrics registry.
	Families []*dto.MetricFamily
	// OwnPublications counts the publications the dashboard made itself
	// (snapshots, relayed ones included), left out of the events rate.
	OwnPublications float64
}

// Build makes the snapshot of in at now.
func (b *Builder) Build(now time.Time, in Input) Snapshot {
	node, cl := in.Node, in.Cluster
	dt := 0.0
	if !b.last.IsZero() {
		dt = now.Sub(b.last).Seconds()
	}
	b.last = now
	b.builds++
	byName := make(map[string]*dto.MetricFamily, len(in.Families))
	for _, f := range in.Families {
		byName[f.GetName()] = f
	}
	s := Snapshot{
		Name: node.Name, Domain: node.Domain, Address: node.Address, Secure: node.Secure, Status: "STARTED",
		Started: b.started.UnixMilli(), Time: now.UnixMilli(), Uptime: now.Sub(b.started).Seconds(),
		Components: []ComponentStats{}, Warnings: []Warning{},
	}
	s.Connections = int(sumOf(byName[metricConnections], nil))
	s.EventsPerSecond = b.rate("pub", sumOf(byName[metricPublications], nil)-in.OwnPublications, dt)
	s.Replication = b.traffic("repl", byName[metricReplicated], dt)
	s.SecuritySync = b.traffic("sec", byName[metricSecurity], dt)
	s.Components = b.components(node.Components, byName[metricCalls], byName[metricCallDuration], dt)
	if cl != nil {
		s.Service, s.Cluster, s.Status, s.URL = cl.Service, cl.Name, cl.Status, cl.URL
		s.StaleMs = cl.Stale.Milliseconds()
		if cl.ClientAddr != "" {
			s.Address = cl.ClientAddr
		}
		s.Members = b.membership(now, cl.Members)
		b.conditions(now, cl.Missing)
	}
	s.Warnings = append(s.Warnings, b.warnings...)
	return s
}

// Observe follows a member's cluster at now without building a snapshot
// (nil: a mesh outside a cluster, nothing to follow): members that join or
// leave and dependencies that go missing while nobody watches still make
// the warnings of the next snapshot. The next Build's rates cover the time
// since the previous Build.
func (b *Builder) Observe(now time.Time, cl *Cluster) {
	if cl == nil {
		return
	}
	b.membership(now, cl.Members)
	b.conditions(now, cl.Missing)
}

// rate records total under key and returns its increase per second
// since the previous build (0 on the first build, or after a counter
// reset; a series first seen later counts from zero).
func (b *Builder) rate(key string, total, dt float64) float64 {
	prev, seen := b.counters[key]
	b.counters[key] = total
	if !seen && b.builds > 1 {
		seen = true // counted from zero since the previous build
	}
	if !seen || dt <= 0 || total < prev {
		return 0
	}
	return (total - prev) / dt
}

// traffic reads a counter vector by direction (in, out).
func (b *Builder) traffic(key string, f *dto.MetricFamily, dt float64) Traffic {
	in := sumOf(f, map[string]string{"direction": "in"})
	out := sumOf(f, map[string]string{"direction": "out"})
	return Traffic{In: in, Out: out, InPerSecond: b.rate(key+"/in", in, dt), OutPerSecond: b.rate(key+"/out", out, dt)}
}

// components computes the call statistics of every method of comps.
func (b *Builder) components(comps []ComponentInfo, calls, durations *dto.MetricFamily, dt float64) []ComponentStats {
	type statusCounts struct{ ok, errors, denied float64 }
	counts := map[methodKey]*statusCounts{}
	if calls != nil {
		for _, m := range calls.GetMetric() {
			k := methodKey{label(m, "component"), label(m, "method")}
			c := counts[k]
			if c == nil {
				c = &statusCounts{}
				counts[k] = c
			}
			v := m.GetCounter().GetValue()
			switch label(m, "status") {
			case "ok":
				c.ok += v
			case "denied":
				c.denied += v
			default: // error, timeout
				c.errors += v
			}
		}
	}
	hists := map[methodKey]histogram{}
	if durations != nil {
		for _, m := range durations.GetMetric() {
			hists[methodKey{label(m, "component"), label(m, "method")}] = readHistogram(m.GetHistogram())
		}
	}
	out := make([]ComponentStats, 0, len(comps))
	for _, ci := range comps {
		cs := ComponentStats{Name: ci.Name, Version: ci.Version, Methods: make([]MethodStats, 0, len(ci.Methods))}
		var window histogram
		for _, name := range sortedCopy(ci.Methods) {
			k := methodKey{ci.Name, name}
			ms := MethodStats{Name: name}
			if c := counts[k]; c != nil {
				ms.Calls = c.ok + c.errors + c.denied
				ms.Errors, ms.Denied = c.errors, c.denied
			}
			ms.CallsPerSecond = b.rate("call/"+ci.Name+"/"+name, ms.Calls, dt)
			if h, ok := hists[k]; ok {
				recent := b.recent(k, h)
				ms.P95Ms = quantileMs(recent, 0.95)
				window = addHistograms(window, recent)
			}
			cs.Calls += ms.Calls
			cs.CallsPerSecond += ms.CallsPerSecond
			cs.Errors += ms.Errors
			cs.Denied += ms.Denied
			cs.Methods = append(cs.Methods, ms)
		}
		cs.P95Ms = quantileMs(window, 0.95)
		out = append(out, cs)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// recent records h as the latest histogram of k and returns the
// observations made within the window: h minus the oldest one kept.
func (b *Builder) recent(k methodKey, h histogram) histogram {
	ring := b.hists[k]
	if len(ring) == 0 && b.builds > 1 {
		// a method first seen now: its calls were all made since the
		// previous build
		ring = append(ring, histogram{bounds: h.bounds, counts: make([]uint64, len(h.counts))})
	}
	ring = append(ring, h)
	if len(ring) > b.window+1 {
		ring = ring[len(ring)-b.window-1:]
	}
	b.hists[k] = ring
	if len(ring) == 1 {
		return h
	}
	return subHistograms(h, ring[0])
}

// membership merges the members in the registry now with those seen
// before: a member that is no longer there is kept as gone, with a
// warning, and one that appears after the first build is announced.
func (b *Builder) membership(now time.Time, current []MemberInfo) []MemberInfo {
	first := len(b.members) == 0
	present := map[string]bool{}
	for _, m := range current {
		present[m.Name] = true
		switch prev, known := b.members[m.Name]; {
		case first || m.Self:
		case !known:
			b.warn(now, "member-joined", "member "+m.Name+" ("+m.Service+") joined")
		case prev.Gone:
			b.warn(now, "member-joined", "member "+m.Name+" ("+m.Service+") joined again")
		}
		b.members[m.Name] = m
	}
	for name, m := range b.members {
		if m.Gone && now.Sub(time.UnixMilli(m.LeftAt)) > keepGone {
			delete(b.members, name)
			continue
		}
		if present[name] || m.Gone {
			continue
		}
		m.Gone, m.Connected, m.LeftAt, m.Status = true, false, now.UnixMilli(), "GONE"
		b.members[name] = m
		b.warn(now, "member-left", "member "+name+" ("+m.Service+") left the cluster")
	}
	out := make([]MemberInfo, 0, len(b.members))
	for _, m := range b.members {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Self != out[j].Self {
			return out[i].Self
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// conditions reports each missing dependency once, when it appears; one
// that is resolved may be reported again later.
func (b *Builder) conditions(now time.Time, missing []string) {
	still := map[string]bool{}
	for _, m := range missing {
		still[m] = true
		if !b.missing[m] {
			b.warn(now, "dependency-missing", m)
		}
	}
	b.missing = still
}

// warn adds a warning, newest first, keeping maxWarnings.
func (b *Builder) warn(now time.Time, kind, msg string) {
	b.warnings = append([]Warning{{Time: now.UnixMilli(), Kind: kind, Message: msg}}, b.warnings...)
	if len(b.warnings) > maxWarnings {
		b.warnings = b.warnings[:maxWarnings]
	}
}

// sumOf adds the values of the series of f whose labels include want
// (counters, gauges and untyped series).
func sumOf(f *dto.MetricFamily, want map[string]string) float64 {
	if f == nil {
		return 0
	}
	total := 0.0
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			if label(m, k) != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total
}

// label returns the value of the label name of m ("" when absent).
func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// readHistogram copies a histogram's finite buckets.
func readHistogram(h *dto.Histogram) histogram {
	out := histogram{total: h.GetSampleCount()}
	for _, bk := range h.GetBucket() {
		if math.IsInf(bk.GetUpperBound(), 1) {
			continue
		}
		out.bounds = append(out.bounds, bk.GetUpperBound())
		out.counts = append(out.counts, bk.GetCumulativeCount())
	}
	return out
}

// subHistograms returns a minus b, two readings of the same histogram (b
// the older); a reset histogram is returned as it is.
func subHistograms(a, b histogram) histogram {
	if b.total > a.total || len(a.counts) != len(b.counts) {
		return a
	}
	out := histogram{bounds: a.bounds, counts: make([]uint64, len(a.counts)), total: a.total - b.total}
	for i := range a.counts {
		out.counts[i] = a.counts[i] - min(b.counts[i], a.counts[i])
	}
	return out
}

// addHistograms adds two histograms of the same buckets; a zero value
// is the identity.
func addHistograms(a, b histogram) histogram {
	if a.bounds == nil {
		return b
	}
	if len(a.counts) != len(b.counts) {
		return a
	}
	out := histogram{bounds: a.bounds, counts: make([]uint64, len(a.counts)), total: a.total + b.total}
	for i := range a.counts {
		out.counts[i] = a.counts[i] + b.counts[i]
	}
	return out
}

// quantileMs estimates the q-quantile of h in milliseconds, as
// Prometheus' histogram_quantile does: linearly within the bucket that
// holds the rank. Observations above the last finite bound are reported
// at that bound. nil when h holds no observation.
func quantileMs(h histogram, q float64) *float64 {
	if h.total == 0 {
		return nil
	}
	rank := q * float64(h.total)
	lower, below := 0.0, uint64(0)
	for i, upper := range h.bounds {
		c := h.counts[i]
		if float64(c) >= rank {
			inBucket := float64(c - below)
			v := upper
			if inBucket > 0 {
				v = lower + (upper-lower)*(rank-float64(below))/inBucket
			}
			v *= 1000
			return &v
		}
		lower, below = upper, c
	}
	v := lower * 1000
	return &v
}

// sortedCopy returns s sorted, leaving s alone.
func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
