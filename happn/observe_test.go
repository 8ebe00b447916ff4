package happn

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/internal/promscrape"
	"github.com/happner-go/happner/logging"
	"github.com/happner-go/happner/metrics"
)

// scrape reads the server's /metrics (with a bearer token when set).
func scrape(t *testing.T, addr, token string) promscrape.Samples {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := promscrape.Get(ctx, "http://"+addr+MetricsPath, token)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// httpToken logs in over HTTP and returns the session token.
func httpToken(t *testing.T, srv *Server, user, password string) string {
	t.Helper()
	code, body := httpGet(t, "http://"+srv.Addr()+"/auth/login?username="+user+"&password="+password, nil)
	var res struct{ Data string }
	if code != 200 || json.Unmarshal([]byte(body), &res) != nil || res.Data == "" {
		t.Fatalf("login %s over http: %d %s", user, code, body)
	}
	return res.Data
}

// wantSamples checks exact values of series.
func wantSamples(t *testing.T, s promscrape.Samples, want map[string]float64) {
	t.Helper()
	for _, m := range s.Mismatches(want) {
		t.Error(m)
	}
}

// After a known workload the counters hold exactly what happened: sets,
// gets, refused requests, logins by result, publications and deliveries.
func TestMetricsAfterAKnownWorkload(t *testing.T) {
	srv := secureServer(t, Config{Security: security.Config{AccountLockout: security.LockoutConfig{Attempts: 3, RetryInterval: security.Duration(time.Minute)}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const sets, gets, denied, badLogins = 25, 7, 2, 3

	admin := connect(t, srv, "_ADMIN", "happn")
	delivered := make(chan struct{}, sets)
	if _, err := admin.On(ctx, "/public/alice/*", client.OnOptions{}, func(client.Event) { delivered <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	alice := connect(t, srv, "alice", "secret")
	for i := range sets {
		if _, err := alice.Set(ctx, fmt.Sprintf("/public/alice/k%d", i), map[string]int{"v": i}); err != nil {
			t.Fatal(err)
		}
	}
	for range gets {
		if _, err := alice.Get(ctx, "/public/alice/k1"); err != nil {
			t.Fatal(err)
		}
	}
	for range denied {
		_, err := alice.Set(ctx, "/private/x", map[string]int{"v": 1})
		wantDenied(t, err, "unauthorized")
	}
	for range sets {
		select {
		case <-delivered:
		case <-ctx.Done():
			t.Fatal("publications not delivered")
		}
	}
	login := func(user, password string) error {
		c, err := client.New(ctx, client.Options{URL: "http://" + srv.Addr(), Username: user, Password: password, Reconnect: client.Reconnect{Disabled: true}})
		if err == nil {
			c.Close()
		}
		return err
	}
	for range badLogins {
		if err := login("bob", "guess"); err == nil {
			t.Fatal("a bad password logged in")
		}
	}
	for range badLogins {
		if err := login("alice", "guess"); err == nil {
			t.Fatal("a bad password logged in")
		}
	}
	if err := login("alice", "secret"); err == nil {
		t.Fatal("a locked out account logged in")
	}

	token := httpToken(t, srv, "_ADMIN", "happn")
	// the refused logins' sockets close on the client's side first: the
	// server may still be dropping the last one
	s := scrape(t, srv.Addr(), token)
	for deadline := time.Now().Add(5 * time.Second); s[`happner_sessions{kind="ws"}`] != 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		s = scrape(t, srv.Addr(), token)
	}
	wantSamples(t, s, map[string]float64{
		`happner_requests_total{action="set",status="ok"}`:     sets,
		`happner_requests_total{action="set",status="denied"}`: denied,
		`happner_requests_total{action="set",status="error"}`:  0,
		`happner_requests_total{action="get",status="ok"}`:     gets,
		`happner_requests_total{action="on",status="ok"}`:      1,
		`happner_security_denials_total{action="set"}`:         denied,
		`happner_logins_total{result="ok"}`:                    3, // admin, alice, and the http login
		`happner_logins_total{result="bad_credentials"}`:       2 * badLogins,
		`happner_logins_total{result="locked"}`:                1,
		`happner_publications_total`:                           sets,
		`happner_deliveries_total`:                             sets,
		`happner_sessions{kind="ws"}`:                          2,
		`happner_sessions{kind="local"}`:                       0,
		`happner_slow_consumer_disconnects_total`:              0,
	})
	// durations are sampled: the first request of each action in each
	// session and one in SampleEvery of that action after it (alice's
	// sets 1 and 17, her first get, admin's on)
	for action, want := range map[string]float64{"set": 2, "get": 1, "on": 1} {
		if n := s[`happner_request_duration_seconds_count{action="`+action+`"}`]; n != want {
			t.Errorf("timed %s requests = %v, want %v", action, n, want)
		}
	}
	if got, want := s[`happner_request_duration_seconds_count{action="configure-session"}`], float64(2+2*badLogins+1); got != want {
		t.Errorf("every session's first request is timed: %v configure-session, want %v", got, want)
	}
	if s["happner_connections"] < 2 {
		t.Errorf("connections = %v, want the 2 websockets at least", s["happner_connections"])
	}
	for _, name := range []string{"happner_pending_bytes", "happner_build_info", "happner_store_operation_duration_seconds", "go_goroutines", "process_resident_memory_bytes"} {
		if !s.Families()[name] {
			t.Errorf("%s is not exposed", name)
		}
	}
	if s[`happner_store_operation_duration_seconds_count{op="set",store="default"}`] < 1 {
		t.Error("no store set timed")
	}
}

// /metrics needs a token on a secure server; /health and /ready never do;
// the separate listener serves all three without one.
func TestObservabilityEndpointsOnASecureServer(t *testing.T) {
	srv := secureServer(t, Config{MetricsOptions: metrics.Options{Addr: "127.0.0.1:0"}})
	base := "http://" + srv.Addr()
	if code, body := httpGet(t, base+MetricsPath, nil); code != 401 {
		t.Errorf("/metrics without a token: %d %s", code, body)
	}
	token := httpToken(t, srv, "alice", "secret")
	auth := http.Header{"Authorization": {"Bearer " + token}}
	if code, _ := httpGet(t, base+MetricsPath, auth); code != 403 {
		t.Errorf("/metrics for a user without /@HTTP/metrics: %d, want 403", code)
	}
	if err := srv.Security().UpsertPermission(context.Background(), "readers", "/@HTTP/metrics", "get", true); err != nil {
		t.Fatal(err)
	}
	if code, body := httpGet(t, base+MetricsPath, auth); code != 200 || !strings.Contains(body, "happner_requests_total") {
		t.Errorf("/metrics with a token: %d", code)
	}
	s := scrape(t, srv.Addr(), token)
	if s[`happner_security_denials_total{action="http"}`] != 1 {
		t.Errorf("refused /metrics not counted: %v", s[`happner_security_denials_total{action="http"}`])
	}
	for _, addr := range []string{srv.Addr(), srv.MetricsAddr()} {
		if code, body := httpGet(t, "http://"+addr+HealthPath, nil); code != 200 || !strings.Contains(body, `"ok"`) {
			t.Errorf("%s/health: %d %s", addr, code, body)
		}
		if code, body := httpGet(t, "http://"+addr+ReadyPath, nil); code != 200 || !strings.Contains(body, `"ready":true`) {
			t.Errorf("%s/ready: %d %s", addr, code, body)
		}
	}
	if srv.MetricsAddr() == "" || srv.MetricsAddr() == srv.Addr() {
		t.Fatalf("no separate metrics listener: %q", srv.MetricsAddr())
	}
	if code, body := httpGet(t, "http://"+srv.MetricsAddr()+MetricsPath, nil); code != 200 || !strings.Contains(body, "happner_build_info") {
		t.Errorf("separate listener /metrics: %d", code)
	}
	if code, _ := httpGet(t, "http://"+srv.MetricsAddr()+"/primus", nil); code != 404 {
		t.Errorf("the separate listener serves more than metrics, health and readiness: %d", code)
	}
}

// A server with metrics off has no /metrics, and still /health and /ready.
func TestMetricsOff(t *testing.T) {
	off := false
	srv := startServer(t, Config{MetricsOptions: metrics.Options{Enabled: &off}})
	if srv.met != nil || srv.cfg.Metrics != nil {
		t.Fatal("metrics created although disabled")
	}
	base := "http://" + srv.Addr()
	if code, _ := httpGet(t, base+MetricsPath, nil); code != 404 {
		t.Errorf("/metrics with metrics off: %d, want 404", code)
	}
	if code, _ := httpGet(t, base+HealthPath, nil); code != 200 {
		t.Errorf("/health: %d", code)
	}
	c := connect(t, srv, "", "")
	if _, err := c.Set(context.Background(), "/a", map[string]int{"v": 1}); err != nil {
		t.Fatal(err)
	}
}

// /ready is 503 with what is missing until the server listens and every
// check passes, and again once it stops; /health is 503 once it stops.
func TestReadiness(t *testing.T) {
	srv, err := New(Config{Host: "127.0.0.1", Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ready := func() (int, readyBody) {
		rec := httptest.NewRecorder()
		srv.serveReady(rec, httptest.NewRequest("GET", ReadyPath, nil))
		var b readyBody
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
			t.Fatalf("/ready body %q: %v", rec.Body, err)
		}
		return rec.Code, b
	}
	if code, b := ready(); code != 503 || b.Ready || b.Missing["happn"] != "not listening yet" {
		t.Errorf("before Start: %d %+v", code, b)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, b := ready(); code != 200 || !b.Ready || len(b.Missing) != 0 {
		t.Errorf("after Start: %d %+v", code, b)
	}
	remove := srv.AddReadyCheck("replica", func() (bool, any) { return false, map[string]int{"have": 1, "need": 2} })
	code, body := httpGet(t, "http://"+srv.Addr()+ReadyPath, nil)
	if code != 503 || !strings.Contains(body, `"replica":{"have":1,"need":2}`) {
		t.Errorf("with a failing check: %d %s", code, body)
	}
	remove()
	if code, _ := ready(); code != 200 {
		t.Errorf("check removed: %d", code)
	}
	if err := srv.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, b := ready(); code != 503 || b.Missing["happn"] != "stopping" {
		t.Errorf("after Stop: %d %+v", code, b)
	}
	rec := httptest.NewRecorder()
	srv.serveHealth(rec, httptest.NewRequest("GET", HealthPath, nil))
	if rec.Code != 503 {
		t.Errorf("/health after Stop: %d", rec.Code)
	}
}

// A JSON log is one JSON object per line, at every level; it shows the
// configuration with secrets masked, each session's life at debug, failed
// logins at warn with the user and address, and never a password.
func TestJSONLog(t *testing.T) {
	var out promscrape.SyncBuffer
	log, err := logging.New(&out, logging.Options{Format: "json", Level: "debug"})
	if err != nil {
		t.Fatal(err)
	}
	srv := secureServer(t, Config{Logger: log, AdminPassword: "adm1n-Pw"})
	ctx := context.Background()
	alice := connect(t, srv, "alice", "secret")
	if _, err := alice.Set(ctx, "/public/alice/x", map[string]int{"v": 1}); err != nil {
		t.Fatal(err)
	}
	_, err = alice.Get(ctx, "/private/x")
	wantDenied(t, err, "unauthorized")
	_, err = client.New(ctx, client.Options{URL: "http://" + srv.Addr(), Username: "alice", Password: "wrong-pw", Reconnect: client.Reconnect{Disabled: true}})
	if err == nil {
		t.Fatal("bad password logged in")
	}
	alice.Close()
	waitUntil(t, "alice's session to end", func() bool { return srv.Sessions() == 0 })
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	text := out.String()
	seen := map[string][]map[string]any{}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d is not JSON: %q: %v", i+1, line, err)
		}
		msg, _ := rec["msg"].(string)
		seen[msg] = append(seen[msg], rec)
	}
	for _, secret := range []string{"adm1n-Pw", "secret", "wrong-pw"} {
		if strings.Contains(text, secret) {
			t.Errorf("the log holds the password %q", secret)
		}
	}
	if c := seen["happn: configuration"]; len(c) != 1 || c[0]["level"] != "INFO" || !strings.Contains(c[0]["config"].(string), `"adminPassword":"***"`) {
		t.Errorf("configuration line: %v", c)
	}
	failed := seen["happn: login failed"]
	if len(failed) != 1 || failed[0]["level"] != "WARN" || failed[0]["user"] != "alice" || failed[0]["remote"] != "127.0.0.1" || failed[0]["result"] != "bad_credentials" {
		t.Errorf("failed login line: %v", failed)
	}
	for _, msg := range []string{"happn: session connected", "happn: session logged in", "happn: session disconnected"} {
		found := false
		for _, rec := range seen[msg] {
			if rec["level"] == "DEBUG" && rec["remote"] == "127.0.0.1" && rec["session"] != "" {
				found = found || msg == "happn: session connected" || rec["user"] == "alice"
			}
		}
		if !found {
			t.Errorf("no debug line %q for alice: %v", msg, seen[msg])
		}
	}
	var refused []map[string]any
	for _, rec := range seen["happn: request refused"] {
		if rec["action"] != "login" {
			refused = append(refused, rec)
		}
	}
	if len(refused) != 1 || refused[0]["level"] != "DEBUG" || refused[0]["user"] != "alice" || refused[0]["action"] != "get" || refused[0]["path"] != "/private/x" {
		t.Errorf("refused request line: %v", refused)
	}
}

// A subscriber that stops reading is disconnected once maxPending bytes
// wait for it; the disconnection is counted and logged.
func TestSlowConsumerIsCounted(t *testing.T) {
	var out promscrape.SyncBuffer
	log, err := logging.New(&out, logging.Options{Level: "warn"})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, Config{MaxPending: 1 << 20, Logger: log})
	// a small receive buffer, so that the kernel does not absorb megabytes
	// on the subscriber's behalf
	dialer := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(8 << 10)
		}
		return c, err
	}}
	ws, resp, err := dialer.Dial("ws://"+srv.Addr()+"/primus", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	slow := &rawClient{t: t, ws: ws}
	slow.handshake()
	slow.send(`{"action":"on","eventId":4,"path":"/ALL@/flood/*","data":null,"options":{"event_type":"all","count":0}}`)
	if m := meta(slow.recvJSON()); m["status"] != "ok" {
		t.Fatalf("subscribe: %v", m)
	}
	pub := connect(t, srv, "", "")
	payload := map[string]string{"v": strings.Repeat("x", 256<<10)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// the subscriber is closed at once; its socket goes when the close
	// frame is out or the write times out
	for scrape(t, srv.Addr(), "")["happner_slow_consumer_disconnects_total"] == 0 {
		if _, err := pub.Set(ctx, "/flood/x", payload, client.NoStore(), client.With("noDataResponse", true)); err != nil {
			t.Fatalf("publishing until the subscriber falls behind: %v", err)
		}
	}
	if got := scrape(t, srv.Addr(), "")["happner_slow_consumer_disconnects_total"]; got != 1 {
		t.Errorf("slow consumer disconnects = %v, want 1", got)
	}
	if !strings.Contains(out.String(), "happn: slow consumer disconnected") {
		t.Errorf("slow consumer not logged: %s", out.String())
	}
}

func TestConfigFileObservabilityKeys(t *testing.T) {
	cfg, err := ParseConfig([]byte("metrics:\n  enabled: false\n  addr: 127.0.0.1:9100\nlog:\n  format: json\n  level: debug\n"), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MetricsOptions.On() || cfg.MetricsOptions.Addr != "127.0.0.1:9100" || cfg.Log.Format != "json" || cfg.Log.Level != "debug" {
		t.Errorf("parsed %+v %+v", cfg.MetricsOptions, cfg.Log)
	}
	cfg, err = ParseConfig([]byte(`{"port":1}`), "json")
	if err != nil || !cfg.MetricsOptions.On() {
		t.Errorf("metrics are on by default: %+v %v", cfg.MetricsOptions, err)
	}
	if _, err := ParseConfig([]byte(`{"log":{"level":"chatty"}}`), "json"); err == nil || !strings.Contains(err.Error(), "chatty") {
		t.Errorf("a bad log level is accepted: %v", err)
	}
}

// TestDurationSampleFollowsEachAction: a client whose requests alternate
// between two actions has both timed; a sample taken on the session's
// request count timed only one of them.
func TestDurationSampleFollowsEachAction(t *testing.T) {
	srv := startServer(t, Config{})
	ctx := context.Background()
	c := connect(t, srv, "", "")
	for i := range 2 * metrics.SampleEvery {
		if _, err := c.Set(ctx, fmt.Sprintf("/alternating/%d", i), map[string]int{"v": i}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "/alternating/0"); err != nil {
			t.Fatal(err)
		}
	}
	s := scrape(t, srv.Addr(), "")
	for _, action := range []string{"set", "get"} {
		if n := s[`happner_request_duration_seconds_count{action="`+action+`"}`]; n != 2 {
			t.Errorf("timed %s requests = %v, want 2 of %d", action, n, 2*metrics.SampleEvery)
		}
	}
}
