package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/internal/promscrape"
	"github.com/happner-go/happner/logging"
)

// readyState is what /ready answers: the status code and the body.
type readyState struct {
	code int
	body struct {
		Ready   bool `json:"ready"`
		Missing struct {
			Cluster *readyMissing   `json:"cluster"`
			Mesh    json.RawMessage `json:"mesh"`
		} `json:"missing"`
	}
}

// getReady asks addr for /ready; ok is false while nothing listens.
func getReady(t *testing.T, addr string) (readyState, bool) {
	t.Helper()
	var rs readyState
	resp, err := http.Get("http://" + addr + happn.ReadyPath)
	if err != nil {
		return rs, false
	}
	defer resp.Body.Close()
	rs.code = resp.StatusCode
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &rs.body); err != nil {
		t.Fatalf("/ready body %q: %v", b, err)
	}
	return rs, true
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A member answers /health and /ready on its internal port from the moment
// it listens: /ready is 503 with each missing service (have/need) while its
// dependency is absent, and 200 once it is stable and its client port is
// open. Its JSON log is one JSON object per line throughout.
func TestMemberReadinessThroughStart(t *testing.T) {
	shared := newShared(t)
	var logs promscrape.SyncBuffer
	log, err := logging.New(&logs, logging.Options{Format: "json", Level: "debug"})
	if err != nil {
		t.Fatal(err)
	}
	a := testConfig("dep-ready", "svc-a", map[string]int{"svc-b": 1}, shared)
	a.Logger = log
	a.Membership.ClusterPassword = "cluster-s3cret"
	port := freePort(t)
	a.Happn.Port = port
	internal := fmt.Sprintf("127.0.0.1:%d", port)

	type result struct {
		m   *Member
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		m, err := Create(ctx, a)
		done <- result{m, err}
	}()
	var waiting readyState
	eventually(t, 5*time.Second, "a member waiting for svc-b on /ready", func() bool {
		rs, ok := getReady(t, internal)
		if ok && rs.body.Missing.Cluster != nil && len(rs.body.Missing.Cluster.Dependencies) > 0 {
			waiting = rs
			return true
		}
		return false
	})
	if waiting.code != 503 || waiting.body.Ready {
		t.Errorf("/ready while waiting: %d %+v", waiting.code, waiting.body)
	}
	c := waiting.body.Missing.Cluster
	if c.Status != "DISCOVERING" || c.ClientPort != "closed" || len(c.Dependencies) != 1 ||
		c.Dependencies[0] != (ServiceCount{Service: "svc-b", Have: 0, Need: 1}) {
		t.Errorf("missing while waiting: %+v", c)
	}
	if !strings.Contains(string(waiting.body.Missing.Mesh), `"state":"starting"`) {
		t.Errorf("mesh part while waiting: %s", waiting.body.Missing.Mesh)
	}
	if code := getStatus(t, "http://"+internal+happn.HealthPath); code != 200 {
		t.Errorf("/health while waiting: %d", code)
	}

	startAll(t, testConfig("dep-ready", "svc-b", nil, shared))
	var r result
	select {
	case r = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("member a never started")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { _ = r.m.Stop(context.Background()) })
	for _, addr := range []string{internal, r.m.ClientAddr()} {
		if rs, ok := getReady(t, addr); !ok || rs.code != 200 || !rs.body.Ready {
			t.Errorf("/ready on %s once stable: %+v", addr, rs)
		}
	}

	text := logs.String()
	var config map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %d is not JSON: %q: %v", i+1, line, err)
		}
		if rec["msg"] == "cluster: configuration" {
			config = rec
		}
	}
	if strings.Contains(text, "cluster-s3cret") {
		t.Error("the cluster password is in the log")
	}
	if config == nil || !strings.Contains(config["config"].(string), `"clusterPassword":"***"`) {
		t.Errorf("cluster configuration line: %v", config)
	}
	for _, msg := range []string{`"msg":"cluster: status"`, `"msg":"cluster: peer arrived"`, `"msg":"happn: session logged in"`} {
		if !strings.Contains(text, msg) {
			t.Errorf("no %s line in the log", msg)
		}
	}
}

// A dependency that never comes keeps /ready at 503 until the member gives
// up discovering.
func TestMemberReadinessDependencyNeverComes(t *testing.T) {
	a := testConfig("dep-never", "svc-a", map[string]int{"svc-never": 2}, newShared(t))
	a.Membership.DiscoverTimeout = 1500 * time.Millisecond
	port := freePort(t)
	a.Happn.Port = port
	internal := fmt.Sprintf("127.0.0.1:%d", port)
	done := make(chan error, 1)
	go func() {
		m, err := Create(context.Background(), a)
		if m != nil {
			_ = m.Stop(context.Background())
		}
		done <- err
	}()
	var rs readyState
	eventually(t, 5*time.Second, "/ready to name the missing service", func() bool {
		var ok bool
		rs, ok = getReady(t, internal)
		return ok && rs.body.Missing.Cluster != nil && len(rs.body.Missing.Cluster.Dependencies) > 0
	})
	if rs.code != 503 || rs.body.Missing.Cluster.Dependencies[0] != (ServiceCount{Service: "svc-never", Have: 0, Need: 2}) {
		t.Errorf("/ready: %d %+v", rs.code, rs.body.Missing.Cluster)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "discover timeout") {
			t.Fatalf("Create: %v, want a discover timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the member never gave up")
	}
}

// adder is a component that only one member runs.
type adder struct{}

func (adder) Add(a, b int) (int, error) { return a + b, nil }

func scrapeMember(t *testing.T, m *Member) promscrape.Samples {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := promscrape.Get(ctx, "http://"+m.ClientAddr()+happn.MetricsPath, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A call across members is counted on both sides: sent by the caller,
// run by the member that implements the method. Replicated events, security
// changes and the cluster gauges are counted too.
func TestClusterMetrics(t *testing.T) {
	shared := newShared(t)
	a := testConfig("dep-metrics", "svc-a", nil, shared)
	b := withEmitter(testConfig("dep-metrics", "svc-b", map[string]int{"svc-a": 1}, shared))
	b.Modules["adder"] = happner.ModuleConfig{Instance: adder{}}
	b.Components["adder"] = happner.ComponentConfig{}
	ms := startAll(t, a, b)
	ma, mb := ms[0], ms[1]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eventually(t, 5*time.Second, "member a to discover adder on b", func() bool { return len(ma.Implementors("adder", "")) == 1 })

	var sum int
	if err := ma.Call(ctx, Call{CallOptions: happner.CallOptions{Component: "adder", Method: "add", Arguments: []any{2, 3}}}, &sum); err != nil || sum != 5 {
		t.Fatalf("remote adder.add: %v %v", sum, err)
	}
	sa, sb := scrapeMember(t, ma), scrapeMember(t, mb)
	wantCluster := func(s promscrape.Samples, who string, want map[string]float64) {
		t.Helper()
		for _, m := range s.Mismatches(want) {
			t.Errorf("%s: %s", who, m)
		}
	}
	wantCluster(sa, "a", map[string]float64{
		`happner_cluster_remote_calls_total{component="adder",method="add",status="ok"}`:     1,
		`happner_cluster_remote_call_duration_seconds_count{component="adder",method="add"}`: 1,
		`happner_cluster_peers`:                      1,
		`happner_cluster_members{status="UNSTABLE"}`: 0,
	})
	// b's record says STABLE from its next pulse
	eventually(t, 5*time.Second, "a to see both members stable", func() bool {
		return scrapeMember(t, ma)[`happner_cluster_members{status="STABLE"}`] == 2
	})
	if _, ok := sa[`happner_exchange_calls_total{component="adder",method="add",status="ok"}`]; ok {
		t.Error("the caller counts the call as run here")
	}
	wantCluster(sb, "b", map[string]float64{
		`happner_exchange_calls_total{component="adder",method="add",status="ok"}`: 1,
		`happner_cluster_peers`: 1,
	})
	if sa[`happner_store_operation_duration_seconds_count{op="set",store="shared"}`] < 1 {
		t.Error("the shared store's operations are not timed")
	}

	// an event emitted on b reaches a's subscribers through replication
	inB := sb[`happner_cluster_replicated_events_total{direction="out"}`]
	inA := sa[`happner_cluster_replicated_events_total{direction="in"}`]
	if err := mb.Mesh().Exchange().Call(ctx, "emitter", "fire", []any{"metered", false}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the event to be replicated to a", func() bool {
		return scrapeMember(t, ma)[`happner_cluster_replicated_events_total{direction="in"}`] == inA+1
	})
	if got := scrapeMember(t, mb)[`happner_cluster_replicated_events_total{direction="out"}`]; got != inB+1 {
		t.Errorf("b replicated %v events out, want %v", got, inB+1)
	}

	// a security change made on a is applied on b
	secOut := sa[`happner_cluster_security_changes_total{direction="out"}`]
	if _, err := ma.Mesh().Server().Security().UpsertUser(ctx, security.User{Username: "carol", Password: "pw"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the security change to reach b", func() bool {
		return scrapeMember(t, mb)[`happner_cluster_security_changes_total{direction="in"}`] >= 1
	})
	if got := scrapeMember(t, ma)[`happner_cluster_security_changes_total{direction="out"}`]; got <= secOut {
		t.Errorf("a sent %v security changes, want more than %v", got, secOut)
	}
}
