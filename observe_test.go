package happner_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/internal/promscrape"
	"github.com/happner-go/happner/meshclient"
	"github.com/happner-go/happner/metrics"
)

// meshScrape reads a mesh's /metrics.
func meshScrape(t *testing.T, addr string) promscrape.Samples {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := promscrape.Get(ctx, "http://"+addr+happn.MetricsPath, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The member that runs a method counts each call by status and times it;
// a call that outlasts the exchange timeout counts as a timeout.
func TestExchangeCallMetrics(t *testing.T) {
	cfg := testConfig(&calc{})
	cfg.SetOptions.Timeout = 300
	m := startMesh(t, cfg)
	mc := login(t, m, meshclient.Options{})
	ctx := tctx(t)
	const calls = 5
	for i := range calls {
		var sum int
		if err := mc.Call(ctx, "calc", "add", []any{i, 1}, &sum); err != nil || sum != i+1 {
			t.Fatalf("calc.add: %v %v", sum, err)
		}
	}
	if err := mc.Call(ctx, "calc", "fail", nil); err == nil {
		t.Fatal("calc.fail succeeded")
	}
	// the caller gives up after 300 ms; the method still finishes
	if err := mc.Call(ctx, "calc", "slow", []any{600}); err == nil {
		t.Fatal("calc.slow did not time out")
	}
	// calls made in-process run the method here too
	if _, err := m.Exchange().Results(ctx, "calc", "add", 1, 2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var s promscrape.Samples
	for {
		s = meshScrape(t, m.Addr())
		if s[`happner_exchange_calls_total{component="calc",method="slow",status="timeout"}`] == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	wantSeries(t, s, map[string]float64{
		`happner_exchange_calls_total{component="calc",method="add",status="ok"}`:       calls + 1,
		`happner_exchange_calls_total{component="calc",method="add",status="error"}`:    0,
		`happner_exchange_call_duration_seconds_count{component="calc",method="add"}`:   calls + 1,
		`happner_exchange_calls_total{component="calc",method="fail",status="error"}`:   1,
		`happner_exchange_calls_total{component="calc",method="slow",status="timeout"}`: 1,
		`happner_exchange_calls_total{component="calc",method="slow",status="ok"}`:      0,
	})
	if sum := s[`happner_exchange_call_duration_seconds_sum{component="calc",method="slow"}`]; sum < 0.6 {
		t.Errorf("calc.slow took %vs by the histogram, want 0.6 at least", sum)
	}
	// the system components are bound too
	if _, ok := s[`happner_exchange_calls_total{component="security",method="addUser",status="ok"}`]; !ok {
		t.Error("the security component's methods are not bound")
	}
}

// A call that security refuses, over the websocket or in-process, counts
// as denied for the method it named.
func TestRefusedCallsAreCounted(t *testing.T) {
	m := secureMesh(t)
	ctx := tctx(t)
	bob := secLogin(t, m, "bob", "bobpw")
	if err := bob.Call(ctx, "vault", "open", []any{1, 2}); err == nil {
		t.Fatal("bob called vault.open")
	}
	x := m.Exchange()
	if err := x.Do(ctx, happner.CallOptions{Component: "vault", Method: "open", Arguments: []any{1, 2}, As: "bob"}); err == nil {
		t.Fatal("a call as bob was allowed")
	}
	// a request sent straight to the exchange path, as other clients do
	raw, err := client.New(ctx, client.Options{URL: "http://" + m.Addr(), Username: "bob", Password: "bobpw"})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Set(ctx, "/_exchange/requests/secMesh/vault/open", map[string]any{"callbackAddress": "/x", "args": []int{1, 2}}, client.NoStore()); err == nil {
		t.Fatal("bob's request was accepted")
	}
	alice := secLogin(t, m, "alice", "alicepw")
	if err := alice.Call(ctx, "vault", "open", []any{1, 2}); err != nil {
		t.Fatal(err)
	}
	tok := adminToken(t, m)
	s, err := promscrape.Get(ctx, "http://"+m.Addr()+happn.MetricsPath, tok)
	if err != nil {
		t.Fatal(err)
	}
	wantSeries(t, s, map[string]float64{
		`happner_exchange_calls_total{component="vault",method="open",status="denied"}`: 3,
		`happner_exchange_calls_total{component="vault",method="open",status="ok"}`:     1,
		`happner_security_denials_total{action="call"}`:                                 1, // the in-process call
		`happner_logins_total{result="ok"}`:                                             5, // the mesh's own client, bob twice, alice, the token
	})
	// bob's client was refused the subscription to the method's replies
	if s[`happner_security_denials_total{action="on"}`] != 1 {
		t.Errorf("bob's refused request is not a security denial: %v", s[`happner_security_denials_total{action="on"}`])
	}
}

// adminToken logs _ADMIN in over HTTP.
func adminToken(t *testing.T, m *happner.Mesh) string {
	t.Helper()
	_, body, _ := get(t, "http://"+m.Addr()+"/auth/login?username=_ADMIN&password=adminpw")
	var res struct{ Data string }
	if err := json.Unmarshal([]byte(body), &res); err != nil || res.Data == "" {
		t.Fatalf("admin login: %s", body)
	}
	return res.Data
}

func wantSeries(t *testing.T, s promscrape.Samples, want map[string]float64) {
	t.Helper()
	for _, m := range s.Mismatches(want) {
		t.Error(m)
	}
}

// A mesh that listens first is not ready until its components have
// started; /ready says so.
func TestMeshReadiness(t *testing.T) {
	cfg := testConfig(&calc{})
	cfg.ListenFirst = true
	var code int
	var body string
	cfg.BeforeStart = func(ctx context.Context, m *happner.Mesh) error {
		code, body, _ = get(t, "http://"+m.Addr()+happn.ReadyPath)
		return nil
	}
	m := startMesh(t, cfg)
	if code != 503 || !strings.Contains(body, `"mesh":{"state":"starting"}`) {
		t.Errorf("/ready while starting: %d %s", code, body)
	}
	if code, body, _ := get(t, "http://"+m.Addr()+happn.ReadyPath); code != 200 {
		t.Errorf("/ready once started: %d %s", code, body)
	}
	if code, _, _ := get(t, "http://"+m.Addr()+happn.HealthPath); code != 200 {
		t.Errorf("/health: %d", code)
	}
}

// A mesh with metrics off binds nothing and serves no /metrics.
func TestMeshMetricsOff(t *testing.T) {
	cfg := testConfig(&calc{})
	off := false
	cfg.Happn.MetricsOptions = metrics.Options{Enabled: &off}
	m := startMesh(t, cfg)
	var sum int
	if err := m.Exchange().Call(tctx(t), "calc", "add", []any{1, 2}, &sum); err != nil || sum != 3 {
		t.Fatalf("calc.add: %v %v", sum, err)
	}
	if code, _, _ := get(t, "http://"+m.Addr()+happn.MetricsPath); code == 200 {
		t.Error("/metrics served with metrics off")
	}
}

func TestMeshConfigFileObservabilityKeys(t *testing.T) {
	cfg, err := happner.ParseConfig([]byte(`{"name":"m","metrics":{"addr":"127.0.0.1:9100"},"log":{"format":"json","level":"warn"},"happn":{"metrics":{"enabled":false}}}`), "json")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Happn.MetricsOptions.On() || cfg.Happn.MetricsOptions.Addr != "127.0.0.1:9100" || cfg.Happn.Log.Format != "json" || cfg.Happn.Log.Level != "warn" {
		t.Errorf("top-level keys: %+v %+v", cfg.Happn.MetricsOptions, cfg.Happn.Log)
	}
	cfg, err = happner.ParseConfig([]byte("name: m\nhappn:\n  metrics:\n    enabled: false\n"), "yaml")
	if err != nil || cfg.Happn.MetricsOptions.On() {
		t.Errorf("happn section keys: %+v %v", cfg.Happn.MetricsOptions, err)
	}
	if _, err := happner.ParseConfig([]byte(`{"log":{"format":"xml"}}`), "json"); err == nil {
		t.Error("a bad log format is accepted")
	}
}
