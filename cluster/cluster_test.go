package cluster

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/happn/security"
)

func TestSeedExampleThreeHistorians(t *testing.T) {
	shared := newShared(t)
	var cfgs []Config
	for range 3 {
		cfgs = append(cfgs, testConfig("dep-seed", "historian", map[string]int{"historian": 2}, shared))
	}
	ms := startAll(t, cfgs...)
	for _, m := range ms {
		if m.Status() != StatusStable {
			t.Errorf("%s: status %s, want STABLE", m.Name(), m.Status())
		}
		if got := len(m.Peers()); got != 2 {
			t.Errorf("%s: %d peers (%v), want 2", m.Name(), got, peerNames(m))
		}
		if len(m.Members()) != 2 {
			t.Errorf("%s: registry lists %d other members, want 2", m.Name(), len(m.Members()))
		}
		if m.ClientAddr() == "" {
			t.Errorf("%s: client port not open", m.Name())
		}
		for _, p := range m.Peers() {
			if p.Client == nil || !p.Client.Connected() || p.ServiceName != "historian" && p.ServiceName != "" {
				t.Errorf("%s: peer %+v not connected", m.Name(), p)
			}
		}
	}
	// each member keeps its own description and name
	for _, m := range ms {
		rec, err := m.own.Get(context.Background(), "/_SYSTEM/_NETWORK/_SETTINGS/NAME")
		if err != nil || rec == nil || !strings.Contains(string(rec.Data), m.Name()) {
			t.Errorf("%s: own NAME record %v %v", m.Name(), rec, err)
		}
		if rec, _ := m.own.Get(context.Background(), happner.DescriptionPath); rec == nil {
			t.Errorf("%s: description not in the member's own store", m.Name())
		}
	}
	if rec, _ := shared.Get(context.Background(), happner.DescriptionPath); rec != nil {
		t.Error("a description was written to the shared store")
	}
	// the health endpoint
	resp, err := http.Get("http://" + ms[0].ClientAddr() + HealthPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Status  string   `json:"status"`
		Healthy bool     `json:"healthy"`
		Peers   []string `json:"peers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || h.Status != "STABLE" || !h.Healthy || len(h.Peers) != 2 {
		t.Errorf("health: %d %+v", resp.StatusCode, h)
	}
}

func TestEventsReplicateExactlyOnce(t *testing.T) {
	shared := newShared(t)
	var cfgs []Config
	for range 3 {
		c := withEmitter(testConfig("dep-events", "svc", map[string]int{"svc": 2}, shared))
		c.Membership.ReplicationPaths = []string{"*"} // raw sets replicate too
		cfgs = append(cfgs, c)
	}
	ms := startAll(t, cfgs...)
	ctx := context.Background()

	// component events through each member's mesh
	counts := make([]map[string]*atomic.Int32, len(ms))
	for i, m := range ms {
		counts[i] = map[string]*atomic.Int32{"global": {}, "local": {}}
		c := counts[i]
		if _, err := m.Mesh().Event().On(ctx, "emitter", "*", func(ev happner.Event) {
			var d struct{ Key string }
			_ = ev.Decode(&d)
			if n, ok := c[d.Key]; ok {
				n.Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	// data events through clients on each member's client port
	var setCounts [3]atomic.Int32
	var noClusterCounts [3]atomic.Int32
	for i, m := range ms {
		cl, err := client.New(ctx, client.Options{URL: "http://" + m.ClientAddr()})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if _, err := cl.On(ctx, "/test/**", client.OnOptions{}, func(ev client.Event) {
			if ev.Meta.Path == "/test/nocluster" {
				noClusterCounts[i].Add(1)
			} else {
				setCounts[i].Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ms[0].Mesh().Exchange().Call(ctx, "emitter", "fire", []any{"global", false}); err != nil {
		t.Fatal(err)
	}
	if err := ms[0].Mesh().Exchange().Call(ctx, "emitter", "fire", []any{"local", true}); err != nil {
		t.Fatal(err)
	}
	pub, err := client.New(ctx, client.Options{URL: "http://" + ms[1].ClientAddr()})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if _, err := pub.Set(ctx, "/test/x", map[string]any{"v": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Set(ctx, "/test/nocluster", map[string]any{"v": 2}, client.With("noCluster", true)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "events on every member", func() bool {
		for i := range ms {
			if counts[i]["global"].Load() < 1 || setCounts[i].Load() < 1 {
				return false
			}
		}
		return counts[0]["local"].Load() == 1 && noClusterCounts[1].Load() == 1
	})
	time.Sleep(300 * time.Millisecond) // duplicates would have arrived by now
	for i := range ms {
		if n := counts[i]["global"].Load(); n != 1 {
			t.Errorf("member %d got the event %d times, want 1", i, n)
		}
		if n := setCounts[i].Load(); n != 1 {
			t.Errorf("member %d client got the set %d times, want 1", i, n)
		}
		wantLocal := int32(0)
		if i == 0 {
			wantLocal = 1
		}
		if n := counts[i]["local"].Load(); n != wantLocal {
			t.Errorf("member %d got the emitLocal event %d times, want %d", i, n, wantLocal)
		}
		wantNC := int32(0)
		if i == 1 {
			wantNC = 1
		}
		if n := noClusterCounts[i].Load(); n != wantNC {
			t.Errorf("member %d got the noCluster set %d times, want %d", i, n, wantNC)
		}
	}
	// a remove replicates too
	var removes atomic.Int32
	cl2, err := client.New(ctx, client.Options{URL: "http://" + ms[2].ClientAddr()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	if _, err := cl2.On(ctx, "/test/x", client.OnOptions{EventType: "remove"}, func(client.Event) { removes.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Remove(ctx, "/test/x"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "remove event on member 2", func() bool { return removes.Load() == 1 })
}

func TestReplicationOffKeepsSecuritySync(t *testing.T) {
	shared := newShared(t)
	a := withEmitter(testConfig("dep-off", "svc", map[string]int{"svc": 1}, shared))
	b := withEmitter(testConfig("dep-off", "svc", map[string]int{"svc": 1}, shared))
	b.Membership.ReplicationPaths = []string{}
	ms := startAll(t, a, b)
	ctx := context.Background()
	var got atomic.Int32
	if _, err := ms[1].Mesh().Event().On(ctx, "emitter", "*", func(happner.Event) { got.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := ms[0].Mesh().Exchange().Call(ctx, "emitter", "fire", []any{"x", false}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := got.Load(); n != 0 {
		t.Errorf("member with replication off received %d events", n)
	}
	checkSecuritySync(t, ms[0], ms[1])
}

// checkSecuritySync removes a permission on a and expects b to deny it.
func checkSecuritySync(t *testing.T, a, b *Member) {
	t.Helper()
	ctx := context.Background()
	secA, secB := a.srv.Security(), b.srv.Security()
	if _, err := secA.UpsertGroup(ctx, security.Group{Name: "readers"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := secA.UpsertPermission(ctx, "readers", "/reports/*", "get", true); err != nil {
		t.Fatal(err)
	}
	if _, err := secA.UpsertUser(ctx, security.User{Username: "ann", Password: "pw"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := secA.LinkGroup(ctx, "readers", "ann", nil); err != nil {
		t.Fatal(err)
	}
	var sess *security.Session
	eventually(t, 2*time.Second, "login on the other member", func() bool {
		s, err := secB.Login(ctx, security.LoginRequest{Username: "ann", Password: "pw", Type: security.Stateful})
		sess = s
		return err == nil
	})
	eventually(t, 2*time.Second, "permission visible on the other member", func() bool {
		return secB.Authorize(ctx, sess, "/reports/1", "get") == nil
	})
	// a token minted on b is accepted by a (shared secret)
	if _, err := secA.SessionFromToken(ctx, sess.Token); err != nil {
		t.Errorf("token from member b refused by member a: %v", err)
	}
	if err := secA.RemovePermission(ctx, "readers", "/reports/*", "get"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "permission removal applied on the other member", func() bool {
		return secB.Authorize(ctx, sess, "/reports/1", "get") != nil
	})
}

func TestSecurityChangesReachEveryMember(t *testing.T) {
	shared := newShared(t)
	var cfgs []Config
	for range 3 {
		cfgs = append(cfgs, testConfig("dep-sec", "svc", map[string]int{"svc": 2}, shared))
	}
	ms := startAll(t, cfgs...)
	checkSecuritySync(t, ms[0], ms[1])
	// the third member saw the same change
	ctx := context.Background()
	sess, err := ms[2].srv.Security().Login(ctx, security.LoginRequest{Username: "ann", Password: "pw", Type: security.Stateful})
	if err != nil {
		t.Fatal(err)
	}
	if err := ms[2].srv.Security().Authorize(ctx, sess, "/reports/1", "get"); err == nil {
		t.Error("member 2 still allows a removed permission")
	}
}

func TestDependencyWaitHoldsMemberBack(t *testing.T) {
	shared := newShared(t)
	port := freePort(t)
	cfg := testConfig("dep-wait", "edge", map[string]int{"db": 1}, shared)
	cfg.Proxy.Port = port
	type res struct {
		m   *Member
		err error
	}
	done := make(chan res, 1)
	go func() {
		m, err := Create(context.Background(), cfg)
		done <- res{m, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("member started without its dependency: %v", r.err)
	case <-time.After(400 * time.Millisecond):
	}
	// the client port refuses connections before the member is ready
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
		c.Close()
		t.Fatal("client port accepted a connection before the member was ready")
	}
	db := startAll(t, testConfig("dep-wait", "db", nil, shared))[0]
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.m.Stop(context.Background())
	if !slices.Equal(peerNames(r.m), []string{db.Name()}) {
		t.Errorf("peers %v, want [%s]", peerNames(r.m), db.Name())
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err != nil {
		t.Fatalf("client port closed after start: %v", err)
	}
	c.Close()
	eventually(t, 2*time.Second, "db sees the edge", func() bool { return len(db.Peers()) == 1 })
}

func TestDiscoverTimeout(t *testing.T) {
	shared := newShared(t)
	cfg := testConfig("dep-timeout", "edge", map[string]int{"db": 2}, shared)
	cfg.Membership.DiscoverTimeout = 300 * time.Millisecond
	start := time.Now()
	m, err := Create(context.Background(), cfg)
	if err == nil {
		m.Stop(context.Background())
		t.Fatal("member started without its dependencies")
	}
	if !strings.Contains(err.Error(), "discover timeout") || !strings.Contains(err.Error(), "db: 0 of 2") {
		t.Errorf("error %q", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("failed after %s", d)
	}
	// the failed member left no record behind
	recs, _ := shared.Find(context.Background(), RegistryPrefix+"*", nil)
	if len(recs) != 0 {
		t.Errorf("%d records left in the registry", len(recs))
	}
}

func TestMissingDeploymentID(t *testing.T) {
	cfg := testConfig("", "svc", nil, newShared(t))
	_, err := Create(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "deploymentId not set") {
		t.Fatalf("got %v", err)
	}
}

func TestMemberLeavingAndJoining(t *testing.T) {
	shared := newShared(t)
	var cfgs []Config
	for range 3 {
		cfgs = append(cfgs, testConfig("dep-leave", "svc", map[string]int{"svc": 2}, shared))
	}
	ms := startAll(t, cfgs...)
	var mu sync.Mutex
	var events []string
	cancel := ms[0].OnPeer(func(ev PeerEvent) {
		mu.Lock()
		events = append(events, string(ev.Type)+" "+ev.Peer.Name)
		mu.Unlock()
	})
	defer cancel()
	gone := ms[2].Name()
	if err := ms[2].Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "member gone from the others", func() bool {
		return len(ms[0].Peers()) == 1 && len(ms[1].Peers()) == 1 && len(ms[0].Members()) == 1
	})
	if ms[0].Status() != StatusStable {
		t.Errorf("status %s after a member left", ms[0].Status())
	}
	// a new member joins
	n := startAll(t, testConfig("dep-leave", "svc", map[string]int{"svc": 2}, shared))[0]
	eventually(t, 2*time.Second, "new member on every member", func() bool {
		return len(ms[0].Peers()) == 2 && len(ms[1].Peers()) == 2 && len(n.Peers()) == 2
	})
	mu.Lock()
	defer mu.Unlock()
	want := []string{"peer/remove " + gone, "peer/add " + n.Name()}
	if !slices.Equal(events, want) {
		t.Errorf("peer events %v, want %v", events, want)
	}
}

// statusLog records the statuses a member's log says it moved to.
type statusLog struct {
	mu       sync.Mutex
	statuses []string
}

func (l *statusLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *statusLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *statusLog) WithGroup(string) slog.Handler            { return l }
func (l *statusLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "cluster: status" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "to" {
			l.mu.Lock()
			l.statuses = append(l.statuses, a.Value.String())
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

func (l *statusLog) since(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.statuses[n:])
}

// TestCleanStopKeepsPeersStable: a member that stops tells its peers it is
// leaving, so they drop it at once and stay STABLE; seeing its connection
// end first, they counted themselves UNSTABLE and tried to reconnect to it
// until a scan found its record gone.
func TestCleanStopKeepsPeersStable(t *testing.T) {
	shared := newShared(t)
	logs := &statusLog{}
	first := testConfig("dep-clean-stop", "svc", nil, shared)
	first.Logger = slog.New(logs)
	// scans far apart: only the notice can make the first member drop the
	// stopped one soon (it learns of the others by their connections)
	first.Membership.MemberScanningInterval = 10 * time.Second
	ms := startAll(t, first)
	ms = append(ms, startAll(t,
		testConfig("dep-clean-stop", "svc", nil, shared),
		testConfig("dep-clean-stop", "svc", nil, shared))...)
	eventually(t, 5*time.Second, "a stable cluster", func() bool {
		return ms[0].Status() == StatusStable && len(ms[0].Peers()) == 2
	})
	seen := len(logs.since(0))
	if err := ms[2].Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "the stopped member dropped by the first", func() bool {
		return len(ms[0].Peers()) == 1
	})
	if got := logs.since(seen); len(got) != 0 || ms[0].Status() != StatusStable {
		t.Errorf("the first member moved to %v (now %s) when a peer stopped cleanly", got, ms[0].Status())
	}
}

func TestParseSeedConfig(t *testing.T) {
	const seed = `{
	  "name": "m1",
	  "domain": "DOMAIN_NAME",
	  "cluster": {"requestTimeout": 20000, "responseTimeout": 30000},
	  "happn": {
	    "port": 0,
	    "services": {
	      "proxy": {"config": {"port": 55123}},
	      "membership": {"config": {
	        "deploymentId": "production-81f8084e",
	        "clusterName": "happn-cluster",
	        "serviceName": "historian",
	        "discoverTimeoutMs": 60000,
	        "pulseIntervalMs": 1000,
	        "memberScanningIntervalMs": 3000,
	        "memberScanningErrorThreshold": 3,
	        "dependencies": {"historian": 2},
	        "replicationPaths": ["**"],
	        "securityChangeSetReplicateInterval": 3000,
	        "clusterUsername": "MY-CLUSTER-USER",
	        "clusterPassword": "MY-CLUSTER-PWD"
	      }}
	    }
	  },
	  "modules": {},
	  "components": {}
	}`
	cfg, err := ParseConfig([]byte(seed), "json")
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Membership
	if cfg.Name != "m1" || cfg.Domain != "DOMAIN_NAME" || cfg.Happn.Port != 0 || cfg.Proxy.Port != 55123 ||
		cfg.Cluster.RequestTimeout != 20*time.Second || cfg.Cluster.ResponseTimeout != 30*time.Second ||
		m.DeploymentID != "production-81f8084e" || m.ServiceName != "historian" || m.DiscoverTimeout != time.Minute ||
		m.PulseInterval != time.Second || m.MemberScanningInterval != 3*time.Second || m.MemberScanningErrorThreshold != 3 ||
		m.Dependencies["historian"] != 2 || !slices.Equal(m.ReplicationPaths, []string{"**"}) ||
		m.SecurityChangeSetReplicateInterval != 3*time.Second || m.ClusterUsername != "MY-CLUSTER-USER" ||
		m.ClusterPassword != "MY-CLUSTER-PWD" {
		t.Errorf("parsed %+v", cfg)
	}
	yml := "domain: D\nhappn:\n  services:\n    membership:\n      config:\n        deploymentId: d1\n        replicationPaths: false\n"
	cfg, err = ParseConfig([]byte(yml), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Membership.DeploymentID != "d1" || cfg.Membership.ReplicationPaths == nil || len(cfg.Membership.ReplicationPaths) != 0 {
		t.Errorf("yaml parsed %+v", cfg.Membership)
	}
	if _, err := ParseConfig([]byte(`{"happn":{"services":{"membership":{"config":{"replicationPaths":{"a":1}}}}}}`), "json"); err == nil {
		t.Error("bad replicationPaths accepted")
	}
	d := MembershipConfig{}.withDefaults()
	if d.ClusterName != "happn-cluster" || d.ServiceName != "default-service" || d.DiscoverTimeout != time.Minute ||
		d.StaleMemberThreshold != 5*time.Second || d.SecurityChangeSetReplicateInterval != 3*time.Second {
		t.Errorf("defaults %+v", d)
	}
	if got := replicationSubscriptions([]string{"/a/*"}, "D"); !slices.Equal(got, []string{"/a/*", "/_events/D/**"}) {
		t.Errorf("subscriptions %v", got)
	}
	// unset: the domain's component events only, as happner-cluster
	if got := replicationSubscriptions(nil, "D"); !slices.Equal(got, []string{"/_events/D/**"}) {
		t.Errorf("subscriptions %v", got)
	}
	if got := replicationSubscriptions([]string{"*"}, "D"); !slices.Equal(got, []string{"*"}) {
		t.Errorf("subscriptions %v", got)
	}
}
