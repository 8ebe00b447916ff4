package dashboard

import (
	"math"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/happner-go/happner/metrics"
)

// gather reads m's registry.
func gather(t *testing.T, m *metrics.Metrics) []*dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

var calcNode = Node{Name: "n1", Domain: "d", Components: []ComponentInfo{{Name: "calc", Version: "1.0.0", Methods: []string{"div", "add"}}}}

// calls records n calls of calc.method that took took and ended with s.
func calls(m *metrics.Metrics, method string, n int, took time.Duration, s metrics.Status) {
	c := m.Call("calc", method)
	for range n {
		c.Done(took, s)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func method(t *testing.T, s Snapshot, name string) MethodStats {
	t.Helper()
	for _, c := range s.Components {
		for _, m := range c.Methods {
			if c.Name+"."+m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no method %s in %+v", name, s.Components)
	return MethodStats{}
}

func TestBuildRatesErrorsAndP95(t *testing.T) {
	m := metrics.New(metrics.Info{Version: "test"})
	t0 := time.Unix(1000, 0)
	b := NewBuilder(t0.Add(-time.Minute), 0)

	// 100 calls of 2 ms: all in the bucket (1 ms, 2.5 ms]; the 95th of
	// 100 is 95 % of the way through it
	calls(m, "add", 100, 2*time.Millisecond, metrics.StatusOK)
	s := b.Build(t0, Input{Node: calcNode, Families: gather(t, m)})
	add := method(t, s, "calc.add")
	if add.Calls != 100 || add.CallsPerSecond != 0 || add.Errors != 0 {
		t.Errorf("first build: %+v (no rate before a second build)", add)
	}
	if add.P95Ms == nil || !near(*add.P95Ms, 1+1.5*0.95) {
		t.Errorf("p95 = %v ms, want %v", add.P95Ms, 1+1.5*0.95)
	}
	if s.Uptime != 60 || s.Started != t0.Add(-time.Minute).UnixMilli() {
		t.Errorf("uptime %v, started %v", s.Uptime, s.Started)
	}
	if div := method(t, s, "calc.div"); div.Calls != 0 || div.P95Ms != nil {
		t.Errorf("an uncalled method: %+v", div)
	}

	// two seconds later: 60 more, of which 40 took 40 ms, 10 failed and
	// 5 timed out, and 3 were denied
	calls(m, "add", 20, 2*time.Millisecond, metrics.StatusOK)
	calls(m, "add", 25, 40*time.Millisecond, metrics.StatusOK)
	calls(m, "add", 10, 40*time.Millisecond, metrics.StatusError)
	calls(m, "add", 5, 40*time.Millisecond, metrics.StatusTimeout)
	m.Call("calc", "add").Count(metrics.StatusDenied)
	m.Call("calc", "add").Count(metrics.StatusDenied)
	m.Call("calc", "add").Count(metrics.StatusDenied)
	s = b.Build(t0.Add(2*time.Second), Input{Node: calcNode, Families: gather(t, m)})
	add = method(t, s, "calc.add")
	if add.Calls != 163 || !near(add.CallsPerSecond, 63.0/2) || add.Errors != 15 || add.Denied != 3 {
		t.Errorf("second build: %+v", add)
	}
	// the window holds the 60 timed calls since the first build: 20 in
	// (1 ms, 2.5 ms], 40 in (25 ms, 50 ms]; rank 57 is the 37th of 40
	want := 25 + 25*(57.0-20)/40
	if add.P95Ms == nil || !near(*add.P95Ms, want) {
		t.Errorf("windowed p95 = %v ms, want %v", add.P95Ms, want)
	}
	comp := s.Components[0]
	if comp.Name != "calc" || comp.Calls != 163 || comp.Errors != 15 || comp.P95Ms == nil || !near(*comp.P95Ms, want) {
		t.Errorf("component totals: %+v", comp.CallStats)
	}
	if names := []string{comp.Methods[0].Name, comp.Methods[1].Name}; names[0] != "add" || names[1] != "div" {
		t.Errorf("methods not in name order: %v", names)
	}
}

func TestBuildWindowForgetsOldCalls(t *testing.T) {
	m := metrics.New(metrics.Info{Version: "test"})
	t0 := time.Unix(1000, 0)
	b := NewBuilder(t0, 2)
	b.Build(t0, Input{Node: calcNode, Families: gather(t, m)})
	// calls between the first and the second build stay in the window of
	// two builds, then leave it
	calls(m, "add", 10, 2*time.Second, metrics.StatusOK)
	for i := 1; i <= 3; i++ {
		s := b.Build(t0.Add(time.Duration(i)*time.Second), Input{Node: calcNode, Families: gather(t, m)})
		if p := method(t, s, "calc.add").P95Ms; i < 3 && p == nil {
			t.Errorf("build %d: the slow calls left the window too early", i)
		} else if i == 3 && p != nil {
			t.Errorf("build %d: p95 %v ms of calls older than the window", i, *p)
		}
	}
}

func TestBuildTrafficAndOwnPublications(t *testing.T) {
	m := metrics.New(metrics.Info{Version: "test"})
	t0 := time.Unix(1000, 0)
	b := NewBuilder(t0, 0)
	b.Build(t0, Input{Node: calcNode, Families: gather(t, m)})
	for range 30 {
		m.Published(1, 0)
	}
	m.Replicated(metrics.In, 8)
	m.Published(2, 4) // 4 replicated out
	m.SecurityChanges(metrics.Out, 3)
	// 31 publications, 5 of them the dashboard's own
	s := b.Build(t0.Add(500*time.Millisecond), Input{Node: calcNode, Families: gather(t, m), OwnPublications: 5})
	if !near(s.EventsPerSecond, 26/0.5) {
		t.Errorf("events/s = %v, want %v", s.EventsPerSecond, 26/0.5)
	}
	if s.Replication != (Traffic{In: 8, Out: 4, InPerSecond: 16, OutPerSecond: 8}) {
		t.Errorf("replication %+v", s.Replication)
	}
	if s.SecuritySync != (Traffic{Out: 3, OutPerSecond: 6}) {
		t.Errorf("security sync %+v", s.SecuritySync)
	}
}

func TestBuildMembershipAndWarnings(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := NewBuilder(t0, 0)
	view := func(missing []string, names ...string) *Cluster {
		c := &Cluster{Name: "shop", Service: "front", Status: "STABLE", ClientAddr: "127.0.0.1:1", Stale: 5 * time.Second, Missing: missing}
		for i, n := range names {
			c.Members = append(c.Members, MemberInfo{Name: n, Service: "svc-" + n, Status: "STABLE", Self: i == 0, Connected: true})
		}
		return c
	}
	s := b.Build(t0, Input{Node: calcNode, Cluster: view(nil, "a", "b", "c")})
	if len(s.Members) != 3 || len(s.Warnings) != 0 || s.Cluster != "shop" || s.StaleMs != 5000 || s.Address != "127.0.0.1:1" {
		t.Fatalf("first view: %+v", s)
	}
	s = b.Build(t0.Add(time.Second), Input{Node: calcNode, Cluster: view([]string{"orders needs pricing ^1.0.0"}, "a", "b")})
	s = b.Build(t0.Add(2*time.Second), Input{Node: calcNode, Cluster: view([]string{"orders needs pricing ^1.0.0"}, "a", "b", "d")})
	var gone []string
	for _, m := range s.Members {
		if m.Gone {
			gone = append(gone, m.Name+" "+m.Status)
		}
	}
	if strings.Join(gone, ",") != "c GONE" || len(s.Members) != 4 {
		t.Errorf("members %+v", s.Members)
	}
	var kinds []string
	for _, w := range s.Warnings {
		kinds = append(kinds, w.Kind+": "+w.Message)
	}
	want := []string{
		"member-joined: member d (svc-d) joined",
		"dependency-missing: orders needs pricing ^1.0.0",
		"member-left: member c (svc-c) left the cluster",
	}
	if strings.Join(kinds, "|") != strings.Join(want, "|") {
		t.Errorf("warnings, newest first:\n%s\nwant\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}
	// a member that comes back is announced again, and is no longer gone
	s = b.Build(t0.Add(3*time.Second), Input{Node: calcNode, Cluster: view(nil, "a", "b", "c", "d")})
	if w := s.Warnings[0]; w.Kind != "member-joined" || w.Message != "member c (svc-c) joined again" {
		t.Errorf("newest warning after c came back: %+v", w)
	}
	for _, m := range s.Members {
		if m.Gone {
			t.Errorf("%s still gone after it came back", m.Name)
		}
	}
	s = b.Build(t0.Add(4*time.Second), Input{Node: calcNode, Cluster: view(nil, "a", "b", "d")})
	// a member gone for longer than keepGone is forgotten
	s = b.Build(t0.Add(keepGone+5*time.Second), Input{Node: calcNode, Cluster: view(nil, "a", "b", "d")})
	if len(s.Members) != 3 {
		t.Errorf("members after keepGone: %+v", s.Members)
	}
}

func TestQuantileBeyondTheLastBucket(t *testing.T) {
	h := histogram{bounds: []float64{.001, .01}, counts: []uint64{1, 2}, total: 10}
	if q := quantileMs(h, 0.95); q == nil || *q != 10 {
		t.Errorf("p95 of observations above the last bound = %v, want the bound (10 ms)", q)
	}
	if q := quantileMs(histogram{}, 0.95); q != nil {
		t.Errorf("p95 of nothing = %v, want nil", *q)
	}
}
