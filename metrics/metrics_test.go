package metrics_test

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/happner-go/happner/internal/promscrape"
	"github.com/happner-go/happner/metrics"
)

// scrape serves m's handler once and parses the answer.
func scrape(t *testing.T, m *metrics.Metrics) promscrape.Samples {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	s, err := promscrape.Parse(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEveryFamilyIsExposed(t *testing.T) {
	m := metrics.New(metrics.Info{Version: "v1.2.3"})
	m.Action("set") // labelled families appear once a series is bound
	m.ReportCluster(func() metrics.ClusterState {
		return metrics.ClusterState{Members: map[string]int{"STABLE": 2, "DISCOVERING": 0}, Peers: 1}
	})
	s := scrape(t, m)
	fam := s.Families()
	for _, name := range []string{
		"happner_build_info", "happner_connections", "happner_sessions", "happner_logins_total",
		"happner_requests_total", "happner_request_duration_seconds", "happner_publications_total",
		"happner_deliveries_total", "happner_slow_consumer_disconnects_total", "happner_pending_bytes",
		"happner_security_denials_total", "happner_cluster_members", "happner_cluster_peers",
		"happner_cluster_replicated_events_total", "happner_cluster_security_changes_total",
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if !fam[name] {
			t.Errorf("family %s is not exposed", name)
		}
	}
	build := `happner_build_info{goversion="` + runtime.Version() + `",version="v1.2.3"}`
	if s[build] != 1 {
		t.Errorf("%s = %v, want 1", build, s[build])
	}
	for _, r := range []string{"ok", "bad_credentials", "locked", "denied", "error"} {
		if v, ok := s[`happner_logins_total{result="`+r+`"}`]; !ok || v != 0 {
			t.Errorf("logins result %s = %v, %v; want a 0 series", r, v, ok)
		}
	}
	for _, action := range []string{"http", "call"} {
		if v, ok := s[`happner_security_denials_total{action="`+action+`"}`]; !ok || v != 0 {
			t.Errorf("denials of %s = %v, %v; want a 0 series", action, v, ok)
		}
	}
	if s[`happner_cluster_members{status="STABLE"}`] != 2 || s["happner_cluster_peers"] != 1 {
		t.Errorf("cluster gauges: %v %v", s[`happner_cluster_members{status="STABLE"}`], s["happner_cluster_peers"])
	}
}

func TestInstrumentsCount(t *testing.T) {
	m := metrics.New(metrics.Info{})
	set := m.Action("set")
	for seq := int64(1); seq <= 2*metrics.SampleEvery+1; seq++ {
		set.Done(set.Start(seq), metrics.StatusOK)
	}
	get := m.Action("get")
	get.Done(get.Start(1), metrics.StatusDenied)
	get.Done(get.Start(2), metrics.StatusError)
	m.Login(metrics.LoginBadCredentials)
	m.Login(metrics.LoginBadCredentials)
	m.Login(metrics.LoginOK)
	m.Published(10, 3)
	m.Published(0, 0)
	m.SlowConsumer()
	m.Denied("http")
	call := m.Call("calc", "add")
	call.Done(2*time.Millisecond, metrics.StatusOK)
	call.Done(time.Millisecond, metrics.StatusTimeout)
	call.Count(metrics.StatusDenied)
	m.RemoteCall("calc", "add").Done(time.Millisecond, metrics.StatusOK)
	m.RemoteCall("calc", "add").Done(time.Millisecond, metrics.StatusError)
	m.Replicated(metrics.In, 4)
	m.SecurityChanges(metrics.Out, 2)
	op := m.StoreOp("default", "set")
	for i := 0; i < metrics.SampleEvery; i++ {
		op.Done(op.Start(), nil)
	}
	op.Done(op.Start(), errors.New("disk full"))
	stop := m.ReportServer(func() metrics.ServerState {
		return metrics.ServerState{Connections: 3, WebsocketSessions: 2, LocalSessions: 1, PendingBytes: 100}
	})
	m.ReportServer(func() metrics.ServerState { return metrics.ServerState{Connections: 1, PendingBytes: 20} })

	s := scrape(t, m)
	want := map[string]float64{
		`happner_requests_total{action="set",status="ok"}`:                                 2*metrics.SampleEvery + 1,
		`happner_request_duration_seconds_count{action="set"}`:                             3, // requests 1, 17 and 33
		`happner_requests_total{action="get",status="denied"}`:                             1,
		`happner_requests_total{action="get",status="error"}`:                              1,
		`happner_request_duration_seconds_count{action="get"}`:                             1,
		`happner_security_denials_total{action="get"}`:                                     1,
		`happner_security_denials_total{action="http"}`:                                    1,
		`happner_logins_total{result="bad_credentials"}`:                                   2,
		`happner_logins_total{result="ok"}`:                                                1,
		`happner_publications_total`:                                                       2,
		`happner_deliveries_total`:                                                         10,
		`happner_cluster_replicated_events_total{direction="out"}`:                         3,
		`happner_cluster_replicated_events_total{direction="in"}`:                          4,
		`happner_cluster_security_changes_total{direction="out"}`:                          2,
		`happner_slow_consumer_disconnects_total`:                                          1,
		`happner_exchange_calls_total{component="calc",method="add",status="ok"}`:          1,
		`happner_exchange_calls_total{component="calc",method="add",status="timeout"}`:     1,
		`happner_exchange_calls_total{component="calc",method="add",status="denied"}`:      1,
		`happner_exchange_call_duration_seconds_count{component="calc",method="add"}`:      2,
		`happner_cluster_remote_calls_total{component="calc",method="add",status="ok"}`:    1,
		`happner_cluster_remote_calls_total{component="calc",method="add",status="error"}`: 1,
		`happner_store_operation_duration_seconds_count{op="set",store="default"}`:         2,
		`happner_store_errors_total{store="default"}`:                                      1,
		`happner_connections`:            4,
		`happner_sessions{kind="ws"}`:    2,
		`happner_sessions{kind="local"}`: 1,
		`happner_pending_bytes`:          120,
	}
	for k, v := range want {
		if got, ok := s[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if s[`happner_exchange_call_duration_seconds_sum{component="calc",method="add"}`] != 0.003 {
		t.Errorf("call duration sum = %v, want 0.003", s[`happner_exchange_call_duration_seconds_sum{component="calc",method="add"}`])
	}
	stop()
	if got := scrape(t, m)["happner_connections"]; got != 1 {
		t.Errorf("connections after one server stopped reporting = %v, want 1", got)
	}
}

// TestNilMetricsCostNothing: a node with metrics off holds a nil *Metrics
// and nil instruments; every call is a no-op.
func TestNilMetricsCostNothing(t *testing.T) {
	var m *metrics.Metrics
	if m.Registry() != nil {
		t.Error("nil metrics has a registry")
	}
	a := m.Action("set")
	if st := a.Start(1); st != metrics.NotTimed {
		t.Errorf("nil action timed a request: %v", st)
	}
	a.Done(metrics.NotTimed, metrics.StatusOK)
	m.Call("c", "m").Done(time.Second, metrics.StatusOK)
	m.Call("c", "m").Count(metrics.StatusDenied)
	m.RemoteCall("c", "m").Done(time.Second, metrics.StatusOK)
	op := m.StoreOp("s", "get")
	op.Done(op.Start(), errors.New("x"))
	m.Login(metrics.LoginOK)
	m.Published(1, 1)
	m.SlowConsumer()
	m.Denied("http")
	m.Replicated(metrics.In, 1)
	m.SecurityChanges(metrics.In, 1)
	m.ReportServer(func() metrics.ServerState { return metrics.ServerState{} })()
	m.ReportCluster(func() metrics.ClusterState { return metrics.ClusterState{} })()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("nil metrics handler answered %d, want 404", rec.Code)
	}
	allocs := testing.AllocsPerRun(100, func() {
		a.Done(a.Start(1), metrics.StatusOK)
	})
	if allocs != 0 {
		t.Errorf("nil action allocates %v per request", allocs)
	}
}

// TestRequestPathDoesNotAllocate: the bound instruments of a request
// allocate nothing, timed or not.
func TestRequestPathDoesNotAllocate(t *testing.T) {
	m := metrics.New(metrics.Info{})
	a := m.Action("set")
	op := m.StoreOp("default", "set")
	seq := int64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		st := a.Start(seq)
		o := op.Start()
		op.Done(o, nil)
		a.Done(st, metrics.StatusOK)
		m.Published(1, 0)
	})
	if allocs != 0 {
		t.Errorf("request instruments allocate %v per request", allocs)
	}
}

func TestOptions(t *testing.T) {
	off, on := false, true
	for _, c := range []struct {
		o    metrics.Options
		want bool
	}{{metrics.Options{}, true}, {metrics.Options{Enabled: &on}, true}, {metrics.Options{Enabled: &off}, false}} {
		if c.o.On() != c.want {
			t.Errorf("%+v.On() = %v", c.o, !c.want)
		}
	}
}
